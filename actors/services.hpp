#pragma once
// The sharded services of a node: profile and lastseen actors, `settings.shards` of each.

#include <caf/all.hpp>

#include "actors/context.hpp"

namespace tidings {

/// Spawns the service shards and records them in `ctx`.
void spawn_services(caf::actor_system& sys, node_context& ctx);
/// Asks every shard to stop (lastseen persists what is pending first).
void stop_services(node_context& ctx);

} // namespace tidings
