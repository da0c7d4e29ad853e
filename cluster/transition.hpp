#pragma once
// Adding members to a running cluster: which data moves between which nodes, and what a node
// must not serve until its share has arrived (docs/DESIGN.md, "Adding a member").
//
// Every node keeps the member list it last completed with (its *previous* list, persisted) and
// tells it to every peer in the cluster handshake. Rendezvous hashing moves a key (a user, a
// blob's hash) only to a member that is new: for a peer P whose previous list S does not
// contain this node, the keys with home P over S and home here over the configured list C are
// on their way from P ("awaited"); P exports them and says when it is done. A node that has no
// previous list (a fresh data directory) cannot know at first whether it joins a running
// cluster or forms a new one, so it awaits every key homed on it until a peer's list tells: a
// list that lacks this node says it joins, and the peers not heard yet are taken to have that
// list too if they are on it (they completed the same one; new members like this one if not),
// so the keys of an old member that has handed over are served before the last one is
// restarted. Only empty lists from every peer mean a new cluster: nothing moves.
// Only additions move data: a member that was removed keeps its users' data (not supported).
// A pure value type: no I/O, no locks (cluster::view guards it), same answers on every node.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/placement.hpp"

namespace tidings::cluster {

/// A member list as stored and sent: the ids sorted and joined by ',' ("" for none).
std::string encode_members(std::vector<std::string> ids);
std::vector<std::string> decode_members(std::string_view text);

class transition {
public:
  /// `configured`: every member id, this node included; `previous`: this node's persisted list
  /// (empty: none); `received`: the handovers completed here, by peer, each for the previous
  /// list that peer had then.
  transition(std::string self, std::vector<std::string> configured,
             std::vector<std::string> previous,
             std::map<std::string, std::vector<std::string>> received = {});

  const std::string& self() const { return self_; }
  const std::vector<std::string>& previous() const { return previous_; }
  /// A peer said its previous list in the handshake.
  void heard(const std::string& peer, std::vector<std::string> their_previous);
  /// A peer's handover to this node, for its previous list `their_previous`, is complete.
  void received(const std::string& peer, std::vector<std::string> their_previous);
  /// This node completed with the configured list: it becomes its previous list.
  void completed();

  /// Whether `key`, homed here, may still have data on another node: it must not be served
  /// yet (answers `unavailable`). False for keys homed elsewhere.
  bool awaiting(std::string_view key) const;
  /// Nothing is awaited any more (all peers heard, for a node without a previous list).
  bool settled() const;
  /// The peers whose handover this node still awaits (a peer not heard yet counts, while this
  /// node has no previous list).
  std::vector<std::string> awaited() const;
  /// The new members this node owes a handover: configured members absent from its previous
  /// list (none without a previous list).
  std::vector<std::string> owed() const;
  /// Members of the previous list no longer configured (their data is not moved).
  std::vector<std::string> removed() const;
  /// Whether the configured list differs from the previous one (to be persisted once settled
  /// and every owed handover is done).
  bool changed() const { return previous_ != configured_.members(); }

  /// Whether `key`'s data moves from `from` to `to`: homed on `from` over `before` and on `to`
  /// over `after`.
  static bool moves(const placement& before, const placement& after, std::string_view key,
                    const std::string& from, const std::string& to);
  /// The configured placement and the previous one (empty members: none).
  const placement& now() const { return configured_; }
  const placement& before() const { return before_; }

  /// Whether a handover from `peer`, whose previous list is `their_previous`, is still to
  /// come: the list lacks this node and that handover has not completed here.
  bool awaits(const std::string& peer, const std::vector<std::string>& their_previous) const;

private:
  /// What a peer's previous list is, as said or as inferred.
  struct expectation {
    bool known = false; ///< false: not heard, and nothing to infer it from
    std::vector<std::string> list;
    placement ring{std::vector<std::string>{}};
  };
  /// Recomputes `expected_` after a change.
  void refresh();

  std::string self_;
  placement configured_;
  std::vector<std::string> previous_; ///< sorted
  placement before_;
  std::map<std::string, std::vector<std::string>> heard_;
  std::map<std::string, std::vector<std::string>> received_;
  std::map<std::string, expectation> expected_; ///< every configured peer
};

} // namespace tidings::cluster
