#pragma once
// One user's durable, ordered inbox on top of `db`.
//
// Keys (inbox_meta): `user \0 first` -> be64(first live seq), written with every removal;
// `user` -> be64(next seq), written by removals of earlier versions (still read, never written).
// Keys (inbox): `user \0 be64(seq)` -> item bytes.
// Invariants: seq is strictly increasing and never reused for an item anyone saw: on opening,
// the next seq is past the last stored item and at least the first live seq recorded by the
// last removal (written in the removal's batch, so it survives an inbox emptied by acks: an
// item anyone saw is either still stored or below that first seq). Only
// seqs of appends whose write failed may be handed out again after a restart; no one saw them.
// The first live seq is written with every removal, so opening an inbox reads two meta
// records and seeks once to its last item, never walking the tombstones of acknowledged items
// (an inbox written before the first seq was kept is scanned once). Appends write only their
// items and removals only their deletes and the first seq (no next-seq counter: one memtable
// insert fewer per message and per ack), so batches in flight never overwrite each other's
// counters. Writes are staged: stage_* adds the changes to a batch that the caller
// writes (directly or through the group writer) and then confirms; seqs of an append whose
// write failed stay unused while the inbox runs (a hole no reader sees).
// Concurrency: not thread-safe; exactly one owner (the user's inbox actor) per user.
// May block: the constructor and read() do disk reads; the synchronous append() and
// remove_upto() write.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/db.hpp"

namespace tidings::storage {

struct inbox_entry {
  uint64_t seq;
  std::string item;
};

class inbox_log {
public:
  /// Loads the inbox's counters from disk; check loaded() before using the log.
  inbox_log(db& store, std::string user);

  /// Whether the counters could be read (a storage failure leaves the log unusable).
  const status& loaded() const { return loaded_; }

  const std::string& user() const { return user_; }
  /// The seq the next appended item gets (first seq is 1).
  uint64_t next_seq() const { return next_seq_; }
  /// Lowest seq still stored (== next_seq() when empty).
  uint64_t first_seq() const { return first_seq_; }
  std::size_t size() const { return static_cast<std::size_t>(next_seq_ - first_seq_); }

  /// Adds `items` to `b` and reserves their seqs (returned).
  std::vector<uint64_t> stage_append(const std::vector<std::string>& items, batch& b);
  /// Adds one item to `b` and reserves its seq (returned).
  uint64_t stage_append(std::string_view item, batch& b);
  /// Adds the deletes of every item in [first_seq(), upto] and the new first seq to `b`;
  /// returns the first seq the inbox has once `b` is written (pass it to removed()).
  uint64_t stage_remove(uint64_t upto, batch& b);
  /// A staged removal was written.
  void removed(uint64_t new_first);

  /// Appends items atomically together with `extra` changes; returns their seqs.
  status append(const std::vector<std::string>& items, batch& extra,
                std::vector<uint64_t>* seqs = nullptr);
  /// Reads up to `max` items with seq >= from, in seq order.
  std::vector<inbox_entry> read(uint64_t from, std::size_t max);
  /// Removes every item with seq <= upto (point deletes), plus `extra` in the same batch.
  status remove_upto(uint64_t upto, batch& extra);

  /// Key of item `seq` of `user` (exposed for tests and tools).
  static std::string item_key(std::string_view user, uint64_t seq);
  /// Key of the first-seq record of `user` in inbox_meta.
  static std::string first_key(std::string_view user);

private:
  db& db_;
  status loaded_;
  std::string user_;
  uint64_t next_seq_ = 1;
  uint64_t first_seq_ = 1;
};

} // namespace tidings::storage
