#pragma once
// admission: how many WebSocket sessions may be logging in at once, and when a refused client
// should come back.
//
// A session is *pending* from its upgrade request (`GET /v1/ws` with Upgrade) until the
// application has welcomed it (`ws_peer::admitted`) or the connection has ended. At most
// `limit` are pending; an upgrade past it is refused with `503 overloaded` and a `retry_ms`.
// The retry is a reservation in a virtual queue, not a fixed delay: each refusal takes the
// next free place after the previous refusal's, one place per 1/rate seconds, where rate is
// the welcomes of the last second, at least `assumed_rate` (while a node is still busy with
// other work it welcomes few: clients told to come back too early are refused again, cheaply,
// while clients told to come back too late leave the node idle). A reconnect storm thus spreads
// its refused clients over the time the node needs to log them in, instead of having them all
// come back (and be refused again) after the same second. Retries are jittered (±10 %), at
// least `min_retry` and at most `max_retry`.
// Concurrency: enter() and leave() are lock-free (every login passes them); retry_ms() takes
// a mutex (refusals only). Time is passed in by the caller.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>

namespace tidings::net::detail {

class admission {
public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds min_retry{250};
  static constexpr std::chrono::milliseconds max_retry{30'000};
  /// Welcomes a second assumed at least (one core logs in ≈ 4,000 a second: docs/BENCHMARKS.md).
  static constexpr double assumed_rate = 1000;

  /// `limit` 0: no limit. `gauge`, if set, holds the pending count (for /metrics).
  admission(std::size_t limit, std::atomic<int64_t>* gauge);

  /// Takes a place for a new session; false (nothing taken) if `limit` are pending.
  bool enter();
  /// Gives the place back: the session was welcomed (`welcomed`, counted into the rate) or
  /// its connection ended first.
  void leave(bool welcomed);
  /// For an upgrade enter() refused: milliseconds until the client should come back (its
  /// place in the virtual queue, jittered).
  int64_t retry_ms(clock::time_point now);
  /// Sessions pending now.
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }

private:
  std::size_t limit_;
  std::atomic<int64_t> own_{0};
  std::atomic<int64_t>& pending_;
  std::atomic<uint64_t> welcomed_{0};

  std::mutex mtx_; ///< guards the rest
  clock::time_point sampled_at_{};
  uint64_t sampled_welcomed_ = 0;
  double rate_ = 0;             ///< welcomes a second over the last sample (0: unknown)
  clock::time_point horizon_{}; ///< the next free place of the virtual queue
  std::minstd_rand rng_{std::random_device{}()};
};

} // namespace tidings::net::detail
