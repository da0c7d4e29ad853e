#pragma once
// Node metrics for `GET /metrics` (Prometheus text format 0.0.4).
//
// The one piece of state shared across actors: relaxed atomic counters, written by the
// actors that count and read only by the renderer. Nothing is ever decided from them.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "actors/errors.hpp"

namespace tidings {

struct node_metrics {
  using counter = std::atomic<uint64_t>;
  using gauge = std::atomic<int64_t>;

  counter sessions_opened{0};
  gauge sessions_live{0};
  counter frames_in{0};
  std::array<counter, 16> errors{}; ///< by errc value
  counter messages_stored{0};
  counter messages_deduplicated{0};
  counter messages_blocked{0};
  counter receipts_stored{0};
  counter items_acked{0};
  gauge inboxes_live{0};
  counter storage_errors{0};       ///< reads or writes that RocksDB failed
  counter read_receipts_failed{0}; ///< read receipts not stored (the reader may read again)
  counter frames_paused{0};        ///< times a connection's reading paused for its session
  counter overload_refusals{0};    ///< requests refused by a shared actor's bounded queue
  counter connections_refused{0};  ///< TCP connections refused past the connection limits
  gauge handoff_queued{0};         ///< sends kept for home nodes that were down
  counter handoff_replayed{0};     ///< of those, delivered to their home
  counter handoff_dropped{0};      ///< of those, dropped at replay (no such user)

  void error(errc code) { errors[static_cast<std::size_t>(code) % errors.size()]++; }
  static void add(counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  /// The metrics in Prometheus text format.
  std::string render() const;
};

} // namespace tidings
