#include "actors/gateway.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "actors/readiness.hpp"
#include "actors/session.hpp"

namespace tidings {

namespace {

constexpr std::string_view media_path = "/v1/media";
constexpr auto account_timeout = std::chrono::seconds(60);
constexpr auto token_timeout = std::chrono::seconds(10);
constexpr std::string_view media_prefix = "/v1/media/";

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

http_route route_of(std::string_view method, std::string_view path) {
  if (path == "/v1/accounts")
    return http_route::accounts;
  if (path == "/v1/sessions")
    return http_route::sessions;
  if (path == media_path && method == "POST")
    return http_route::media_upload;
  if (path.compare(0, media_prefix.size(), media_prefix) == 0)
    return http_route::media_download;
  if (path == "/metrics")
    return http_route::metrics;
  if (path == "/healthz")
    return http_route::healthz;
  return http_route::other;
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
  auto path = request.target.substr(0, request.target.find('?'));
  reply = timed_reply(ctx_.metrics, route_of(request.method, path), std::move(reply));
  if (path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD")
      return reply(http_error(errc::bad_request, "use GET"));
    return reply({200, "application/json", R"({"status":"ok"})", {}});
  }
  if (path == "/readyz") {
    if (request.method != "GET" && request.method != "HEAD")
      return reply(http_error(errc::bad_request, "use GET"));
    return ctx_.ready->check([reply](const readiness::verdict& v) {
      reply({v.ready ? 200u : 503u, "application/json", readiness::body(v), {}});
    });
  }
  if (path == "/metrics") {
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
  if (path == "/v1/accounts" && request.method == "POST" && !ctx_.settings.registration_open)
    return reply(http_error(errc::forbidden, "registration is closed on this server: accounts "
                                             "are created by its administrator"));
  if (path == "/v1/accounts" || path == "/v1/sessions" || path == "/v1/devices" ||
      path.compare(0, 12, "/v1/devices/") == 0) {
    account_request req{std::move(request.method), std::string{path}, std::move(request.bearer),
                        std::move(request.body)};
    auto worker = ctx_.accounts_of(req); // in a cluster, on the user's home node
    // A short-lived actor asks the worker and completes the HTTP reply: the reply function
    // stays in this process, never in a message.
    sys_.spawn([worker, req = std::move(req),
                reply = std::move(reply)](caf::event_based_actor* self) mutable {
      if (!worker) {
        auto res = http_error(errc::unavailable, "the user's home node is down, retry");
        res.headers.emplace_back("Retry-After", "1");
        reply(std::move(res));
        return self->quit();
      }
      self->request(worker, account_timeout, atom::account::value, std::move(req))
          .then(
              [self, reply](const account_reply& r) {
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
  if (path == media_path) // POST is streamed (route_body); nothing else is served here
    return reply(http_error(errc::bad_request, "use POST"));
  if (path.compare(0, media_prefix.size(), media_prefix) == 0) {
    if (request.method != "GET" && request.method != "HEAD")
      return reply(http_error(errc::bad_request, "use GET or HEAD"));
    auto hash = std::string{path.substr(media_prefix.size())};
    auto bearer = request.bearer;
    auto& media = media_;
    return with_user(
        bearer,
        [&media, hash, request = std::move(request), reply](const std::string& user) {
          media.download(user, hash, request, reply);
        },
        reply);
  }
  if (web_ != nullptr && (request.method == "GET" || request.method == "HEAD") &&
      path.compare(0, 4, "/v1/") != 0)
    return reply(web_->serve(request));
  reply(http_error(errc::not_found, "no such endpoint"));
}

void gateway::route_body_async(const net::http_request& head, net::body_decision decide) {
  if (head.method != "POST" || head.target.substr(0, head.target.find('?')) != media_path)
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
