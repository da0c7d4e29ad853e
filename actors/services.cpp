#include "actors/services.hpp"

#include "actors/counted.hpp"
#include "actors/lastseen.hpp"
#include "actors/profile.hpp"

namespace tidings {

void spawn_services(caf::actor_system& sys, node_context& ctx) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, ctx.settings.shards); ++i) {
    ctx.profiles.push_back(spawn_counted(sys, profile_actor, &ctx));
    ctx.lastseen.push_back(spawn_counted(sys, lastseen_actor, &ctx));
  }
}

void stop_services(node_context& ctx) {
  for (auto& a : ctx.profiles)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : ctx.lastseen)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

} // namespace tidings
