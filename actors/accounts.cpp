#include "actors/accounts.hpp"

#include <algorithm>
#include <cstring>

#include <sodium.h>

#include "actors/messages.hpp"
#include "cluster/placement.hpp"
#include "net/codec.hpp"
#include "net/fields.hpp"

namespace tidings {

using net::json;

namespace {

unsigned status_of(errc code) {
  switch (code) {
  case errc::bad_request:
    return 400;
  case errc::unauthorized:
    return 401;
  case errc::forbidden:
    return 403;
  case errc::not_found:
    return 404;
  case errc::user_exists:
    return 409;
  case errc::too_large:
    return 413;
  case errc::rate_limited:
    return 429;
  case errc::overloaded:
  case errc::unavailable:
    return 503;
  case errc::internal:
    return 500;
  }
  return 500;
}

net::http_response json_response(unsigned status, const json& body) {
  net::http_response res;
  res.status = status;
  res.body = body.dump();
  return res;
}

struct credentials {
  std::string user;
  std::string password;
  std::optional<std::string> device; ///< a login's device name, if it names one
};

account_reply to_reply(net::http_response answer) {
  account_reply reply{static_cast<uint16_t>(answer.status), std::move(answer.body), 0};
  for (const auto& [name, value] : answer.headers)
    if (name == "Retry-After")
      reply.retry_after_s = static_cast<uint32_t>(std::stoul(value));
  return reply;
}

constexpr auto inbox_timeout = std::chrono::seconds(30);

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

/// Parses `{"user","password"}`; on failure sets `error`.
std::optional<credentials> read_credentials(const std::string& body, net::http_response* error) {
  std::string why;
  auto value = net::decode(body, net::encoding::json, &why);
  if (!value) {
    *error = http_error(errc::bad_request, "body must be a JSON object: " + why);
    return std::nullopt;
  }
  net::frame_doc doc;
  doc.assign(std::move(*value));
  net::field_reader r{doc.root()};
  auto user = r.user("user");
  auto password = r.bytes("password", 8, 256);
  auto device = r.text("device", 1, 64, false);
  if (r.ok() && device && has_control(*device))
    r.fail("device: control characters are not allowed");
  if (!r.ok()) {
    *error = http_error(errc::bad_request, r.error());
    return std::nullopt;
  }
  return credentials{*user, *password, device};
}

} // namespace

std::string token_key(std::string_view token) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return out;
}

std::string token_key_hex(std::string_view token) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : token_key(token)) {
    out += hex[c >> 4];
    out += hex[c & 0xF];
  }
  return out;
}

net::http_response http_error(errc code, std::string_view message) {
  return json_response(status_of(code), json{{"error", to_string(code)}, {"message", message}});
}

std::string accounts_user(const account_request& req) {
  if (req.method == "DELETE" || req.path.compare(0, 11, "/v1/devices") == 0)
    return std::string{token_user(req.bearer)};
  if (auto v = net::decode(req.body, net::encoding::json, nullptr);
      v && v->is_object() && v->contains("user") && (*v)["user"].is_string())
    return (*v)["user"].get<std::string>();
  return {};
}

std::size_t accounts_shard(const account_request& req, const std::string& user,
                           std::size_t shards) {
  // Requests naming a user go to that user's shard; a logout with an old-style token (which
  // names nobody) by the token.
  return cluster::shard_of(user.empty() ? req.bearer : user, shards);
}

std::size_t accounts_shard(const account_request& req, std::size_t shards) {
  return accounts_shard(req, accounts_user(req), shards);
}

net::http_response accounts_state::create(const account_request& req) {
  net::http_response error;
  auto cred = read_credentials(req.body, &error);
  if (!cred)
    return error;
  auto exists = ctx->store->contains(storage::table::accounts, cred->user);
  if (exists == storage::answer::failed)
    return http_error(errc::unavailable, "storage unavailable, retry");
  if (exists == storage::answer::yes)
    return http_error(errc::user_exists, "user already exists");
  std::string hash(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str(hash.data(), cred->password.data(), cred->password.size(),
                        ctx->settings.argon2_ops, ctx->settings.argon2_mem_kib * 1024) != 0)
    return http_error(errc::overloaded, "out of memory while hashing");
  hash.resize(std::strlen(hash.c_str()));
  storage::batch b;
  b.put(storage::table::accounts, cred->user,
        net::encode(json{{"argon2id", hash}, {"created", ctx->now()}}, net::encoding::msgpack));
  if (!ctx->store->write(b).ok()) {
    ctx->logs().error("storage error: account not written", {{"user", cred->user}});
    return http_error(errc::unavailable, "storage unavailable");
  }
  node_metrics::add(ctx->metrics->registrations);
  ctx->logs().info("account created", {{"user", cred->user}});
  return json_response(201, json{{"user", cred->user}});
}

