#pragma once
// inspector, census and admin actors: looking inside a running node or cluster
// (tidings-inspect; docs/DESIGN.md, "The inspector"; docs/OPERATIONS.md, "Inspecting a node").
//
// inspector: one per node (`inspector_api`), asked by the admin actor of any node (its own, or
// a peer's through this node's gate). It answers from the actors' own state, read on request:
// it probes the directory, the shards, the media and handoff actors and (for `actors`) every
// running inbox with high-priority requests (answered ahead of their queues), each bounded by
// a timeout, so an actor that does not answer is left out, never waited for. Each actor counts
// the messages it handles in its own state (actors/counted.hpp); nothing on the message path
// is shared with the inspector. Every second it samples the node's counters (rates over the
// last second, send latency quantiles over the last 10 s).
// census: a detached actor (own thread: the RocksDB reads block) that walks every account homed
// here and reads its inbox's counters and oldest item, as the inbox itself does when it starts.
// One runs at a time: every `census_interval` (0: only on request), and for each request (which
// is answered by the first census that starts after it arrived, so it sees everything stored
// before; requests meanwhile share it). Its totals feed /metrics (tidings_inbox_*); offline
// users' inboxes have no actor, so storage is the only place to count them.
// admin: published on the admin port (`--admin.port`, loopback by default). Every request
// carries the shared secret, compared in constant time (BLAKE2b digests of both, compared with
// sodium_memcmp); a wrong or missing one is refused with `unauthorized` and nothing else. A
// command asks the inspectors of the members that are up (a member that is down shows as down,
// one that does not answer in time as "no answer") and answers one JSON document
// (docs/PROTOCOL.md, "tidings-inspect").

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"

namespace tidings {

/// The inspector as its node sees it: the API, its timer and the census worker's result.
using inspector_actor_t =
    inspector_api::extend<caf::reacts_to<atom::timer>, caf::reacts_to<atom::census, census_report>>;

struct inspector_options {
  std::string version;
  std::chrono::milliseconds census_interval{60'000}; ///< 0: only on request
  std::chrono::milliseconds probe_timeout{2'000};
  std::size_t census_keep = 1000; ///< deepest inboxes kept by a census
};

struct inspector_state {
  static inline const char* name = "inspector";

  struct sample {
    int64_t at_ms = 0;
    uint64_t stored = 0;
    uint64_t pushed = 0;
    latency_histogram::snapshot send;
  };

  inspector_actor_t::pointer self = nullptr;
  const node_context* ctx = nullptr;
  inspector_options opts;
  std::deque<sample> samples; ///< one a second, the newest last (at most 11)
  std::optional<census_report> census;
  bool census_running = false;
  int64_t census_started = 0;
  uint64_t censuses_started = 0; ///< numbers the censuses
  /// Requests, each with the number of the first census that may answer it.
  std::vector<std::pair<uint64_t, caf::typed_response_promise<census_report>>> census_waiting;
  uint64_t handled = 0; ///< messages handled (spawn_counted)
  steward_api steward;  ///< runs this node's user-administration commands (linked, detached)

  void init(inspector_actor_t::pointer s, const node_context* c, inspector_options o);
  void tick();
  /// This node: the basics, probes of its services and (`top` > 0) its `top` busiest inboxes
  /// by mailbox length and by messages handled.
  caf::result<node_report> report(uint32_t top);
  /// A user homed here: inbox, presence, contacts and blocks.
  caf::result<user_report> report_user(const std::string& user);
  /// The stored inboxes, deepest first, from a census started after this request (the asker
  /// trims it to its `top`).
  caf::result<census_report> report_census(uint32_t top);
  void on_census(census_report r);

private:
  node_report basics() const;
  void start_census();
};

inspector_actor_t::behavior_type
inspector_actor(inspector_actor_t::stateful_pointer<inspector_state> self, const node_context* ctx,
                inspector_options opts);

/// Walks the accounts of `store` and reads each one's inbox (blocking; a census actor's work).
/// Keeps the `keep` deepest; fills `gauges` (for /metrics) when given.
census_report take_census(storage::db& store, std::size_t keep, const clock_fn& now,
                          inbox_census_gauges* gauges);

struct admin_options {
  std::string secret;
  std::chrono::milliseconds node_timeout{3'000};     ///< a peer's report
  std::chrono::milliseconds census_timeout{15'000};  ///< a peer's census
  std::chrono::milliseconds manage_timeout{120'000}; ///< a user-administration command, a backup
};

/// Whether `given` is the secret whose digest is `digest` (constant time in the secret).
bool secret_matches(const std::string& digest, const std::string& given);
/// The digest admin_state keeps of the secret.
std::string secret_digest(const std::string& secret);

struct admin_state {
  static inline const char* name = "admin";

  admin_api::pointer self = nullptr;
  const node_context* ctx = nullptr;
  std::string digest; ///< of the secret (the secret itself is not kept)
  admin_options opts;

  caf::result<std::string> handle(const std::string& secret, const std::string& command,
                                  const std::vector<std::string>& args);

private:
  /// `nodes`, `actors` and `top`: every member's report (`top` busiest inboxes each).
  caf::result<std::string> nodes(const std::string& command, uint32_t top);
  caf::result<std::string> user(const std::string& name);
  caf::result<std::string> inboxes(uint32_t top);
  std::string ring(const std::vector<std::string>& args) const;
  /// User administration (docs/OPERATIONS.md, "User administration"): `users` asks every
  /// member, a command naming a user asks the steward of the user's home, `delete` then every
  /// other member (the media rows they keep), `backup` this node's steward.
  caf::result<std::string> users(const std::vector<std::string>& args);
  caf::result<std::string> manage_user(const std::string& command,
                                       const std::vector<std::string>& args);
  caf::result<std::string> backup(const std::vector<std::string>& args);

  /// For every member: a row `{id, up, answered: false}` in `rows`; for a member that is up,
  /// `fan.expect()` and `ask(its inspector, the row's index, its id)`; else the row's error.
  template <class Fan, class Ask> void for_each_member(net::json& rows, Fan& fan, Ask ask);
  /// The inspector of member `id` (this node's, or a peer's through its gate); invalid if down.
  inspector_api inspector_of(const std::string& id) const;
};

admin_api::behavior_type admin_actor(admin_api::stateful_pointer<admin_state> self,
                                     const node_context* ctx, admin_options opts);

} // namespace tidings
