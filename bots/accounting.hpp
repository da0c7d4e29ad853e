#pragma once
// accounting: every figure of a load test, kept by the collector actor (one owner, no locks).
//
// Each message a bot sends is identified inside the run by a message_key (sender bot, message
// number); the number also travels in the text body, so a recipient can name the message
// before the sender has seen its `sent`. Events may arrive in any order; a latency is recorded
// as soon as both of its ends are known.
//
// Definitions (docs/LOADTEST.md repeats them):
// - sent: acknowledged with a `sent` reply. received: a sent message that reached its
//   recipient at least once. lost = sent - received, counted once the run has drained.
// - repeat (allowed): a `msg` whose mid the recipient already had, pushed again on a *later*
//   session (unacknowledged items are re-pushed; acks are not confirmed by the protocol).
// - duplicate (a failure): the same mid twice on *one* session (the node pushes an item once
//   per session), or one message (sender, cid) arriving under a second mid (stored twice).
// - mid conflict (a failure): two `sent` replies for one cid naming different mids.
// - misdelivered (a failure): a message arriving at a bot it was not sent to.
// - receipts missing (a failure): a received message whose delivered receipt never reached
//   its sender.
// Memory: about 150 bytes per message sent; times are nanoseconds of the run clock.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "bots/histogram.hpp"

namespace tidings::bots {

/// A message's identity inside one run: sender bot index and the sender's message number.
using message_key = uint64_t;

constexpr message_key make_key(uint32_t sender, uint32_t number) {
  return (static_cast<uint64_t>(sender) << 32) | number;
}
constexpr uint32_t key_sender(message_key k) {
  return static_cast<uint32_t>(k >> 32);
}

/// The counters that move during a run, for progress lines and the timeline.
struct run_counters {
  uint64_t started = 0;   ///< sends begun (first attempts)
  uint64_t sent = 0;      ///< confirmed by `sent`
  uint64_t failed = 0;    ///< given up (an error that a retry cannot fix)
  uint64_t received = 0;  ///< distinct messages received (confirmed or not)
  uint64_t delivered = 0; ///< distinct delivered receipts
  uint64_t errors = 0;    ///< error frames of any code
  uint64_t live = 0;      ///< bots with an authenticated session now
};

class accounting {
public:
  explicit accounting(std::size_t bots);

  // -- messages ------------------------------------------------------------
  void on_send(message_key key, uint32_t to, bool media, int64_t t);
  void on_sent(message_key key, const std::string& mid, int64_t t);
  void on_send_failed(message_key key, const std::string& code);
  void on_received(message_key key, uint32_t at, const std::string& mid, int64_t t,
                   uint32_t session, bool after_ack);
  /// A `msg` that is not from this run (an earlier run's leftovers in a reused inbox).
  void on_stale_message() { ++stale_messages_; }
  /// A delivered (read == false) or read receipt that bot `at` received from bot `by`.
  void on_receipt(uint32_t at, int64_t by, bool read, const std::vector<std::string>& mids,
                  int64_t t);

  // -- connections, errors, counters ---------------------------------------
  void on_error(const std::string& code) {
    ++errors_[code];
    ++counters_.errors;
  }
  /// A bot's session was authenticated, `latency_ns` after it started connecting.
  void on_connected(uint32_t bot, int64_t latency_ns);
  /// A bot's connection ended; `opened`: the WebSocket was up; `expected`: the bot ended it.
  void on_closed(uint32_t bot, uint16_t code, const std::string& reason, bool opened,
                 bool expected);
  /// A connection refused explicitly (`overloaded` with a retry_ms), retried: not a failure.
  void on_refused(const std::string& code) { ++refused_[code]; }
  void count(const std::string& name, uint64_t n = 1) { counts_[name] += n; }

  // -- reading -------------------------------------------------------------
  const run_counters& counters() const { return counters_; }
  /// Work the drain still waits for: sends without an answer, sent messages not yet
  /// received, received messages without a delivered receipt.
  uint64_t outstanding() const;
  uint64_t live() const { return counters_.live; }

  /// Every figure: messages, receipts, latencies (ms), connections, errors, counters, and
  /// "failures" (a list of what makes the run fail; empty if it passed).
  nlohmann::json report() const;

  /// Latency percentiles (ms) of what was recorded since the last call: send -> sent
  /// ("sent_p50_ms", "sent_p99_ms") and send -> receive ("recv_p50_ms", "recv_p99_ms").
  nlohmann::json take_window();

  const latency_histogram& send_to_sent() const { return send_to_sent_; }
  const latency_histogram& send_to_receive() const { return send_to_receive_; }
  const latency_histogram& send_to_delivered() const { return send_to_delivered_; }

private:
  struct record {
    int64_t t_send = 0;
    int64_t t_sent = 0;
    int64_t t_recv = 0;
    int64_t t_delivered = 0;
    std::string mid;
    uint32_t to = 0;
    uint32_t receptions = 0;
    uint32_t last_session = 0;
    bool begun = false;
    bool confirmed = false;
    bool failed = false;
    bool media = false;
    bool delivered = false;
    bool read = false;
  };

  record& at(message_key key);
  void record_sent(uint64_t us);
  void record_receive(uint64_t us);
  void index_mid(const std::string& mid, message_key key);

  std::unordered_map<message_key, record> records_;
  std::unordered_map<std::string, message_key> by_mid_;
  std::vector<uint8_t> live_;

  run_counters counters_;
  uint64_t confirmed_unreceived_ = 0;
  uint64_t raw_received_ = 0;
  uint64_t repeats_ = 0;
  uint64_t repeats_after_ack_ = 0;
  uint64_t dup_same_session_ = 0;
  uint64_t dup_second_mid_ = 0;
  uint64_t mid_conflicts_ = 0;
  uint64_t sent_repeats_ = 0;
  uint64_t misdelivered_ = 0;
  uint64_t stale_messages_ = 0;
  uint64_t receipt_repeats_ = 0;
  uint64_t receipts_unmatched_ = 0;
  uint64_t receipts_misrouted_ = 0;
  uint64_t read_receipts_ = 0;
  uint64_t connects_ = 0;
  uint64_t connect_failures_ = 0;
  uint64_t max_live_ = 0;
  std::map<std::string, uint64_t> errors_;
  std::map<std::string, uint64_t> failed_by_code_;
  std::map<std::string, uint64_t> closes_;
  std::map<std::string, uint64_t> connect_errors_;
  std::map<std::string, uint64_t> refused_;
  std::map<std::string, uint64_t> counts_;

  latency_histogram send_to_sent_;
  latency_histogram send_to_receive_;
  latency_histogram send_to_delivered_;
  latency_histogram connect_;
  latency_histogram window_sent_;    ///< since the last take_window()
  latency_histogram window_receive_; ///< since the last take_window()
};

} // namespace tidings::bots