caf::result<account_reply> accounts_state::login(const account_request& req) {
  net::http_response error;
  auto cred = read_credentials(req.body, &error);
  if (!cred)
    return to_reply(error);
  auto now = ctx->now();
  auto& recent = failures[cred->user];
  while (!recent.empty() && now - recent.front() >= 60'000)
    recent.pop_front();
  if (recent.size() >= ctx->settings.login_failures_per_min) {
    node_metrics::add(ctx->metrics->logins_failed);
    ctx->logs().warn("login refused: too many failures", {{"user", cred->user}});
    auto h = http_error(errc::rate_limited, "too many failed logins, try again later");
    h.headers.emplace_back("Retry-After",
                           std::to_string((60'000 - (now - recent.front())) / 1000 + 1));
    return to_reply(h);
  }
  auto record = ctx->store->get(storage::table::accounts, cred->user);
  if (record.failed())
    return to_reply(http_error(errc::unavailable, "storage unavailable, retry"));
  std::string hash;
  if (record.found())
    if (auto v = net::decode(record.value(), net::encoding::msgpack, nullptr))
      hash = v->value("argon2id", "");
  bool ok = !hash.empty() && crypto_pwhash_str_verify(hash.c_str(), cred->password.data(),
                                                      cred->password.size()) == 0;
  if (!ok) {
    recent.push_back(now);
    node_metrics::add(ctx->metrics->logins_failed);
    ctx->logs().warn("login failed: wrong user or password", {{"user", cred->user}});
    return to_reply(http_error(errc::unauthorized, "wrong user or password"));
  }
  if (recent.empty())
    failures.erase(cred->user);
  // The token names its user, so any node knows where it is kept (the user's home).
  auto token = cred->user + ":" + random_id(32);
  auto store_token = [this, token, user = cred->user](json body) {
    storage::batch b;
    b.put(storage::table::tokens, token_key(token), user);
    if (!ctx->store->write(b).ok()) {
      ctx->logs().error("storage error: token not written", {{"user", user}});
      return to_reply(http_error(errc::unavailable, "storage unavailable"));
    }
    node_metrics::add(ctx->metrics->logins_ok);
    ctx->logs().info("login", {{"user", user}});
    return to_reply(json_response(200, body));
  };
  if (!cred->device)
    return store_token(json{{"user", cred->user}, {"token", token}});
  // The device is registered with the user's inbox (durably) before the token exists.
  auto home = ctx->directory_of(cred->user);
  if (!home)
    return to_reply(http_error(errc::unavailable, "the user's inbox is unavailable, retry"));
  auto rp = self->make_response_promise<account_reply>();
  self->request(home, inbox_timeout, atom::devices::value, atom::add_item::value, cred->user,
                *cred->device, token_key_hex(token))
      .then(
          [rp, store_token, user = cred->user, token](uint32_t id) mutable {
            rp.deliver(store_token(json{{"user", user}, {"token", token}, {"device", id}}));
          },
          [rp](const caf::error& err) mutable {
            rp.deliver(
                to_reply(to_errc(err) == errc::forbidden
                             ? http_error(errc::forbidden, "too many devices: remove one first "
                                                           "(DELETE /v1/devices/ID)")
                             : http_error(errc::unavailable, "devices unavailable, retry")));
          });
  return rp;
}

net::http_response accounts_state::logout(const account_request& req) {
  if (req.bearer.empty())
    return http_error(errc::unauthorized, "missing bearer token");
  auto key = token_key(req.bearer);
  auto known = ctx->store->contains(storage::table::tokens, key);
  if (known == storage::answer::failed)
    return http_error(errc::unavailable, "storage unavailable, retry");
  if (known == storage::answer::no)
    return http_error(errc::unauthorized, "invalid or revoked token");
  storage::batch b;
  b.del(storage::table::tokens, key);
  if (!ctx->store->write(b).ok())
    return http_error(errc::unavailable, "storage unavailable");
  net::http_response res;
  res.status = 204;
  return res;
}

std::optional<std::string> accounts_state::bearer_owner(const account_request& req,
                                                        net::http_response* error) {
  if (req.bearer.empty()) {
    *error = http_error(errc::unauthorized, "missing bearer token");
    return std::nullopt;
  }
  auto owner = ctx->store->get(storage::table::tokens, token_key(req.bearer));
  if (owner.failed()) {
    *error = http_error(errc::unavailable, "storage unavailable, retry");
    return std::nullopt;
  }
  auto named = token_user(req.bearer);
  if (!owner.found() || (!named.empty() && named != owner.value())) {
    *error = http_error(errc::unauthorized, "invalid or revoked token");
    return std::nullopt;
  }
  return std::move(owner.value());
}

void accounts_state::with_devices(const std::string& user, reply_promise rp,
                                  std::function<void(json&)> then) {
  auto home = ctx->directory_of(user);
  if (!home) {
    rp.deliver(to_reply(http_error(errc::unavailable, "the user's inbox is unavailable")));
    return;
  }
  self->request(home, inbox_timeout, atom::devices::value, atom::list::value, user)
      .then(
          [rp, then](const std::string& list) mutable {
            auto answer = net::decode(list, net::encoding::json, nullptr);
            if (!answer || !answer->contains("devices") || !(*answer)["devices"].is_array()) {
              rp.deliver(to_reply(http_error(errc::internal, "bad device list")));
              return;
            }
            then((*answer)["devices"]);
          },
          [rp](const caf::error&) mutable {
            rp.deliver(to_reply(http_error(errc::unavailable, "devices unavailable, retry")));
          });
}

caf::result<account_reply> accounts_state::devices(const account_request& req) {
  net::http_response error;
  auto user = bearer_owner(req, &error);
  if (!user)
    return to_reply(error);
  auto mine = token_key_hex(req.bearer);
  if (req.path == "/v1/devices") {
    if (req.method != "GET")
      return to_reply(http_error(errc::bad_request, "use GET"));
    // (A response promise is made only once the request is accepted: once made, it is the
    // answer, and a returned value would be dropped.)
    auto rp = self->make_response_promise<account_reply>();
    with_devices(*user, rp, [rp, mine](json& devices) mutable {
      // A token in no device's list is the unnamed device's.
      bool named = false;
      for (auto& d : devices)
        for (const auto& t : d["tokens"])
          named = named || t == mine;
      for (auto& d : devices) {
        bool current = false;
        for (const auto& t : d["tokens"])
          current = current || t == mine;
        d["current"] = current || (!named && d["id"] == 0);
        d.erase("tokens");
      }
      rp.deliver(to_reply(json_response(200, json{{"devices", devices}})));
    });
    return rp;
  }
  auto id_text = req.path.substr(std::string_view{"/v1/devices/"}.size());
  if (req.method != "DELETE")
    return to_reply(http_error(errc::bad_request, "use DELETE"));
  if (id_text.empty() || id_text.size() > 9 ||
      id_text.find_first_not_of("0123456789") != std::string::npos)
    return to_reply(http_error(errc::bad_request, "device id must be a number"));
  auto id = static_cast<uint32_t>(std::stoul(id_text));
  auto rp = self->make_response_promise<account_reply>();
  with_devices(*user, rp, [this, rp, id, user = *user](json& devices) mutable {
    const json* device = nullptr;
    for (const auto& d : devices)
      if (d["id"] == id)
        device = &d;
    if (device == nullptr) {
      rp.deliver(to_reply(http_error(errc::not_found, "no such device")));
      return;
    }
    // Its tokens go first: a token of a removed device must never fall back to the unnamed one.
    storage::batch b;
    for (const auto& t : (*device)["tokens"]) {
      std::string raw;
      auto hex = t.get<std::string>();
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      b.del(storage::table::tokens, raw);
    }
    if (b.count() > 0 && !ctx->store->write(b).ok()) {
      rp.deliver(to_reply(http_error(errc::unavailable, "storage unavailable, retry")));
      return;
    }
    auto home = ctx->directory_of(user);
    if (!home) {
      rp.deliver(to_reply(http_error(errc::unavailable, "the user's inbox is unavailable")));
      return;
    }
    self->request(home, inbox_timeout, atom::devices::value, atom::remove_item::value, user, id)
        .then(
            [rp, this, user, id](bool) mutable {
              ctx->logs().info("device removed", {{"user", user}, {"device", int64_t{id}}});
              net::http_response res;
              res.status = 204;
              rp.deliver(to_reply(std::move(res)));
            },
            [rp](const caf::error& err) mutable {
              rp.deliver(to_reply(to_errc(err) == errc::not_found
                                      ? http_error(errc::not_found, "no such device")
                                      : http_error(errc::unavailable, "devices unavailable")));
            });
  });
  return rp;
}

caf::result<account_reply> accounts_state::handle(const account_request& req) {
  if (req.path == "/v1/accounts" && req.method == "POST")
    return to_reply(create(req));
  if (req.path == "/v1/sessions" && req.method == "POST")
    return login(req);
  if (req.path == "/v1/sessions" && req.method == "DELETE")
    return to_reply(logout(req));
  if (req.path == "/v1/devices" || req.path.compare(0, 12, "/v1/devices/") == 0)
    return devices(req);
  return to_reply(http_error(errc::not_found, "no such endpoint"));
}

registry_service::behavior_type registry_actor(registry_service::pointer, const node_context* ctx) {
  return {
      [ctx](atom::token, const std::string& token) -> caf::result<std::string> {
        auto owner = ctx->store->get(storage::table::tokens, token_key(token));
        if (owner.failed())
          return make_error(errc::unavailable);
        auto named = token_user(token);
        if (!owner.found() || (!named.empty() && named != owner.value()))
          return std::string{};
        return std::move(owner.value());
      },
      [ctx](atom::exists, const std::string& user) -> caf::result<bool> {
        auto exists = ctx->store->contains(storage::table::accounts, user);
        if (exists == storage::answer::failed)
          return make_error(errc::unavailable);
        return exists == storage::answer::yes;
      },
  };
}

accounts_service::behavior_type
accounts_actor(accounts_service::stateful_pointer<accounts_state> self, const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  return {
      [self](atom::account, const account_request& req) { return self->state.handle(req); },
  };
}

} // namespace tidings
