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
// never waits behind a password hash. It also watches the tokens of live sessions (of any node):
// a worker that revokes a token tells it once the deletion is durable, and it tells every
// session using that token, which closes with 4001. A check and a revocation are handled one
// at a time by the registry, so a session either saw the token gone or is told of its end.
// Bounds: a worker answers `overloaded` to a registration or login while more than
// `account_queue` requests wait in its mailbox (argon2id work queued is bounded), and runs its
// hashes at a lower CPU priority (nice 10) than the chat actors.
// The administrator's account changes (`manage`: create, disable, enable, revoke, delete; asked
// by the steward of the user's home, actors/steward.*) run on the user's worker too, so they
// are serialised with that user's registration and logins: a login racing a `disable` either
// finished before it (its token is revoked with the others) or sees the account disabled.

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  accounts_service::stateful_pointer<accounts_state> self = nullptr;
  const node_context* ctx = nullptr;
  bool niced = false; ///< this worker's thread runs at a lower priority
  /// Failure times per user within the last minute.
  std::unordered_map<std::string, std::deque<int64_t>> failures;

  net::http_response create(const account_request& req);
  /// A login naming a device registers it with the user's inbox before the token is written.
  caf::result<account_reply> login(const account_request& req);
  net::http_response logout(const account_request& req);
  /// `GET /v1/devices`, `DELETE /v1/devices/ID` (docs/PROTOCOL.md, "Devices").
  caf::result<account_reply> devices(const account_request& req);
  caf::result<account_reply> handle(const account_request& req);
  /// An administrator's change to `user`'s account (`create` with `password`, `disable`,
  /// `enable`, `revoke`, `delete`); answers the tokens-table keys it revoked (the registry is
  /// told of each), or `not_found`, `user_exists`, `bad_request`, `unavailable`.
  caf::result<std::vector<std::string>> manage(const std::string& command, const std::string& user,
                                               const std::string& password);

private:
  /// The owner of the bearer token of `req`, or the HTTP answer refusing it.
  std::optional<std::string> bearer_owner(const account_request& req, net::http_response* error);
  /// Asks `user`'s inbox for its devices (JSON); `then(devices)` completes `rp`.
  void with_devices(const std::string& user, reply_promise rp,
                    std::function<void(net::json&)> then);
};

accounts_service::behavior_type
accounts_actor(accounts_service::stateful_pointer<accounts_state> self, const node_context* ctx);

struct registry_state {
  static inline const char* name = "registry";

  registry_node_service::stateful_pointer<registry_state> self = nullptr;
  const node_context* ctx = nullptr;
  /// The live sessions using each token (by tokens-table key), and the key each one uses.
  std::unordered_map<std::string, std::vector<caf::actor>> watchers;
  std::map<caf::actor_addr, std::string> watched;

  /// The token's user ("" if unknown or revoked); if `session` is set and the token is valid,
  /// the session is told when it is revoked.
  caf::result<std::string> check(const std::string& token, const caf::actor& session);
  caf::result<bool> exists(const std::string& user);
  void revoked(const std::string& key);
  /// The same, the sessions told `why` ("account disabled", "account deleted").
  void revoked(const std::string& key, const std::string& why);
  void on_down(const caf::down_msg& dm);
};

/// The accounts registry: token and existence checks (point reads, never a password hash).
registry_node_service::behavior_type
registry_actor(registry_node_service::stateful_pointer<registry_state> self,
               const node_context* ctx);

/// The tokens-table keys of every token of `user` (a scan of the whole table: tokens are keyed
/// by their hash). Blocking; on a storage error sets `failed`.
std::vector<std::string> token_keys_of(storage::db& store, const std::string& user, bool* failed);

/// Whether an account record (msgpack) says the account is disabled.
bool account_disabled(std::string_view record);

/// The user an account request is about: the body's `user`, or the user a logout's token
/// names ("" if none).
std::string accounts_user(const account_request& req);

/// The shard of the accounts worker responsible for a request.
std::size_t accounts_shard(const account_request& req, std::size_t shards);
/// The same, when the caller already has `accounts_user(req)` (the body is decoded once).
std::size_t accounts_shard(const account_request& req, const std::string& user, std::size_t shards);

/// `{"error":CODE,"message":TEXT}` with the status of the code; with `retry_ms` >= 0 also
/// `"retry_ms"` in the body and `Retry-After` (whole seconds, rounded up) in the header.
net::http_response http_error(errc code, std::string_view message, int64_t retry_ms = -1);

} // namespace tidings
