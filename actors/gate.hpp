#pragma once
// gate actor: one per node, the node's face to its peers in a cluster.
//
// Other nodes reach this node's services only through its gate (handed over in the cluster
// handshake): a request naming a user is passed on (delegated) to the local actor that owns
// that user's data — the directory for inbox traffic, the user's profile or lastseen shard,
// an accounts worker, the registry, the media actor (for the blobs homed here) — so the answer goes
// straight back to the remote requester. The gate holds no state and never blocks; it only picks
// the local shard, the one thing a remote node cannot know. A request about a user or blob this
// node does not serve (homed elsewhere since a member was added, or still arriving here) goes
// where this node's own actors would send it (node_context): on to the new home, or refused
// with `unavailable`. Handover batches from peers go to the handover actor.

#include <caf/all.hpp>

#include "actors/context.hpp"

namespace tidings {

gate_service::behavior_type gate_actor(gate_service::pointer self, const node_context* ctx);

} // namespace tidings
