#pragma once
// event_queue: the bots' reports to the collector (ev_send, ev_sent, ev_recv, ev_rcpt,
// ev_count, ...), batched.
//
// Why: a message costs the bots 5-7 reports; each was a CAF message of its own to the one
// collector actor (a mailbox element, an enqueue, often a wake-up of a worker for the
// collector, a resume). Now a bot appends the same message to this queue (a mutex held for a
// push_back) and the collector takes the whole queue at once: every few milliseconds on its
// own timer, and before it answers or marks anything (a phase, `outstand`, `report`, the
// once-a-second sample), so what it reports includes every event pushed before it was asked.
// Order: one sequence for every bot, the order of push(): a bot's reports reach the
// collector in the order it made them, as with direct sends. The collector handles each
// with the very handlers a direct send would reach.
// Concurrency: push() from any thread; take() by the one consumer (the collector).

#include <functional>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

namespace tidings::bots {

class event_queue {
public:
  /// `nudge` is called (outside the lock) by the push that finds the queue empty, so the
  /// collector takes the queue soon after (it arms the collector's `evtake` timer).
  explicit event_queue(std::function<void()> nudge = {}) : nudge_(std::move(nudge)) {}

  void push(caf::message event) {
    bool first = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      events_.push_back(std::move(event));
      first = !armed_;
      armed_ = true;
    }
    if (first && nudge_)
      nudge_();
  }

  /// Moves every event pushed so far into `into` (cleared first, its capacity reused).
  void take(std::vector<caf::message>& into) {
    into.clear();
    std::lock_guard<std::mutex> guard{mtx_};
    into.swap(events_);
    armed_ = false;
  }

private:
  std::function<void()> nudge_;
  std::mutex mtx_;
  std::vector<caf::message> events_;
  bool armed_ = false; ///< nudged since the last take
};

} // namespace tidings::bots
