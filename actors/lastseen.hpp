#pragma once
// lastseen service: one actor per shard of users (shard = hash(user) % shards).
//
// Owns: the presence_book of its users (online state and last seen, in memory), their
// persisted last seen (the lastseen table, written coalesced: see presence_book), and the
// presence subscriptions on them.
// Sessions report state changes and activity with plain sends (no replies, so a million
// heartbeats a minute cost a million map updates, not a million writes). A user's current
// session is monitored: its end counts even if the session actor crashed.
// Privacy (who may see whom) is decided here on every answer and every push, from the
// profile, contacts and blocks tables (RocksDB point reads).

#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/presence_book.hpp"

namespace tidings {

/// May `viewer` see the presence and last seen of `target`? (PROTOCOL.md section 7)
storage::answer may_see_presence(storage::db& db, const std::string& viewer,
                                 const std::string& target);

struct lastseen_state {
  static inline const char* name = "lastseen";

  lastseen_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  presence_book book;
  /// Session key (of the book) -> the session actor and its user.
  std::unordered_map<std::string, std::pair<caf::actor, std::string>> sessions;
  /// target -> subscriber session -> subscriber user
  std::unordered_map<std::string, std::map<caf::actor_addr, std::string>> subscribers;
  std::map<caf::actor_addr, std::pair<caf::actor, std::set<std::string>>> subscriptions;

  void set_state(const std::string& user, const caf::actor& session, bool foreground);
  /// More queued than `service_backlog`: new queries are refused, activity reports dropped.
  bool overloaded() const;
  void touch(const std::string& user, const caf::actor& session);
  /// (online, last seen or -1) of `target` as `viewer` may see it.
  caf::result<bool, int64_t> query(const std::string& viewer, const std::string& target);
  void subscribe(const std::string& viewer, const caf::actor& session,
                 const std::vector<std::string>& targets);
  void unsubscribe(const caf::actor& session, const std::vector<std::string>& targets);
  void on_down(const caf::down_msg& dm);
  void flush(bool all);

private:
  void ensure_loaded(const std::string& user);
  void drop_subscriber(const std::string& target, const caf::actor_addr& session);
  void notify(const std::string& user);
};

lastseen_service::behavior_type
lastseen_actor(lastseen_service::stateful_pointer<lastseen_state> self, const node_context* ctx);

} // namespace tidings
