#pragma once
// steward actor: one per node, detached (its own thread: every command reads or writes RocksDB
// and may walk a whole table, and a backup copies the database), spawned and linked by the
// node's inspector, which passes it the admin actors' `manage` commands for this node
// (docs/OPERATIONS.md, "User administration"; docs/DESIGN.md, "User administration").
//
// Owns nothing: it asks the owners to change what they own, and removes only what no running
// actor holds any more. Account changes (create, disable, enable, revoke, delete) go to the
// user's accounts worker (serialised with that user's logins); the worker tells the registry of
// the tokens it revoked, and the registry closes the sessions using them (4001). A delete then
// has the directory stop the user's inbox actor (answered once it is gone) and only then
// removes the user's rows from the tables of this node (inbox, dedupe, received, profile,
// contacts, blocks, last seen) and the media rows naming the user that this node keeps; the
// admin actor asks every other member to remove the media rows naming the user it keeps.
// Commands for a user are only run on the user's home (else `unavailable`).
// Answers are JSON documents (docs/PROTOCOL.md, "tidings-inspect"); refusals are errors with
// the protocol's codes (`not_found` for an unknown user, `bad_request`, `user_exists`,
// `unavailable`).

#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "net/codec.hpp"

namespace tidings {

struct steward_state {
  static inline const char* name = "steward";

  steward_api::pointer self = nullptr;
  const node_context* ctx = nullptr;

  caf::result<std::string> handle(const std::string& command, const std::vector<std::string>& args);

  /// The accounts homed here after `after` (in name order), at most `limit`.
  std::string users(const std::string& after, std::size_t limit) const;
  /// `user`'s account: created, disabled, tokens, profile summary, stored inbox depth.
  caf::result<std::string> account(const std::string& user) const;
  /// create (with a password), disable, enable, revoke: the user's accounts worker decides.
  caf::result<std::string> change(const std::string& command, const std::string& user,
                                  const std::string& password);
  /// The account, then its running inbox, then its rows here.
  caf::result<std::string> remove(const std::string& user);
  /// The rest of `remove` once the sessions were told: stops the inbox, removes the rows.
  void stop_and_purge(caf::typed_response_promise<std::string> rp,
                      const directory_actor_t& directory, const std::string& user,
                      std::size_t tokens);
  /// The rows naming `user` in the media tables this node keeps (read grants, claims of
  /// unacknowledged media items, current avatar).
  net::json purge_media(const std::string& user) const;
  /// A RocksDB checkpoint into `dir` (on this node's machine), and the blob files beside it.
  caf::result<std::string> backup(const std::string& dir) const;

private:
  /// `user`'s rows of the tables kept on the user's home; the count removed per table.
  caf::expected<net::json> purge_rows(const std::string& user) const;
};

steward_api::behavior_type steward_actor(steward_api::stateful_pointer<steward_state> self,
                                         const node_context* ctx);

} // namespace tidings
