#pragma once
// membership actor: one per clustered node. Published over CAF's middleman on the cluster
// port; connects this node to its configured peers and keeps `view` up to date.
//
// Who dials: of two members, the one with the smaller id connects to the other (BASP closes
// a second connection between two nodes that already have one, so both dialing would race).
// The dialer says hello (protocol version, its id, its membership and gate actors, the member
// list it last completed with); the dialed side checks the version and that the id is a
// configured peer, records the dialer's gate and list and answers with its own (the lists
// tell who owes whom a handover after members were added: cluster/transition.hpp). Both sides
// monitor the other's membership actor: a down message (the peer stopped, crashed or the connection
// broke) marks it down, and the dialer dials again with a jittered backoff (0.2 s doubling to 5 s).
// A peer that restarts comes back with a new CAF node id and simply says hello again. An
// incompatible peer is refused with a log line on both sides and retried at the slowest pace (it
// may be a rolling upgrade in progress). Blocks never: connecting goes through the middleman
// actor's asynchronous `connect`.
//
// TLS (`tls`): the node publishes with caf::openssl and this actor dials through the openssl
// manager's middleman actor, which has the same asynchronous `connect` (its TCP connect runs
// on that actor's own thread, not a scheduler thread). Both sides present a certificate and
// verify the other's against the configured CA; a peer that does not speak TLS, or whose
// certificate the CA did not sign, fails the handshake and the dialer logs why. The peer's
// id is not checked against its certificate: the CA defines who belongs to the cluster.

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include <caf/all.hpp>

#include "cluster/members.hpp"

namespace tidings::cluster {

/// The version of the protocol between nodes (messages, handshake). Nodes refuse peers of
/// another version. 2: the handshake carries each node's previous member list (handovers).
/// 3: an inbox answers a session's `read` once the read receipt is stored (it was one-way).
constexpr uint32_t protocol_version = 3;

namespace atom {
using hello = caf::atom_constant<caf::atom("clhello")>; ///< dialer -> dialed: handshake
using dial = caf::atom_constant<caf::atom("cldial")>;   ///< self: (re)connect to a peer
} // namespace atom

struct membership_options {
  uint32_t version = protocol_version;         ///< (a test may pretend another)
  std::function<int64_t()> now;                ///< ms since the epoch
  std::function<void(const std::string&)> log; ///< one line, no newline
  int64_t backoff_min_ms = 200;
  int64_t backoff_max_ms = 5000;
  std::chrono::milliseconds request_timeout{10'000};
  /// Dial through caf::openssl's middleman actor (its manager must be loaded and configured).
  bool tls = false;
};

struct membership_state {
  static inline const char* name = "membership";

  struct peer {
    member config;
    bool dialer = false;   ///< this node connects to it (its id is smaller)
    bool dialing = false;  ///< a connect or hello is in flight
    caf::actor membership; ///< its membership actor while up
    int64_t backoff_ms = 0;
    std::string last_error; ///< logged once until something changes
  };

  caf::event_based_actor* self = nullptr;
  view* members = nullptr;
  caf::actor gate; ///< this node's gate, handed to every peer
  membership_options opts;
  std::unordered_map<std::string, peer> peers;

  void start();
  void dial(const std::string& id);
  caf::result<uint32_t, std::string, caf::actor, std::vector<std::string>>
  on_hello(uint32_t version, const std::string& id, const caf::actor& membership,
           const caf::actor& their_gate, std::vector<std::string> their_previous);
  void on_down(const caf::down_msg& dm);

private:
  void up(peer& p, caf::actor membership, caf::actor their_gate,
          std::vector<std::string> their_previous);
  /// Dials `p` again after a backoff; `refused` (an incompatible or unknown peer) waits the
  /// longest, anything else backs off from the shortest.
  void retry(peer& p, const std::string& why, bool refused = false);
  /// Why a connect failed, in words an operator can act on (TLS mismatches named as such).
  std::string connect_failure(const caf::error& err) const;
  void log(const std::string& line) const;
};

/// `members` and `gate` must outlive the actor.
caf::behavior membership_actor(caf::stateful_actor<membership_state>* self, view* members,
                               caf::actor gate, membership_options opts);

} // namespace tidings::cluster
