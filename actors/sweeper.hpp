#pragma once
// sweeper actor: one per node. Expires dedupe records older than the retention.
//
// Walks the dedupe table in bounded steps (at most `batch` records per tick, resuming
// from a cursor), so a table of millions of records never stalls a scheduler thread.
// Each record carries the time of its `sent`; records past `dedupe_retention_ms` are
// deleted in one batch per step. Blocks: one bounded RocksDB scan and write per tick.

#include <string>

#include <caf/all.hpp>

#include "actors/context.hpp"

namespace tidings {

struct sweeper_state {
  static inline const char* name = "sweeper";

  const node_context* ctx = nullptr;
  std::string cursor; ///< first key of the next step ("" = start of the table)

  /// One step; returns how many records it deleted.
  std::size_t step(std::size_t batch);
};

caf::behavior sweeper_actor(caf::stateful_actor<sweeper_state>* self, const node_context* ctx);

} // namespace tidings
