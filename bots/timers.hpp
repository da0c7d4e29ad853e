#pragma once
// timer_wheel: the bots' behaviour timers (think times, ack and read delays, keep-alives, ...),
// cheaper than CAF's delayed_send.
//
// Why: in CAF 0.17 every delayed_send goes through the actor system's clock thread: a mutex,
// a multimap insert and a futex wake of that thread per timer, then an enqueue when it fires.
// A bot run at 9,000 messages/s sets 2-3 timers per message, so the clock thread alone took
// 10-12 % of the bots' CPU, half of it in the kernel (futex wake-ups). The wheel has one thread
// that wakes at most once per tick (1 ms), only for ticks that have timers, and delivers every
// timer due in a tick in one go.
//
// Owns: the pending timers (each holds its receiver and its finished mailbox element) and its
// thread, which sleeps until the first tick with a timer in its slot (a bitmap of the slots
// finds it). A timer is a plain message to the actor, sent without a sender when due; what a
// stale timer means is the receiver's business (the bots carry epochs in their timers).
// Resolution: a timer fires at the tick nearest its due time (never before the next tick), so
// up to half a tick early or late, unbiased: think times of 50 ms and more keep their mean.
// Order: timers due in earlier ticks are delivered first; timers of one tick in the order
// they were set. A receiver that has quit drops its timers (CAF discards the message).
// Concurrency: schedule() may be called from any thread (a mutex, held for an insert; the
// thread is notified only when the new timer is due before it means to wake up: when timers
// flow, it wakes once a tick on its own and is never notified). Delivery runs on the wheel's
// thread, without the lock.
// Lifetime: stop() joins the thread and destroys the pending timers undelivered; it must run
// before the actor system is destroyed (the timers hold actor references). Idempotent; the
// destructor calls it. After stop(), schedule() drops what it is given.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/all.hpp>

namespace tidings::bots {

class timer_wheel {
public:
  using clock = std::chrono::steady_clock;

  /// `tick`: the resolution; `slots`: ticks one turn of the wheel covers (longer timers wait
  /// for their turn in their slot).
  explicit timer_wheel(std::chrono::microseconds tick = std::chrono::milliseconds(1),
                       std::size_t slots = 4096);
  ~timer_wheel();
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  /// Delivers `xs...` to `receiver` in `ms` milliseconds (0 or less: at the next tick).
  template <class Handle, class... Ts>
  void after_ms(double ms, const Handle& receiver, Ts&&... xs) {
    schedule(
        ms, caf::actor_cast<caf::strong_actor_ptr>(receiver),
        caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, std::forward<Ts>(xs)...));
  }
  void schedule(double ms, caf::strong_actor_ptr receiver, caf::mailbox_element_ptr content);

  /// Stops the thread and destroys the pending timers undelivered.
  void stop();
  /// Timers set and not yet delivered.
  std::size_t pending() const;

private:
  struct entry {
    uint64_t due = 0; ///< the tick it fires at
    caf::strong_actor_ptr receiver;
    caf::mailbox_element_ptr content;
  };

  static constexpr uint64_t never = UINT64_MAX;

  uint64_t tick_of(clock::time_point t) const;
  /// The first tick after done_ whose slot holds a timer (never if none).
  uint64_t next_busy_tick() const;
  void run();

  const clock::time_point epoch_;
  const std::chrono::microseconds tick_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::vector<entry>> slots_; ///< a multiple of 64
  std::vector<uint64_t> occupied_;        ///< a bit per slot: it holds a timer
  std::size_t count_ = 0;                 ///< entries in slots_
  uint64_t done_ = 0;                     ///< the last tick whose slot was delivered
  uint64_t wake_at_ = never;              ///< the tick the thread sleeps until
  bool stopped_ = false;
  std::thread thread_;
};

} // namespace tidings::bots
