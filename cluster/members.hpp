#pragma once
// The configured members of a cluster (`--cluster.node-id`, `--cluster.peers`) and the
// live view of them that every actor of a node reads.
//
// `view` is the one piece of shared mutable state between actors of a node: the membership
// actor writes which peers are up (their gate actors), every other actor reads it to reach
// a user's home. Reads take a mutex for a map lookup and an actor handle copy (a reference
// count), nothing else: no actor waits on another through it.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>

#include "cluster/placement.hpp"
#include "cluster/transition.hpp"

namespace tidings::cluster {

/// One configured peer: `ID@HOST:PORT`.
struct member {
  std::string id;
  std::string host;
  uint16_t port = 0;
};

/// Node ids: 1-32 characters of [a-z0-9_-].
bool valid_node_id(std::string_view id);

/// Parses `ID@HOST:PORT,ID@HOST:PORT,...` (spaces around entries allowed, empty = none).
/// On failure returns nothing and sets `error` to a sentence naming the bad entry.
std::optional<std::vector<member>> parse_peers(std::string_view text, std::string* error);

/// The state of one member as the inspector and the logs show it.
struct member_status {
  std::string id;
  std::string address; ///< HOST:PORT ("" for this node)
  bool up = false;
  int64_t since_ms = 0; ///< when it last came up or went down (0: never seen)
};

class view {
public:
  /// `self`: this node's id; `peers`: the others (this node is removed if listed);
  /// `previous` and `received`: what this node persisted of member changes (transition).
  view(std::string self, std::vector<member> peers, std::vector<std::string> previous = {},
       std::map<std::string, std::vector<std::string>> received = {});

  const std::string& self() const { return self_; }
  const std::vector<member>& peers() const { return peers_; }
  /// Rendezvous placement over every configured member, up or down.
  const placement& ring() const { return ring_; }
  /// The home node of `user` (may be this node).
  const std::string& home(std::string_view user) const { return ring_.home(user); }
  bool is_local(std::string_view user) const { return home(user) == self_; }

  /// The gate of a peer, or an invalid handle while it is down (or for this node).
  caf::actor gate(const std::string& id) const;
  /// The membership actor records a peer coming up or going down.
  void set_up(const std::string& id, caf::actor gate, int64_t now_ms);
  void set_down(const std::string& id, int64_t now_ms);
  std::vector<member_status> status() const;
  /// Sends for `id` wait in this node's handoff (it is down, or its backlog is replaying):
  /// new sends for its users join the queue, so each sender's order is kept.
  bool handoff_pending(const std::string& id) const;
  void set_handoff_pending(const std::string& id, bool pending);

  // Member changes (cluster/transition.hpp): what the handshakes and handovers told, and
  // which keys homed here must not be served yet.
  /// This node's previous member list, as its handshakes tell it.
  std::vector<std::string> previous() const;
  void heard(const std::string& id, std::vector<std::string> their_previous);
  void received(const std::string& id, std::vector<std::string> their_previous);
  void completed();
  /// Whether `key` (a user, a hash) is homed here but its data may still be on its way from
  /// its previous home. Lock-free once nothing is awaited.
  bool awaiting(std::string_view key) const;
  /// A copy of the whole state, for the handover actor.
  transition changes() const;

private:
  struct entry {
    caf::actor gate;
    int64_t since_ms = 0;
  };
  std::string self_;
  std::vector<member> peers_;
  placement ring_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> live_;
  std::unordered_set<std::string> handoff_;
  transition changes_;
  std::atomic<bool> settled_{false}; ///< changes_.settled(), readable without the mutex
};

} // namespace tidings::cluster
