#include "actors/gateway.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "actors/session.hpp"

namespace tidings {

namespace {

/// Forwards one connection's events to its session actor.
class session_handler : public net::ws_handler {
public:
  explicit session_handler(caf::actor session) : session_(std::move(session)) {}
  void on_frame(std::string data, bool binary) override {
    caf::anon_send(session_, atom::frame::value, std::move(data), binary);
  }
  void on_close() override { caf::anon_send(session_, atom::wsclosed::value); }

private:
  caf::actor session_;
};

} // namespace

std::unique_ptr<net::ws_handler> gateway::open_ws(std::shared_ptr<net::ws_peer> peer,
                                                  std::string bearer, std::string target) {
  // Header auth has no auth frame to take the encoding from: `?encoding=msgpack` picks it.
  auto enc = target.find("encoding=msgpack") != std::string::npos ? net::encoding::msgpack
                                                                  : net::encoding::json;
  auto session = sys_.spawn(session_actor, &ctx_, std::move(peer), std::move(bearer), enc);
  return std::make_unique<session_handler>(std::move(session));
}

void gateway::handle_http(net::http_request request, net::http_reply reply) {
  auto path = request.target.substr(0, request.target.find('?'));
  if (path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD")
      return reply(http_error(errc::bad_request, "use GET"));
    return reply({200, "application/json", R"({"status":"ok"})", {}});
  }
  if (path == "/v1/accounts" || path == "/v1/sessions") {
    auto& worker = accounts_[accounts_shard(request, accounts_.size())];
    caf::anon_send(worker, atom::account::value, std::move(request),
                   http_reply_fn{std::move(reply)});
    return;
  }
  reply(http_error(errc::not_found, "no such endpoint"));
}

} // namespace tidings
