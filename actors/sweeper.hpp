#pragma once
// sweeper actor: one per node. Expires dedupe records older than the retention, and
// `received` records (what may still be reported read) older than theirs.
//
// Walks the dedupe table in bounded steps (at most `batch` records per tick, resuming
// from a cursor), so a table of millions of records never stalls a scheduler thread.
// Each record carries the time of its `sent`; records past `dedupe_retention_ms` are
// deleted in one batch per step. Blocks: one bounded RocksDB scan and write per tick.

#include <functional>
#include <string>

#include <caf/all.hpp>

#include "actors/context.hpp"

namespace tidings {

struct sweeper_state {
  static inline const char* name = "sweeper";

  const node_context* ctx = nullptr;
  std::string cursor;          ///< dedupe: first key of the next step ("" = start)
  std::string received_cursor; ///< received: the same

  /// One step over each table; returns how many records it deleted.
  std::size_t step(std::size_t batch);
  /// Deletes the records among the next `batch` of `t` (from `from`) that have `expired`.
  std::size_t step_table(storage::table t, std::string& from, std::size_t batch,
                         const std::function<bool(std::string_view)>& expired);
};

caf::behavior sweeper_actor(caf::stateful_actor<sweeper_state>* self, const node_context* ctx);

} // namespace tidings
