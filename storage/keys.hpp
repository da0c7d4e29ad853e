#pragma once
// The key (and small value) encodings of the tables, in one place. Each table's layout is in
// docs/OPERATIONS.md ("Data layout"); user names never contain `\0`, so `\0` separates parts
// and `\x01` bounds an owner's range.
//
// inbox and inbox_meta keys live with their one user, storage::inbox_log; tokens are keyed by a
// hash of the token (actors/accounts).

#include <cstdint>
#include <string>
#include <string_view>

namespace tidings::storage {

/// `owner \0 other`: contacts, blocks, media_readers (hash, user), avatars (hash, owner).
std::string pair_key(std::string_view owner, std::string_view other);

/// The keys of every pair of `owner`: [begin, end).
struct key_range {
  std::string begin;
  std::string end;
};
key_range prefix_range(std::string_view owner);

/// dedupe: `sender \0 cid`.
std::string dedupe_key(std::string_view sender, std::string_view cid);

/// received: `reader \0 mid`.
std::string received_key(std::string_view reader, std::string_view mid);
/// A received record's value: the sender, then `\0` and when it was delivered (be64 ms).
std::string received_value(std::string_view sender, int64_t ts);
std::string_view received_sender(std::string_view value);
int64_t received_time(std::string_view value);

/// inbox_meta, a user's devices (actors/inbox.*): `user \0 dev \0 be64(id)` -> the device's
/// record (msgpack: name, created, seen, acked, tokens); `user \0 devnext` -> be64(next id).
std::string device_key(std::string_view user, uint64_t id);
key_range device_range(std::string_view user);
std::string device_next_key(std::string_view user);

/// media_pending: `hash \0 recipient \0 be64(seq)` (a media item not yet acknowledged).
std::string media_pending_key(std::string_view hash, std::string_view recipient, uint64_t seq);

/// handoff queue: `q home \0 be64(seq)` -> the send (msgpack); the keys of one home are
/// [handoff_queue_key(home, 0), handoff_queue_end(home)).
std::string handoff_queue_key(std::string_view home, uint64_t seq);
std::string handoff_queue_end(std::string_view home);
/// handoff dedupe: `d sender \0 cid` -> the `sent` already given (msgpack: mid, ts), kept
/// until the send has reached its home.
std::string handoff_dedupe_key(std::string_view sender, std::string_view cid);

/// cluster: `members` -> this node's previous member list (cluster/transition.hpp);
/// `from \0 peer` -> the previous list of `peer` whose handover to this node completed.
std::string cluster_members_key();
std::string cluster_received_key(std::string_view peer);
/// [begin, end) of every cluster_received_key.
key_range cluster_received_range();

} // namespace tidings::storage
