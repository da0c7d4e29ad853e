#include "actors/gateway.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "actors/readiness.hpp"
#include "actors/session.hpp"
#include "net/http_api.hpp"

namespace tidings {

namespace {

constexpr auto account_timeout = std::chrono::seconds(60);
constexpr auto token_timeout = std::chrono::seconds(10);

net::http_response unauthorized() {
  return http_error(errc::unauthorized, "missing, invalid or revoked bearer token");
}

net::http_response storage_unavailable() {
  auto res = http_error(errc::unavailable, "storage unavailable, retry");
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

/// Forwards one connection's events to its session actor.
class session_handler : public net::ws_handler {
public:
  explicit session_handler(caf::actor session) : session_(std::move(session)) {}
  void on_frame(std::string data, bool binary) override {
    caf::anon_send(session_, atom::frame::value, std::move(data), binary);
  }
  void on_close(uint16_t code) override { caf::anon_send(session_, atom::wsclosed::value, code); }

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

namespace {

/// The route a request is timed and counted under in /metrics.
http_route metric_route_of(const net::http_route& route) {
  switch (route.endpoint) {
  case net::http_endpoint::accounts:
    return route.path == "/v1/sessions" ? http_route::sessions : http_route::accounts;
  case net::http_endpoint::media_upload:
    return http_route::media_upload;
  case net::http_endpoint::media_download:
    return http_route::media_download;
  case net::http_endpoint::metrics:
    return http_route::metrics;
  case net::http_endpoint::healthz:
    return http_route::healthz;
  default:
    return http_route::other;
  }
}

} // namespace

net::http_reply timed_reply(node_metrics* metrics, http_route route, net::http_reply reply,
                            std::chrono::steady_clock::time_point start) {
  return [metrics, route, start, reply = std::move(reply)](net::http_response res) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    metrics->http_answered(route, res.status, static_cast<uint64_t>(us));
    reply(std::move(res));
  };
}

void gateway::handle_http(net::http_request request, net::http_reply reply) {
  auto route = net::route_of(request.method, request.target);
  reply = timed_reply(ctx_.metrics, metric_route_of(route), std::move(reply));
  switch (route.endpoint) {
  case net::http_endpoint::refused:
    return reply(http_error(errc::bad_request, route.message));
  case net::http_endpoint::not_found:
    if (web_ != nullptr && (request.method == "GET" || request.method == "HEAD") &&
        route.path.compare(0, 4, "/v1/") != 0)
      return reply(web_->serve(request));
    return reply(http_error(errc::not_found, "no such endpoint"));
  case net::http_endpoint::media_upload: // streamed (route_body_async), never buffered here
    return reply(http_error(errc::bad_request, "use POST"));
  default:
    break;
  }
  if (route.endpoint == net::http_endpoint::healthz)
    return reply({200, "application/json", R"({"status":"ok"})", {}});
  if (route.endpoint == net::http_endpoint::readyz)
    return ctx_.ready->check([reply](const readiness::verdict& v) {
      reply({v.ready ? 200u : 503u, "application/json", readiness::body(v), {}});
    });
  if (route.endpoint == net::http_endpoint::metrics) {
    net::http_response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = ctx_.metrics->render();
    if (ctx_.writer != nullptr) {
      auto w = ctx_.writer->stats();
      res.body +=
          "# HELP tidings_storage_writes_total Merged durable writes (fsyncs in sync mode).\n"
          "# TYPE tidings_storage_writes_total counter\ntidings_storage_writes_total " +
          std::to_string(w.writes) +
          "\n# HELP tidings_storage_batches_total Batches written through the group "
          "writer.\n# TYPE tidings_storage_batches_total counter\n"
          "tidings_storage_batches_total " +
          std::to_string(w.batches) + "\n";
    }
    if (ctx_.store != nullptr) {
      auto d = ctx_.store->stats();
      auto counter = [&res](const char* name, const char* help, uint64_t v) {
        res.body += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " counter\n" +
                    name + " " + std::to_string(v) + "\n";
      };
      counter("tidings_db_writes_total", "RocksDB writes (WAL appends).", d.writes);
      counter("tidings_db_puts_total", "Keys written.", d.puts);
      counter("tidings_db_deletes_total", "Keys deleted.", d.deletes);
      counter("tidings_db_gets_total", "Point reads.", d.gets);
      counter("tidings_db_iterators_total", "Iterators created.", d.iterators);
    }
    if (ctx_.cluster != nullptr) {
      std::size_t up = 0;
      auto members = ctx_.cluster->status();
      for (const auto& m : members)
        up += m.up && !m.address.empty();
      res.body += "# HELP tidings_cluster_peers Configured peers of this node.\n"
                  "# TYPE tidings_cluster_peers gauge\ntidings_cluster_peers " +
                  std::to_string(members.size() - 1) +
                  "\n# HELP tidings_cluster_peers_up Peers connected and handshaken.\n"
                  "# TYPE tidings_cluster_peers_up gauge\ntidings_cluster_peers_up " +
                  std::to_string(up) + "\n";
    }
    return reply(std::move(res));
  }
  if (route.endpoint == net::http_endpoint::accounts) {
    if (route.path == "/v1/accounts" && request.method == "POST" &&
        !ctx_.settings.registration_open)
      return reply(http_error(errc::forbidden, "registration is closed on this server: accounts "
                                               "are created by its administrator"));
    bool is_login = route.path == "/v1/sessions" && request.method == "POST";
    if (is_login) {
      if (auto wait = logins_.wait_ms(request.remote, ctx_.now()); wait > 0)
        return reply(http_error(errc::rate_limited,
                                "too many failed logins from this address, try again later", wait));
    }
    account_request req{std::move(request.method), std::move(route.path), std::move(request.bearer),
                        std::move(request.body)};
    auto worker = ctx_.accounts_of(req); // in a cluster, on the user's home node
    // A failed login counts against its source address.
    auto on_status = [this, is_login, remote = std::move(request.remote)](unsigned status) {
      if (is_login && status == 401)
        logins_.failed(remote, ctx_.now());
    };
    // A short-lived actor asks the worker and completes the HTTP reply: the reply function
    // stays in this process, never in a message.
    sys_.spawn([worker, req = std::move(req), on_status = std::move(on_status),
                reply = std::move(reply)](caf::event_based_actor* self) mutable {
      if (!worker) {
        auto res = http_error(errc::unavailable, "the user's home node is down, retry");
        res.headers.emplace_back("Retry-After", "1");
        reply(std::move(res));
        return self->quit();
      }
      self->request(worker, account_timeout, atom::account::value, std::move(req))
          .then(
              [self, reply, on_status](const account_reply& r) {
                on_status(r.status);
                net::http_response res{r.status, "application/json", r.body, {}};
                if (r.retry_after_s > 0)
                  res.headers.emplace_back("Retry-After", std::to_string(r.retry_after_s));
                reply(std::move(res));
                self->quit();
              },
              [self, reply](const caf::error&) {
                auto res = http_error(errc::unavailable, "accounts unavailable, retry");
                res.headers.emplace_back("Retry-After", "1");
                reply(std::move(res));
                self->quit();
              });
    });
    return;
  }
  // media_download
  auto bearer = request.bearer;
  auto& media = media_;
  with_user(
      bearer,
      [&media, hash = std::move(route.hash), request = std::move(request),
       reply](const std::string& user) { media.download(user, hash, request, reply); },
      reply);
}

void gateway::route_body_async(const net::http_request& head, net::body_decision decide) {
  if (net::route_of(head.method, head.target).endpoint != net::http_endpoint::media_upload)
    return decide({});
  auto refuse = [decide, metrics = ctx_.metrics](net::http_response res) {
    metrics->http_answered(http_route::media_upload, res.status, 0);
    net::body_route refused;
    refused.refusal = std::move(res);
    decide(std::move(refused));
  };
  auto& media = media_;
  with_user(
      head.bearer,
      [&media, head, decide](const std::string& user) { decide(media.upload(user, head)); },
      refuse);
}

void gateway::with_user(const std::string& bearer, std::function<void(const std::string&)> on_user,
                        std::function<void(net::http_response)> on_refused) {
  if (bearer.empty())
    return on_refused(unauthorized());
  auto registry = ctx_.registry_of_token(bearer);
  if (!registry) {
    auto res = http_error(errc::unavailable, "the user's home node is down, retry");
    res.headers.emplace_back("Retry-After", "1");
    return on_refused(std::move(res));
  }
  sys_.spawn([registry, bearer, on_user = std::move(on_user),
              on_refused = std::move(on_refused)](caf::event_based_actor* self) {
    self->request(registry, token_timeout, atom::token::value, bearer)
        .then(
            [self, on_user, on_refused](const std::string& user) {
              if (user.empty())
                on_refused(unauthorized());
              else
                on_user(user);
              self->quit();
            },
            [self, on_refused](const caf::error&) {
              on_refused(storage_unavailable());
              self->quit();
            });
  });
}

} // namespace tidings
