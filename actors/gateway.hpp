#pragma once
// gateway: the node's `net::application`, where Beast threads hand work to actors.
//
// Spawns one session actor per WebSocket and forwards its frames with anon_send; routes
// account requests to the accounts workers (or refuses account creation when registration is
// closed); answers /healthz and /readyz (actors/readiness.hpp) itself; hands /v1/media
// requests to the media service's HTTP side (actors/media_http.*) once the registry of the
// token's home has said whose the bearer token is (from a short-lived actor; an upload's body
// is not read before that); refuses logins from a source address with too many failed ones
// (`login_throttle`, thread-safe); serves the web client's files (`net::static_site`, if set)
// for GET and HEAD of any other path. Holds no other mutable state: everything it touches is
// immutable after start, an actor handle, or thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/login_throttle.hpp"
#include "actors/media_http.hpp"
#include "net/server.hpp"
#include "net/static_site.hpp"

namespace tidings {

/// `reply`, counting its status and the time since `start` in `metrics` under `route`.
net::http_reply
timed_reply(node_metrics* metrics, http_route route, net::http_reply reply,
            std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now());

class gateway : public net::application {
public:
  /// `web`: the web client's files, or null to serve none.
  gateway(caf::actor_system& sys, const node_context& ctx, media_http& media,
          const net::static_site* web = nullptr)
      : sys_(sys), ctx_(ctx), media_(media), web_(web),
        logins_(ctx.settings.login_failures_per_address) {}

  std::unique_ptr<net::ws_handler> open_ws(std::shared_ptr<net::ws_peer> peer, std::string bearer,
                                           std::string target) override;
  void handle_http(net::http_request request, net::http_reply reply) override;
  void route_body_async(const net::http_request& head, net::body_decision decide) override;

private:
  /// Asks the registry of `bearer`'s home whose token it is, from a short-lived actor; then
  /// `on_user` gets the user, or `on_refused` the answer to give (401, 503).
  void with_user(const std::string& bearer, std::function<void(const std::string&)> on_user,
                 std::function<void(net::http_response)> on_refused);

  caf::actor_system& sys_;
  const node_context& ctx_;
  media_http& media_;
  const net::static_site* web_;
  login_throttle logins_;
};

} // namespace tidings
