#pragma once
// lastseen service: one actor per shard of users (shard = hash(user) % shards).
//
// Owns: the presence_book of its users (online state and last seen, in memory), their
// persisted last seen (the lastseen table, written coalesced: see presence_book), and the
// presence subscriptions on them. It reads no other table.
// Sessions report state changes and activity with plain sends (no replies, so a million
// heartbeats a minute cost a million map updates, not a million writes). A user's current
// session is monitored: its end counts even if the session actor crashed.
// Privacy (who may see whom, presence_privacy.hpp) is decided on every answer and every push
// from facts asked of their owners, both at once: the target's profile shard (`seen_by`) and
// the viewer's (`privacy`), which in a cluster may be on another node. An answer or a push
// carries the presence as it is when the facts arrive, and a push whose facts are older than
// those of one already pushed to that subscriber is dropped, so a slow answer never undoes a
// later change. A failed or late answer makes a query `unavailable` and hides a push.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/presence_book.hpp"
#include "actors/presence_privacy.hpp"

namespace tidings {

struct lastseen_state {
  static inline const char* name = "lastseen";

  lastseen_shard::pointer self = nullptr;
  const node_context* ctx = nullptr;
  uint64_t handled = 0; ///< messages handled (spawn_counted)
  presence_book book;
  /// Session key (of the book) -> the session actor and its user.
  std::unordered_map<std::string, std::pair<caf::actor, std::string>> sessions;
  /// One session's subscription to one target.
  struct subscriber {
    std::string viewer;  ///< the session's user
    uint64_t pushed = 0; ///< the newest ask (`asks`) whose answer was pushed
  };
  /// target -> subscriber session -> its subscription
  std::unordered_map<std::string, std::map<caf::actor_addr, subscriber>> subscribers;
  std::map<caf::actor_addr, std::pair<caf::actor, std::set<std::string>>> subscriptions;
  /// How many times facts were asked for a push; numbers the asks, oldest first.
  uint64_t asks = 0;

  void set_state(const std::string& user, const caf::actor& session, bool foreground);
  /// More queued than `service_backlog`: new queries are refused, activity reports dropped.
  bool overloaded() const;
  void touch(const std::string& user, const caf::actor& session);
  /// (online, last seen or -1) of `target` as `viewer` may see it, once the facts arrive.
  caf::result<bool, int64_t> query(const std::string& viewer, const std::string& target);
  void subscribe(const std::string& viewer, const caf::actor& session,
                 const std::vector<std::string>& targets);
  void unsubscribe(const caf::actor& session, const std::vector<std::string>& targets);
  void on_down(const caf::down_msg& dm);
  void flush(bool all);
  /// For the inspector: (a session, in the foreground, last seen, the session's node).
  caf::result<bool, bool, int64_t, std::string> probe(const std::string& user);

private:
  void ensure_loaded(const std::string& user);
  void drop_subscriber(const std::string& target, const caf::actor_addr& session);
  /// Asks `user`'s facts for each subscriber; each answer pushes the state current then.
  void notify(const std::string& user);
  /// Pushes `target`'s presence to `session` as ask number `ask` allowed, unless a newer
  /// ask's answer was pushed already.
  void push(const std::string& target, const caf::actor_addr& session, uint64_t ask, bool visible);
  /// Asks the target's and the viewer's profile shards at once; calls `decided(facts,
  /// visible)` once both answered, or `failed(error)` once, at the first error.
  template <class Decided, class Failed>
  void judge(const std::string& viewer, const std::string& target, Decided decided, Failed failed);
};

lastseen_shard::behavior_type lastseen_actor(lastseen_shard::stateful_pointer<lastseen_state> self,
                                             const node_context* ctx);

} // namespace tidings
