#include "actors/context.hpp"

#include <algorithm>
#include <iostream>

#include "actors/accounts.hpp"

namespace tidings {

bool node_context::is_home(const std::string& user) const {
  return cluster == nullptr || (cluster->is_local(user) && !cluster->awaiting(user));
}

caf::actor node_context::home_gate(const std::string& user) const {
  return cluster->gate(cluster->home(user));
}

routing_service node_context::directory_of(const std::string& user) const {
  // The routing part of the local directory, or of the home's gate (which passes it on).
  if (is_home(user))
    return directory;
  return caf::actor_cast<routing_service>(home_gate(user));
}

routing_service node_context::delivery_route(const std::string& to, bool sticky,
                                             bool* via_handoff) const {
  *via_handoff = false;
  if (is_home(to))
    return directory;
  const auto& home = cluster->home(to);
  if (home == cluster->self())
    return {}; // its data is on its way here: `unavailable`, never a handoff to itself
  auto gate = cluster->gate(home);
  if (gate && !sticky && !cluster->handoff_pending(home))
    return caf::actor_cast<routing_service>(gate);
  *via_handoff = static_cast<bool>(handoff);
  return caf::actor_cast<routing_service>(handoff); // it takes deliver_request only
}

profile_service node_context::profile_of(const std::string& user) const {
  return is_home(user) ? shard(profiles, user) : caf::actor_cast<profile_service>(home_gate(user));
}

lastseen_service node_context::lastseen_of(const std::string& user) const {
  return is_home(user) ? shard(lastseen, user) : caf::actor_cast<lastseen_service>(home_gate(user));
}

registry_service node_context::registry_of(const std::string& user) const {
  return is_home(user) ? registry_service{registry}
                       : caf::actor_cast<registry_service>(home_gate(user));
}

registry_service node_context::registry_of_token(const std::string& token) const {
  auto named = std::string{token_user(token)};
  return named.empty() ? registry_service{registry} : registry_of(named);
}

media_api node_context::media_of(const std::string& hash) const {
  return is_home(hash) ? media_api{media} : caf::actor_cast<media_api>(home_gate(hash));
}

accounts_service node_context::accounts_of(const account_request& req) const {
  auto user = accounts_user(req);
  if (user.empty() || is_home(user))
    return accounts[accounts_shard(req, user, accounts.size())];
  return caf::actor_cast<accounts_service>(home_gate(user));
}

accounts_service node_context::accounts_of_user(const std::string& user) const {
  if (is_home(user))
    return accounts[cluster::shard_of(user, accounts.size())];
  return caf::actor_cast<accounts_service>(home_gate(user));
}

std::vector<std::pair<lastseen_service, std::vector<std::string>>>
node_context::lastseen_groups(std::vector<std::string> users) const {
  std::vector<std::pair<lastseen_service, std::vector<std::string>>> out;
  for (auto& user : users) {
    auto dest = lastseen_of(user);
    if (!dest)
      continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == dest; });
    if (it == out.end())
      it = out.emplace(out.end(), std::move(dest), std::vector<std::string>{});
    it->second.push_back(std::move(user));
  }
  return out;
}

event_log& node_context::logs() const {
  if (log != nullptr)
    return *log;
  static event_log quiet{[] {
    log_options o;
    o.level = log_level::error;
    o.out = &std::cerr;
    return o;
  }()};
  return quiet;
}

std::string node_context::node_name(const caf::node_id& node, const caf::node_id& here) const {
  if (node == here)
    return cluster ? cluster->self() : "local";
  if (cluster != nullptr)
    for (const auto& m : cluster->peers())
      if (auto gate = cluster->gate(m.id); gate && gate.node() == node)
        return m.id;
  return "?";
}

std::string_view token_user(std::string_view token) {
  auto colon = token.find(':');
  return colon == std::string_view::npos ? std::string_view{} : token.substr(0, colon);
}

} // namespace tidings
