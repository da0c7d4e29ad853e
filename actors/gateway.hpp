#pragma once
// gateway: the node's `net::application`, where Beast threads hand work to actors.
//
// Spawns one session actor per WebSocket and forwards its frames with anon_send; routes
// account requests to the accounts workers; answers /healthz itself; hands /v1/media
// requests to the media service's HTTP side (actors/media_http.*) after resolving their bearer
// token (a point read in the tokens table, on the Beast thread). Holds no mutable state:
// everything it touches is immutable after start, an actor handle, or thread-safe.

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/media_http.hpp"
#include "net/server.hpp"

namespace tidings {

class gateway : public net::application {
public:
  gateway(caf::actor_system& sys, const node_context& ctx, media_http& media)
      : sys_(sys), ctx_(ctx), media_(media) {}

  std::unique_ptr<net::ws_handler> open_ws(std::shared_ptr<net::ws_peer> peer, std::string bearer,
                                           std::string target) override;
  void handle_http(net::http_request request, net::http_reply reply) override;
  net::body_route route_body(const net::http_request& head) override;

private:
  /// The user of a bearer token, if it is valid.
  /// The user a bearer token belongs to (absent for none or a revoked one), or failed.
  storage::lookup user_of(const std::string& bearer) const;

  caf::actor_system& sys_;
  const node_context& ctx_;
  media_http& media_;
};

} // namespace tidings
