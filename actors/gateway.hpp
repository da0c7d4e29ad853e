#pragma once
// gateway: the node's `net::application`, where Beast threads hand work to actors.
//
// Spawns one session actor per WebSocket and forwards its frames with anon_send; routes
// account requests to the accounts workers; answers /healthz itself. Holds no mutable
// state: everything it touches is immutable after start or an actor handle.

#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "net/server.hpp"

namespace tidings {

class gateway : public net::application {
public:
  gateway(caf::actor_system& sys, const node_context& ctx, std::vector<caf::actor> accounts)
      : sys_(sys), ctx_(ctx), accounts_(std::move(accounts)) {}

  std::unique_ptr<net::ws_handler> open_ws(std::shared_ptr<net::ws_peer> peer, std::string bearer,
                                           std::string target) override;
  void handle_http(net::http_request request, net::http_reply reply) override;

private:
  caf::actor_system& sys_;
  const node_context& ctx_;
  std::vector<caf::actor> accounts_;
};

} // namespace tidings
