#pragma once
// Node metrics for `GET /metrics` (Prometheus text format 0.0.4) and the inspector.
//
// Written by the actors and the Beast threads that count, read only by the renderer and the
// inspector; nothing is ever decided from a counter. Counters and histograms are striped: each
// thread adds to a slot of its own (its own cache line, a relaxed add nobody else writes in
// the common case), and a reader sums the slots, so counting on the message path shares no
// cache line between threads and takes no lock. Gauges (values that go up and down) stay
// single atomics: they change once per session, inbox or handoff item, not per message.
// Each metric, its meaning and an example alert: docs/OPERATIONS.md ("Metrics").

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/errors.hpp"

namespace tidings {

namespace detail {

constexpr std::size_t metric_slots = 16;

/// This thread's slot among `metric_slots` (given out round robin on first use).
std::size_t metric_slot();

} // namespace detail

/// A monotonic counter, striped over threads.
class counter {
public:
  void add(uint64_t n = 1) {
    cells_[detail::metric_slot()].value.fetch_add(n, std::memory_order_relaxed);
  }
  void operator++(int) { add(); }
  /// The sum over every thread (a reader may miss adds in progress).
  uint64_t load() const;

private:
  struct alignas(64) cell {
    std::atomic<uint64_t> value{0};
  };
  std::array<cell, detail::metric_slots> cells_{};
};

/// A histogram of durations in microseconds, with fixed buckets (`bounds_us`), striped over
/// threads. Rendered in seconds.
class latency_histogram {
public:
  /// Upper bounds of the buckets: 0.5 ms to 10 s (the last bucket, +Inf, is implicit).
  static constexpr std::array<uint64_t, 14> bounds_us{500,     1000,    2500,    5000,    10000,
                                                      25000,   50000,   100000,  250000,  500000,
                                                      1000000, 2500000, 5000000, 10000000};
  static constexpr std::size_t buckets = bounds_us.size() + 1;

  /// Per-bucket counts (not cumulative), then the sum of the observations (µs).
  struct snapshot {
    std::array<uint64_t, buckets> counts{};
    uint64_t sum_us = 0;
    uint64_t count() const;
    /// The `q` quantile (0..1) in milliseconds, interpolated inside its bucket; -1 if empty.
    double quantile_ms(double q) const;
    /// What was observed between `older` and this snapshot.
    snapshot since(const snapshot& older) const;
  };

  void observe(uint64_t us);
  snapshot read() const;

private:
  struct alignas(64) cell {
    std::array<std::atomic<uint64_t>, buckets> counts{};
    std::atomic<uint64_t> sum_us{0};
  };
  std::array<cell, detail::metric_slots> cells_{};
};

/// The HTTP routes timed and counted by the gateway.
enum class http_route : uint8_t {
  accounts,
  sessions,
  media_upload,
  media_download,
  metrics,
  healthz,
  other
};
constexpr std::size_t http_route_count = 7;
const char* to_string(http_route r);

/// WebSocket close codes counted by name; anything else is `other`.
constexpr std::array<uint16_t, 11> counted_close_codes{1000, 1001, 1006, 1008, 1009, 1011,
                                                       4001, 4002, 4003, 4004, 4005};

/// What the last inbox census found (the inspector's `census`, docs/DESIGN.md "Inspector"):
/// a snapshot, not a counter. Written by the inspector, read by the renderer.
struct inbox_census_gauges {
  /// Upper bounds of the depth buckets (items per inbox); the last, +Inf, is implicit.
  static constexpr std::array<uint64_t, 6> depth_bounds{1, 10, 100, 1000, 10000, 100000};
  std::array<std::atomic<uint64_t>, depth_bounds.size() + 1> inboxes_by_depth{};
  std::atomic<uint64_t> inboxes{0}; ///< inboxes with at least one item
  std::atomic<uint64_t> items{0};   ///< items in all of them
  std::atomic<int64_t> oldest_age_ms{-1};
  std::atomic<int64_t> taken_ms{0}; ///< when the census was taken (0: none yet)
};

struct node_metrics {
  using gauge = std::atomic<int64_t>;

  counter sessions_opened;         ///< WebSocket connections accepted
  gauge sessions_live{0};          ///< WebSocket connections open
  gauge sessions_authenticated{0}; ///< of those, past `welcome`
  std::array<counter, counted_close_codes.size() + 1> sessions_closed; ///< by close code
  counter frames_in;
  std::array<counter, 16> errors{}; ///< error frames sent, by errc value
  counter messages_stored;
  counter messages_deduplicated;
  counter messages_blocked;
  counter items_pushed; ///< inbox items pushed to a live session
  counter receipts_stored;
  counter items_acked;
  gauge inboxes_live{0};
  counter storage_errors;                 ///< reads or writes that RocksDB failed
  gauge storage_writable{1};              ///< 0 while the store is read-only after a failed write
  counter storage_read_only;              ///< times the store went read-only
  counter storage_recoveries;             ///< times it became writable again
  counter read_receipts_failed;           ///< read receipts not stored (the reader may read again)
  std::atomic<uint64_t> frames_paused{0}; ///< times a connection's reading paused (net/)
  counter overload_refusals;              ///< requests refused by a shared actor's bounded queue
  std::atomic<uint64_t> connections_refused{0}; ///< TCP connections refused past the limits (net/)
  gauge sessions_pending{0}; ///< WebSocket sessions between upgrade and welcome (net/)
  std::atomic<uint64_t> sessions_refused{0}; ///< upgrades refused past max_pending_auth (net/)
  gauge handoff_queued{0};                   ///< sends kept for home nodes that were down
  counter handoff_replayed;                  ///< of those, delivered to their home
  counter handoff_dropped;                   ///< of those, dropped at replay (no such user)
  counter logins_ok;
  counter logins_failed; ///< wrong password, unknown user, or locked out
  counter registrations;
  counter media_bytes_in;         ///< upload bodies received
  counter media_bytes_out;        ///< download bodies served
  latency_histogram send_latency; ///< a send frame's arrival to its `sent`
  std::array<latency_histogram, http_route_count> http_latency;
  /// HTTP answers by route and status class (2xx..5xx).
  std::array<std::array<counter, 4>, http_route_count> http_answers;
  inbox_census_gauges census;

  gauge handover_pending{0};      ///< member changes: handovers owed or awaited here
  counter handover_rows_sent;     ///< rows moved to a new member (deleted here)
  counter handover_blobs_sent;    ///< blob files moved to a new member (deleted here)
  counter handover_rows_received; ///< rows moved here from an old home

  void error(errc code) { errors[static_cast<std::size_t>(code) % errors.size()]++; }
  void closed(uint16_t code);
  void http_answered(http_route route, unsigned status, uint64_t us);
  static void add(counter& c, uint64_t n = 1) { c.add(n); }

  /// The metrics in Prometheus text format.
  std::string render() const;
};

} // namespace tidings
