#include "actors/accounts.hpp"

#include <algorithm>
#include <cstring>

#include <sodium.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actors/messages.hpp"
#include "cluster/placement.hpp"
#include "net/codec.hpp"
#include "net/http_api.hpp"

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
  // Messages may quote what the client sent (a parse error names the bytes): invalid UTF-8 is
  // replaced, never thrown (a throw here ended the worker: every user of its shard was down).
  res.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return res;
}

account_reply to_reply(net::http_response answer) {
  account_reply reply{static_cast<uint16_t>(answer.status), std::move(answer.body), 0};
  for (const auto& [name, value] : answer.headers)
    if (name == "Retry-After")
      reply.retry_after_s = static_cast<uint32_t>(std::stoul(value));
  return reply;
}

constexpr auto inbox_timeout = std::chrono::seconds(30);

/// Parses `{"user","password"}`; on failure sets `error`.
std::optional<net::credentials> read_credentials(const std::string& body,
                                                 net::http_response* error) {
  std::string why;
  auto cred = net::read_credentials(body, &why);
  if (!cred)
    *error = http_error(errc::bad_request, why);
  return cred;
}

} // namespace

bool account_disabled(std::string_view record) {
  auto v = net::decode(record, net::encoding::msgpack, nullptr);
  return v && v->is_object() && v->value("disabled", false);
}

std::vector<std::string> token_keys_of(storage::db& store, const std::string& user, bool* failed) {
  std::vector<std::string> keys;
  // Every key is a 32-byte hash: all sort below 33 bytes of 0xff.
  auto st = store.scan(storage::table::tokens, "", std::string(33, '\xff'), SIZE_MAX,
                       [&](std::string_view key, std::string_view owner) {
                         if (owner == user)
                           keys.emplace_back(key);
                         return true;
                       });
  if (!st.ok())
    *failed = true;
  return keys;
}

std::string token_key(std::string_view token) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return out;
}

std::string token_key_hex(std::string_view token) {
  return hex_of(token_key(token));
}

net::http_response http_error(errc code, std::string_view message, int64_t retry_ms) {
  json body{{"error", to_string(code)}, {"message", message}};
  if (retry_ms < 0)
    return json_response(status_of(code), body);
  body["retry_ms"] = retry_ms;
  auto res = json_response(status_of(code), body);
  res.headers.emplace_back("Retry-After", std::to_string((retry_ms + 999) / 1000));
  return res;
}

