#pragma once
// accounts actor: registration, login and logout (PROTOCOL.md section 2).
//
// Owns: the accounts and tokens tables, and the login-failure counters of its users.
// Users are sharded over several workers by a hash of the name, so one user's requests
// are serialised (registration is check-then-put without a race) while different users
// hash passwords in parallel.
// Blocks: argon2id takes tens of milliseconds by design, so workers are spawned detached
// (a thread each) and never share a scheduler thread with the chat actors.
// Passwords are stored only as argon2id strings (libsodium); tokens are `USER:` and 256 random
// bits, handed out once and stored only as their BLAKE2b hash. The user in the token tells
// any node of a cluster which node keeps it (the user's home); it grants nothing by itself.
// The registry answers token and existence checks from other actors and nodes, so a session
// never waits behind a password hash.

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"
#include "net/server.hpp"

namespace tidings {

/// The tokens-table key of a bearer token.
std::string token_key(std::string_view token);
/// The same in hex: how an inbox's device records name their tokens (attach_request).
std::string token_key_hex(std::string_view token);

struct accounts_state {
  static inline const char* name = "accounts";

  using reply_promise = caf::typed_response_promise<account_reply>;

  accounts_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  /// Failure times per user within the last minute.
  std::unordered_map<std::string, std::deque<int64_t>> failures;

  net::http_response create(const account_request& req);
  /// A login naming a device registers it with the user's inbox before the token is written.
  caf::result<account_reply> login(const account_request& req);
  net::http_response logout(const account_request& req);
  /// `GET /v1/devices`, `DELETE /v1/devices/ID` (docs/PROTOCOL.md, "Devices").
  caf::result<account_reply> devices(const account_request& req);
  caf::result<account_reply> handle(const account_request& req);

private:
  /// The owner of the bearer token of `req`, or the HTTP answer refusing it.
  std::optional<std::string> bearer_owner(const account_request& req, net::http_response* error);
  /// Asks `user`'s inbox for its devices (JSON); `then(devices)` completes `rp`.
  void with_devices(const std::string& user, reply_promise rp,
                    std::function<void(net::json&)> then);
};

accounts_service::behavior_type
accounts_actor(accounts_service::stateful_pointer<accounts_state> self, const node_context* ctx);

/// The accounts registry: token and existence checks (point reads, never a password hash).
registry_service::behavior_type registry_actor(registry_service::pointer self,
                                               const node_context* ctx);

/// The user an account request is about: the body's `user`, or the user a logout's token
/// names ("" if none).
std::string accounts_user(const account_request& req);

/// The shard of the accounts worker responsible for a request.
std::size_t accounts_shard(const account_request& req, std::size_t shards);
/// The same, when the caller already has `accounts_user(req)` (the body is decoded once).
std::size_t accounts_shard(const account_request& req, const std::string& user, std::size_t shards);

/// `{"error":CODE,"message":TEXT}` with the status of the code.
net::http_response http_error(errc code, std::string_view message);

} // namespace tidings
