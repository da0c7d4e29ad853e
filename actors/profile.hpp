#pragma once
// profile service: one actor per shard of users (shard = hash(user) % shards).
//
// Owns: the profiles, contacts and blocks tables for the users of its shard; every write
// to them goes through the owning shard, so each user's changes are serialised.
// No other actor reads these tables: they ask this shard (`privacy`, `seen_by`, the block
// list of a starting inbox) or are told of changes (blocks, to the user's inbox).
// Blocking: a block stores a snapshot of the blocker's public profile; the blocked user
// sees that snapshot from then on (never later changes) and no presence or last seen.
// May block: RocksDB point reads and one write per change. A profile_set naming a new avatar
// asks the media service of its home to record it (the user must be able to read it), and the
// old avatar is left the same way before the answer; a contact or block asks the registry of
// the other user's home whether they exist. Those answers may come from other nodes: the
// owner's later changes wait for them (in order per owner), other owners' requests do not. The
// media service keeps which blobs are avatars; this shard answers its question whether an owner
// blocked a viewer (`seen_by`).

#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "net/codec.hpp"
#include "storage/keys.hpp"

namespace tidings {

/// A user's profile as stored; `privacy` is visible only to the user.
struct profile_record {
  std::string name;
  std::string about;
  std::string avatar; ///< empty: none
  int64_t updated = 0;
  std::string last_seen_privacy = "everyone"; ///< everyone | contacts | nobody
  bool read_receipts = true;

  net::json to_json() const;
  static profile_record from_json(const net::json& j);
};

/// The `profile` frame fields (without type/id) that `viewer` may see of `user`.
net::json public_view(const std::string& user, const profile_record& p, bool own);

// Owns the profiles, contacts and blocks tables. A change to a user's blocks is also told to
// that user's inbox (through the directory, which drops it if the inbox is not running: a
// starting inbox asks this shard for the whole list), so inboxes never read this table.
struct profile_state {
  static inline const char* name = "profile";

  profile_shard::pointer self = nullptr;
  const node_context* ctx = nullptr;
  uint64_t handled = 0; ///< messages handled (spawn_counted)

  /// More queued than `service_backlog`: a client's profile_get and profile_set are refused
  /// (block lists for starting inboxes and list changes are still served).
  bool overloaded() const;
  /// Encoded (msgpack) `profile` fields of `target` as `viewer` sees them.
  caf::result<std::string> get(const std::string& viewer, const std::string& target);
  /// `user`'s privacy settings: (exists, read receipts on, last seen visibility).
  caf::result<bool, bool, std::string> privacy(const std::string& user);
  /// Privacy settings of existing users recently asked for: every read receipt asks for both
  /// sides' (two RocksDB reads and decodes each, without it). A change made here updates its
  /// entry at once; an entry is trusted for `privacy_ttl_ms` (an account deleted meanwhile
  /// may still show as existing that long: its receipts then fail as `not_found`, harmless).
  struct privacy_entry {
    bool read_receipts = true;
    std::string last_seen;
    int64_t loaded = 0; ///< ms, ctx->now()
  };
  std::unordered_map<std::string, privacy_entry> privacy_cache;
  static constexpr int64_t privacy_ttl_ms = 10'000;
  static constexpr std::size_t privacy_cache_max = 65'536; ///< emptied when full
  /// What `may_see_presence` needs to know of `target` for `viewer` (presence_facts fields).
  caf::result<bool, std::string, bool, bool> seen_by(const std::string& target,
                                                     const std::string& viewer);
  /// Changes of one owner (profile, contacts, blocks), waiting for an earlier one that is
  /// still asking another actor; other owners' requests go on meanwhile.
  std::unordered_map<std::string, std::deque<std::function<void()>>> changing;

  /// Runs `job` now, or once the owner's earlier changes are done; a job calls next(owner)
  /// when it is done.
  void in_order(const std::string& owner, std::function<void()> job);
  void next(const std::string& owner);
  /// Applies validated changes (msgpack object: name, about, avatar, privacy); a new avatar
  /// must be a hash the user may read (asked of the media service). In order per user.
  caf::result<std::string> set(const std::string& user, const std::string& changes);
  /// set()'s work: `done` gets the new profile or the error.
  void change(const std::string& user, const std::string& changes,
              std::function<void(caf::expected<std::string>)> done);
  /// Tells the media service of `hash`'s home that `user` took (`on`) or left that avatar.
  void tell_avatar(const std::string& hash, const std::string& user, bool on);
  /// set() once the avatar, if any, was found readable.
  caf::expected<std::string> apply(const std::string& user, const std::string& changes);
  caf::result<std::vector<std::string>> list(storage::table t, const std::string& owner);
  /// Adds `other` (who must exist: asked of the registry of `other`'s home, possibly another
  /// node) to `owner`'s contacts or blocks.
  caf::result<bool> add(storage::table t, const std::string& owner, const std::string& other);
  /// add() once `other` is known to exist.
  caf::expected<bool> insert(storage::table t, const std::string& owner, const std::string& other);
  caf::result<bool> remove(storage::table t, const std::string& owner, const std::string& other);
};

profile_shard::behavior_type profile_actor(profile_shard::stateful_pointer<profile_state> self,
                                           const node_context* ctx);

using storage::pair_key; ///< key `owner \0 other` of the contacts and blocks tables

} // namespace tidings
