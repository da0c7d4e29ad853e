#pragma once
// What every actor of a node shares: settings, the store, the clock, well-known actors.
// Immutable once the node has started (no shared mutable state): actors only read it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/interfaces.hpp"

#include "actors/event_log.hpp"
#include "actors/metrics.hpp"
#include "cluster/members.hpp"
#include "cluster/placement.hpp"
#include "storage/db.hpp"
#include "storage/group_writer.hpp"

namespace tidings {

/// Milliseconds since the Unix epoch. Injected so tests can control time.
using clock_fn = std::function<int64_t()>;

int64_t system_clock_ms();

/// Tunables, each an option of tidings-node (docs/OPERATIONS.md).
struct node_settings {
  std::size_t push_window = 256;           ///< pushed-but-unacked items per session
  std::size_t push_window_bytes = 4 << 20; ///< and at most this many bytes of them
  std::size_t frame_limit = 128 * 1024;    ///< bytes per WebSocket frame
  int64_t idle_timeout_ms = 60'000;        ///< session closed after this long without a frame
  int64_t auth_timeout_ms = 10'000;        ///< time to send `auth`
  std::size_t max_bad_frames = 20;         ///< bad frames tolerated before close 4003
  double rate_per_sec = 50;                ///< sustained frames per second per session
  double rate_burst = 200;                 ///< token bucket size
  std::size_t max_inflight_sends = 256;    ///< unanswered sends per session before `overloaded`
  int64_t inbox_idle_stop_ms = 60'000;     ///< an inbox without session stops after this
  int64_t dedupe_retention_ms = 48LL * 3600 * 1000; ///< (sender, cid) remembered this long
  int64_t sweep_interval_ms = 60'000;               ///< period of the dedupe expiry steps
  int64_t read_receipt_retention_ms =
      30LL * 24 * 3600 * 1000;             ///< messages older are never reported read
  int64_t lastseen_persist_ms = 60'000;    ///< a user's last seen is written at most this often
  std::size_t shards = 4;                  ///< profile and lastseen actors per node
  std::size_t inbox_backlog = 10'000;      ///< queued messages before an inbox answers overloaded
  std::size_t service_backlog = 10'000;    ///< queued messages before directory/lastseen refuse
  std::size_t handoff_max = 100'000;       ///< sends kept for down homes before `overloaded`
  int64_t tick_ms = 1'000;                 ///< period of the actors' housekeeping timers
  unsigned argon2_ops = 2;                 ///< argon2id passes
  std::size_t argon2_mem_kib = 19 * 1024;  ///< argon2id memory
  std::size_t login_failures_per_min = 10; ///< per user, then 429
  bool registration_open = true; ///< false: `POST /v1/accounts` is refused (403 forbidden)
  std::size_t login_failures_per_address = 100; ///< per source address a minute, then 429; 0: off
  std::size_t account_queue = 16; ///< account requests queued per worker before `overloaded`
  std::size_t max_devices = 5;    ///< live sessions per user, one per device
  int64_t device_retention_ms =
      30LL * 24 * 3600 * 1000; ///< a device unseen this long no longer holds inbox items back
};

class readiness;

struct node_context {
  node_settings settings;
  storage::db* store = nullptr;
  storage::group_writer* writer = nullptr; ///< every inbox write goes through it
  clock_fn now = system_clock_ms;
  directory_service directory;            ///< routes to the inboxes of users homed here
  node_metrics* metrics = nullptr;        ///< counters for /metrics (atomics)
  std::vector<profile_service> profiles;  ///< profile service shards
  std::vector<lastseen_service> lastseen; ///< lastseen service shards
  std::vector<accounts_service> accounts; ///< accounts workers (argon2id, detached)
  registry_node_service registry;         ///< tokens and account existence
  cluster::view* cluster = nullptr;       ///< the members and who is up; null: one node
  caf::actor handoff;                     ///< sends for homes that are down (cluster only)
  media_service media;                    ///< the media tables and files
  handover_service handover;              ///< rows moving here after members were added
  readiness* ready = nullptr;             ///< what /readyz answers (thread-safe)
  event_log* log = nullptr;               ///< the node's log (see logs())
  inspector_api inspector;                ///< answers the admin actors of the cluster
  int64_t started_ms = 0;                 ///< when the node started (ms since the epoch)

  /// The shard of `user` among `shards`.
  template <class Handle>
  const Handle& shard(const std::vector<Handle>& shards, const std::string& user) const {
    return shards[cluster::shard_of(user, shards.size())];
  }

  // Where a user's data lives: the local actor when this node is the user's home, else the
  // home's gate (seen through the service's interface). An invalid handle means the home is
  // down, or is this node while the user's data is still on its way here from its previous
  // home (after a member was added: cluster/transition.hpp): callers answer `unavailable` with
  // a jittered `retry_ms`.
  /// Whether this node serves `user` (or blob hash) now: its home, with its data here.
  bool is_home(const std::string& user) const;
  routing_service directory_of(const std::string& user) const;
  /// Where a send to `to` goes: `directory_of(to)`, or this node's handoff when the home is
  /// down, its queue is replaying, or `sticky` (the session still waits for a send it routed
  /// to the handoff: later ones must not overtake it). `via_handoff` tells which.
  routing_service delivery_route(const std::string& to, bool sticky, bool* via_handoff) const;
  profile_service profile_of(const std::string& user) const;
  lastseen_service lastseen_of(const std::string& user) const;
  registry_service registry_of(const std::string& user) const;
  /// The registry that keeps `token`: that of the user it names (`token_user`), or this
  /// node's for an old-style token naming nobody.
  registry_service registry_of_token(const std::string& token) const;
  /// The media service of the home of blob `hash` (rendezvous over the hash, like a user's
  /// home): it owns the blob's index record and read grants and keeps its bytes.
  media_api media_of(const std::string& hash) const;
  /// Whether this node is the home of blob `hash` (always, on a single node).
  bool is_media_home(const std::string& hash) const { return is_home(hash); }
  accounts_service accounts_of(const account_request& req) const;
  /// The accounts worker of `user` (on the user's home).
  accounts_service accounts_of_user(const std::string& user) const;
  /// `users` grouped by the lastseen actor each one's presence lives in (local shards, or the
  /// gates of their homes); users whose home is down are left out.
  std::vector<std::pair<lastseen_service, std::vector<std::string>>>
  lastseen_groups(std::vector<std::string> users) const;

  /// The cluster id of the node `node` (this one's: `here`; "local" on a single node), or "?"
  /// if it is not a member that is up.
  std::string node_name(const caf::node_id& node, const caf::node_id& here) const;
  /// The node's log; without one (actor tests), a log of errors only, on std::cerr.
  event_log& logs() const;
  /// This node's cluster id ("" on a single node).
  std::string self_name() const { return cluster ? cluster->self() : std::string{}; }

private:
  caf::actor home_gate(const std::string& user) const;
};

/// The user a bearer token names (tokens are `USER:SECRET`), or "" for a token of the older
/// form that names nobody (valid on its own node only).
std::string_view token_user(std::string_view token);

/// `bytes` as lowercase hex, and back (`hex` as hex_of writes it).
std::string hex_of(std::string_view bytes);
std::string bytes_of_hex(std::string_view hex);

/// A random identifier: `bytes` random bytes as lowercase hex.
std::string random_id(std::size_t bytes);

/// A random back-off in [base, 2*base) milliseconds, so refused clients do not retry in
/// lockstep (the `retry_ms` of `overloaded`, `unavailable` and the like).
int64_t jittered(int64_t base);

} // namespace tidings
