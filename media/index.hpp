#pragma once
// The media index in RocksDB: what is stored, who may read it, what still refers to it.
//
// Tables (storage/db.hpp) and their keys:
//   media          hash -> record (msgpack map: size, mime, uploader, created, used)
//   media_readers  hash \0 user -> ""            (uploads and grants; the media actor writes both)
//   avatars        hash \0 owner -> ""           (the media actor, told by the owner's profile shard)
//   media_pending  hash \0 recipient \0 be64(seq) -> ""  (a claim: written with the grant of a
//                  media message, checked with the recipient's inbox before retention deletes)
// All four live on the hash's home node and are written only by its media actor.
// `hash` is always 64 lowercase hex digits, so `hash \0` prefixes never overlap.
// Blocking: every function does RocksDB I/O. Thread-safe (the db is).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/db.hpp"
#include "storage/keys.hpp"

namespace tidings::media {

/// One stored blob.
struct record {
  uint64_t size = 0;
  std::string mime;     ///< Content-Type of the first upload
  std::string uploader; ///< user of the first upload
  int64_t created = 0;  ///< ms since the epoch, first upload
  int64_t used = 0;     ///< ms since the epoch, last upload or download (refreshed coarsely)
};

std::string encode(const record& r);
std::optional<record> decode_record(std::string_view bytes);

/// The record of `hash`, if stored.
std::optional<record> read_record(storage::db& db, std::string_view hash, bool* failed = nullptr);

/// `a \0 b`, the key shape of every two-part media key.
using storage::pair_key;

/// [begin, end) of every key that starts with `prefix \0`.
using storage::key_range;
using storage::prefix_range;

/// True if `t` has at least one key starting with `prefix \0`.
bool any_with_prefix(storage::db& db, storage::table t, std::string_view prefix);

/// One retention step's look at the `media` table.
struct unused_scan {
  std::vector<std::string> unused; ///< hashes whose `used` is before the cutoff
  std::size_t examined = 0;        ///< records looked at
  std::string next_cursor;         ///< where the next step starts ("": a new pass)
  bool pass_done = false;          ///< the step reached the end of the table
};

/// Up to `max` records from `cursor` on, and which of them were last used before `cutoff`.
unused_scan scan_unused(storage::db& db, const std::string& cursor, std::size_t max,
                        int64_t cutoff);

/// Whether `hash` is somebody's avatar (`failed` when that cannot be read).
storage::answer is_avatar(storage::db& db, std::string_view hash);

/// Up to `max` owners whose avatar `hash` is (`failed`: could not be read).
storage::fetched<std::vector<std::string>> avatar_owners(storage::db& db, std::string_view hash,
                                                          std::size_t max);

/// A media message's claim on its blob: the recipient's inbox item `seq` names it.
struct claim {
  std::string key; ///< its media_pending key
  std::string recipient;
  uint64_t seq = 0;
};

/// Up to `max` claims on `hash` (`failed`: could not be read).
storage::fetched<std::vector<claim>> claims(storage::db& db, std::string_view hash,
                                            std::size_t max);

/// Adds to `b` the removal of a blob's record, its read grants and its claims.
void forget(storage::batch& b, std::string_view hash);

} // namespace tidings::media
