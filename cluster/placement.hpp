#pragma once
// Where a user's data lives: a stable hash, shards within a node, and the home node of a user
// among the cluster's members (rendezvous hashing).
//
// Every choice here must be the same on every node, every build and every restart, so nothing
// uses std::hash (whose values differ between standard libraries and builds). The hash is
// 64-bit FNV-1a followed by the splitmix64 finaliser, which spreads FNV's weak low bits.
// Rendezvous (highest random weight) hashing gives each user the member with the highest
// score for (member, user): removing a member moves only that member's users, and a member
// that is merely down keeps its users (callers choose over the configured members).
// Pure functions and a value type: no I/O, no locks, safe from any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tidings::cluster {

/// A 64-bit hash of `bytes` that never changes between builds, platforms or versions.
uint64_t stable_hash(std::string_view bytes);

/// The shard of `key` among `shards` (> 0) actors of one node.
std::size_t shard_of(std::string_view key, std::size_t shards);

/// The members of a cluster, and which of them is home to a user.
class placement {
public:
  /// `members`: the configured node ids (order does not matter; duplicates are ignored).
  explicit placement(std::vector<std::string> members);

  const std::vector<std::string>& members() const { return members_; }
  /// The member with the highest rendezvous score for `user`. Requires at least one member.
  const std::string& home(std::string_view user) const;
  /// The rendezvous score of `member` for `user` (exposed for tests and the inspector).
  static uint64_t score(std::string_view member, std::string_view user);

private:
  std::vector<std::string> members_; ///< sorted, unique
};

} // namespace tidings::cluster