std::string accounts_user(const account_request& req) {
  if (req.method == "DELETE" || req.path.compare(0, 11, "/v1/devices") == 0)
    return std::string{token_user(req.bearer)};
  return net::user_named_in(req.body);
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
    return to_reply(http_error(errc::rate_limited,
                               "too many failed logins for this user, try again later",
                               60'000 - (now - recent.front())));
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
  if (account_disabled(record.value())) {
    ctx->logs().warn("login refused: account disabled", {{"user", cred->user}});
    return to_reply(http_error(errc::forbidden, "account disabled"));
  }
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
  // Sessions authenticated with it end now (the registry watches them, on any node).
  self->send(ctx->registry, atom::revoked::value, key);
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
      b.del(storage::table::tokens, bytes_of_hex(t.get<std::string>()));
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
  if (!niced) {
    // Password hashing is the one CPU-bound job of a node: it yields to message traffic.
    niced = true;
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  }
  // Argon2id work waiting is bounded: past the queue limit a registration or login is
  // refused at once (cheap), so a flood cannot build an unbounded backlog of hashes.
  if (req.method == "POST" && self->mailbox().size() >= ctx->settings.account_queue) {
    node_metrics::add(ctx->metrics->overload_refusals);
    return to_reply(
        http_error(errc::overloaded, "too many account requests, retry", jittered(500)));
  }
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

caf::result<std::vector<std::string>> accounts_state::manage(const std::string& command,
                                                             const std::string& user,
                                                             const std::string& password) {
  using keys = std::vector<std::string>;
  if (command == "create") {
    account_request req;
    req.method = "POST";
    req.path = "/v1/accounts";
    req.body = json{{"user", user}, {"password", password}}.dump();
    auto res = create(req);
    if (res.status == 201)
      return keys{};
    auto body = json::parse(res.body, nullptr, false);
    auto why = body.is_object() ? body.value("message", std::string{}) : std::string{};
    return make_error(res.status == 409   ? errc::user_exists
                      : res.status == 400 ? errc::bad_request
                                          : errc::unavailable,
                      why);
  }
  if (command != "disable" && command != "enable" && command != "revoke" && command != "delete")
    return make_error(errc::bad_request, "unknown account change '" + command + "'");
  auto record = ctx->store->get(storage::table::accounts, user);
  if (record.failed())
    return make_error(errc::unavailable, "storage unavailable, retry");
  if (!record.found())
    return make_error(errc::not_found, "no such user");
  storage::batch b;
  keys revoked;
  if (command != "enable") {
    bool failed = false;
    revoked = token_keys_of(*ctx->store, user, &failed);
    if (failed)
      return make_error(errc::unavailable, "storage unavailable, retry");
    for (const auto& key : revoked)
      b.del(storage::table::tokens, key);
  }
  if (command == "delete") {
    b.del(storage::table::accounts, user);
  } else if (command != "revoke") {
    auto v = net::decode(record.value(), net::encoding::msgpack, nullptr);
    if (!v || !v->is_object())
      return make_error(errc::internal, "the account record cannot be read");
    if (command == "disable")
      (*v)["disabled"] = true;
    else
      v->erase("disabled");
    b.put(storage::table::accounts, user, net::encode(*v, net::encoding::msgpack));
  }
  if (!ctx->store->write(b).ok()) {
    ctx->logs().error("storage error: account change not written", {{"user", user}});
    return make_error(errc::unavailable, "storage unavailable, retry");
  }
  // Sessions using these tokens end now, told why (the registry watches them, on any node).
  auto why = command == "disable"  ? "account disabled"
             : command == "delete" ? "account deleted"
                                   : "token revoked";
  if (!revoked.empty())
    self->send(ctx->registry, atom::revoked::value, revoked, std::string{why});
  ctx->logs().info("account changed by the administrator",
                   {{"user", user}, {"change", command}, {"tokens_revoked", revoked.size()}});
  return revoked;
}

caf::result<std::string> registry_state::check(const std::string& token,
                                               const caf::actor& session) {
  auto key = token_key(token);
  auto owner = ctx->store->get(storage::table::tokens, key);
  if (owner.failed())
    return make_error(errc::unavailable);
  auto named = token_user(token);
  if (!owner.found() || (!named.empty() && named != owner.value()))
    return std::string{};
  if (session && watched.emplace(session.address(), key).second) {
    self->monitor(session);
    watchers[key].push_back(session);
  }
  return std::move(owner.value());
}

caf::result<bool> registry_state::exists(const std::string& user) {
  auto exists = ctx->store->contains(storage::table::accounts, user);
  if (exists == storage::answer::failed)
    return make_error(errc::unavailable);
  return exists == storage::answer::yes;
}

void registry_state::revoked(const std::string& key) {
  revoked(key, "token revoked");
}

void registry_state::revoked(const std::string& key, const std::string& why) {
  auto it = watchers.find(key);
  if (it == watchers.end())
    return;
  for (auto& session : it->second) {
    watched.erase(session.address());
    self->demonitor(session);
    caf::anon_send(session, atom::revoked::value, why);
  }
  watchers.erase(it);
}

void registry_state::on_down(const caf::down_msg& dm) {
  auto it = watched.find(dm.source);
  if (it == watched.end())
    return;
  if (auto w = watchers.find(it->second); w != watchers.end()) {
    auto& list = w->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const caf::actor& a) { return a.address() == dm.source; }),
               list.end());
    if (list.empty())
      watchers.erase(w);
  }
  watched.erase(it);
}

registry_node_service::behavior_type
registry_actor(registry_node_service::stateful_pointer<registry_state> self,
               const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  return {
      [self](atom::token, const std::string& token) { return self->state.check(token, {}); },
      [self](atom::token, const std::string& token, const caf::actor& session) {
        return self->state.check(token, session);
      },
      [self](atom::exists, const std::string& user) { return self->state.exists(user); },
      [self](atom::revoked, const std::string& key) { self->state.revoked(key); },
      [self](atom::revoked, const std::vector<std::string>& keys, const std::string& why) {
        for (const auto& key : keys)
          self->state.revoked(key, why);
      },
  };
}

accounts_service::behavior_type
accounts_actor(accounts_service::stateful_pointer<accounts_state> self, const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  return {
      [self](atom::account, const account_request& req) { return self->state.handle(req); },
      [self](atom::manage, const std::string& command, const std::string& user,
             const std::string& password) { return self->state.manage(command, user, password); },
  };
}

} // namespace tidings
