#pragma once
// The typed interfaces of the node's services: what each answers, checked by the compiler on
// both sides (a request the service does not take, or a handler of the wrong reply type, does
// not build).

#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"

namespace tidings {

/// The profile service (actors/profile.*), one shard per group of users
/// (`node_context::shard`). Profiles answer as msgpack-encoded `profile` fields.
using profile_service = caf::typed_actor<
    caf::replies_to<atom::profile_get, std::string, std::string>::with<std::string>,
    caf::replies_to<atom::profile_set, std::string, std::string>::with<std::string>,
    // (the user exists, read receipts on, last seen: everyone | contacts | nobody)
    caf::replies_to<atom::privacy, std::string>::with<bool, bool, std::string>,
    // (target, viewer) -> what the target's shard knows for may_see_presence: (the target
    // exists, the target's last seen setting, the viewer is the target's contact, the target
    // has blocked the viewer); asked by the target's lastseen shard (presence_privacy.hpp)
    caf::replies_to<atom::seen_by, std::string, std::string>::with<bool, std::string, bool, bool>,
    caf::replies_to<atom::contacts, atom::list, std::string>::with<std::vector<std::string>>,
    caf::replies_to<atom::contacts, atom::add_item, std::string, std::string>::with<bool>,
    caf::replies_to<atom::contacts, atom::remove_item, std::string, std::string>::with<bool>,
    caf::replies_to<atom::blocks, atom::list, std::string>::with<std::vector<std::string>>,
    caf::replies_to<atom::blocks, atom::add_item, std::string, std::string>::with<bool>,
    caf::replies_to<atom::blocks, atom::remove_item, std::string, std::string>::with<bool>>;

/// The lastseen service (actors/lastseen.*), one shard per group of users. Sessions report
/// their state and activity with plain sends; `presence` answers (online, last seen or -1).
using lastseen_service = caf::typed_actor<
    caf::reacts_to<atom::online, std::string, caf::actor, bool>,
    caf::reacts_to<atom::touch, std::string, caf::actor>,
    caf::replies_to<atom::presence, std::string, std::string>::with<bool, int64_t>,
    caf::reacts_to<atom::subscribe, std::string, caf::actor, std::vector<std::string>>,
    caf::reacts_to<atom::unsubscribe, caf::actor, std::vector<std::string>>,
    caf::reacts_to<atom::timer>>;

// A shard as its own node sees it: the service, plus the inspector's probes (never asked
// through a gate). The node keeps the shards as services; the inspector casts them back.
using profile_shard = profile_service::extend<caf::replies_to<atom::probe>::with<actor_probe>>;
using lastseen_shard = lastseen_service::extend<
    caf::replies_to<atom::probe>::with<actor_probe>,
    // (a session, in the foreground, last seen, the node of the session)
    caf::replies_to<atom::probe, std::string>::with<bool, bool, int64_t, std::string>>;

/// What any node may ask of the media service of a blob's home (actors/media.*; in a cluster
/// every hash has a home node, `node_context::media_of`). `may_read` is false also for a hash
/// not stored; `grant` answers once the grant is durable (`not_found`: no such blob);
/// `blob_info` answers a download (`not_found`, `forbidden`); `offer` stores and indexes an
/// upload that came through another node, fetching its bytes from the offering media actor in
/// chunks, and answers once both are durable (true: these bytes were new); `read_chunk` answers
/// at most `length` bytes of a blob from `offset` (served from the node's own blobs or its
/// cache; `not_found` if it has neither). Storage failures are `unavailable`.
using media_api = caf::typed_actor<
    caf::replies_to<atom::may_read, std::string, std::string>::with<bool>,
    caf::replies_to<atom::grant, std::string, std::string, uint64_t>::with<bool>,
    caf::replies_to<atom::avatar, std::string, std::string, bool>::with<bool>,
    caf::replies_to<atom::blob_info, std::string, std::string>::with<media_blob>,
    caf::replies_to<atom::offer, media_offer>::with<bool>,
    caf::replies_to<atom::read_chunk, std::string, uint64_t, uint32_t>::with<std::string>>;

/// The media service of this node (actors/media.*): `media_api`, plus what only this node
/// asks. `commit` stores and indexes a finished upload streamed into this node's temporary
/// file (on the hash's home: here; else offered to the home) and answers once both are durable
/// (true: these bytes were new); `cached` answers the path of a local copy of a blob of the
/// given size, fetching it from the hash's home into the bounded cache if needed; `retain`
/// runs one retention step now and answers (examined, deleted, pass done) once its deletions
/// are done. `written` and `timer` are its own completions and timer.
using media_service =
    media_api::extend<caf::replies_to<atom::commit, media_upload>::with<bool>,
                      caf::replies_to<atom::cached, std::string, uint64_t>::with<std::string>,
                      caf::replies_to<atom::retain>::with<uint64_t, uint64_t, bool>,
                      caf::reacts_to<atom::written, uint64_t, bool>, caf::reacts_to<atom::timer>,
                      caf::replies_to<atom::probe>::with<actor_probe>>;

/// An accounts worker (actors/accounts.*): registration, login, logout; and the administrator's
/// account changes (`manage`: command, user, password), answered with the tokens-table keys
/// they revoked.
using accounts_service =
    caf::typed_actor<caf::replies_to<atom::account, account_request>::with<account_reply>,
                     caf::replies_to<atom::manage, std::string, std::string,
                                     std::string>::with<std::vector<std::string>>>;

/// The accounts registry (actors/accounts.*): the quick questions about accounts, answered
/// without waiting behind a password hash. `token` answers the token's user ("" for an
/// unknown or revoked token); with a session, the registry also watches the token for it and
/// sends the session `revoked` when the token is revoked (or at once if the session is gone
/// before); `exists` whether an account exists.
using registry_service =
    caf::typed_actor<caf::replies_to<atom::token, std::string>::with<std::string>,
                     caf::replies_to<atom::token, std::string, caf::actor>::with<std::string>,
                     caf::replies_to<atom::exists, std::string>::with<bool>>;

/// The registry as its own node sees it: also told by the accounts workers of every token they
/// revoke (its tokens-table key), once the deletion is durable.
using registry_node_service =
    registry_service::extend<caf::reacts_to<atom::revoked, std::string>>::extend<
        caf::reacts_to<atom::revoked, std::vector<std::string>, std::string>>;

/// A session as its inbox sees it: the pushes, `replaced`, and of its device: its id and whether
/// its sends are copied to the user's other devices (`devices`, at attach and on every change),
/// that the user has too many devices online (`devlimit`) or that the device was removed
/// (`devgone`). Sessions are dynamically typed;
/// the inbox views the session an attach names through this interface (an `actor_cast`), so
/// its sends are checked and carry the inbox as their sender, by which the session recognises
/// its inbox (a typed actor cannot `send` to a dynamic handle, and `anon_send` has no sender).
using attached_session =
    caf::typed_actor<caf::reacts_to<atom::push, uint64_t, std::string>,
                     caf::reacts_to<atom::replaced>, caf::reacts_to<atom::devices, uint32_t, bool>,
                     caf::reacts_to<atom::devlimit>, caf::reacts_to<atom::devgone>>;

/// What reaches a user's inbox through the directory of the user's home node: the local
/// directory, or (for a user homed elsewhere) the home's gate. An attach is answered with the
/// inbox as its session sees it (`attached_inbox`, messages.hpp: the reply crosses nodes).
/// The user's devices live with the inbox (their cursors are into it): `devices, add_item`
/// (user, name, hex token key) registers a login's device and answers its id once durable;
/// `devices, list` answers them as JSON, `{"devices":[…]}` (with their token keys: for the accounts
/// worker, never for clients); `devices, remove_item` (user, id) removes one, closing its
/// session and releasing what it alone held.
using routing_service = caf::typed_actor<
    caf::replies_to<deliver_request>::with<sent_reply>,
    caf::replies_to<attach_request>::with<attached_inbox>,
    caf::replies_to<receipt_delivery>::with<uint64_t>,
    caf::replies_to<atom::holds, std::string, uint64_t>::with<bool>,
    caf::replies_to<atom::devices, atom::add_item, std::string, std::string,
                    std::string>::with<uint32_t>,
    caf::replies_to<atom::devices, atom::list, std::string>::with<std::string>,
    caf::replies_to<atom::devices, atom::remove_item, std::string, uint32_t>::with<bool>>;

/// A user's inbox (actors/inbox.*): the routed requests (from the directory), its session's
/// acks and reads, the user's block changes (the profile shard's news, through the directory),
/// the directory's `drain` and `stop`, the group writer's completions and its own timer.
using inbox_service = routing_service::extend_with<attached_inbox>::extend<
    caf::reacts_to<atom::blocks, std::string, bool>, caf::reacts_to<atom::drain>,
    caf::reacts_to<atom::stop>, caf::reacts_to<atom::written, uint64_t, bool>,
    caf::reacts_to<atom::timer>, caf::replies_to<atom::probe>::with<actor_probe>,
    caf::replies_to<atom::probe, std::string>::with<inbox_facts>>;

/// A node's directory (actors/directory.*): routes requests to the inboxes of the users homed
/// here, and hears from them (`drain` at shutdown, `idle` to stop) and from the profile shards
/// (a user's block or unblock of another, for the user's running inbox).
using directory_service =
    routing_service::extend<caf::reacts_to<atom::blocks, std::string, std::string, bool>,
                            caf::reacts_to<atom::drain, std::string>,
                            caf::reacts_to<atom::idle, std::string, uint64_t>>;

/// What a node's handover actor (actors/handover.*) takes from its peers: the rows of users
/// and blobs now homed here after members were added, answered once durable.
using handover_service = caf::typed_actor<caf::replies_to<handover_batch>::with<uint64_t>>;

/// The directory as its node's inspector sees it: its own probe, a user's inbox (the running
/// one answers, else the directory reads it from storage) and the running inboxes. The node
/// keeps the directory as a `directory_service` (test stubs need not probe); the inspector casts
/// it back.
using directory_actor_t = directory_service::extend<
    caf::replies_to<atom::probe>::with<actor_probe>,
    caf::replies_to<atom::probe, std::string>::with<inbox_facts>,
    caf::replies_to<atom::probe, atom::list>::with<std::vector<caf::actor>>,
    caf::replies_to<atom::stop, std::string>::with<bool>>;

/// A node's inspector (actors/inspector.*), asked by the admin actor of any node of the
/// cluster (through this node's gate): the node's own report (with the `top` busiest inboxes),
/// a user homed here, and the census of the stored inboxes (the `top` deepest).
/// `manage` is a user-administration command run by the node's steward (actors/steward.*) on
/// this node (the home of the user it names, or each member): the command and its arguments,
/// answered with a JSON document.
using inspector_api = caf::typed_actor<
    caf::replies_to<atom::report, uint32_t>::with<node_report>,
    caf::replies_to<atom::report, std::string>::with<user_report>,
    caf::replies_to<atom::census, uint32_t>::with<census_report>,
    caf::replies_to<atom::manage, std::string, std::vector<std::string>>::with<std::string>>;

/// A node's steward (actors/steward.*): the user-administration commands the admin actors of
/// the cluster run on this node (through its inspector), and backups.
using steward_api = caf::typed_actor<
    caf::replies_to<atom::manage, std::string, std::vector<std::string>>::with<std::string>>;

/// What tidings-inspect asks of a node's admin actor (published on the admin port): the
/// secret, a command and its arguments; answered with a JSON document (docs/PROTOCOL.md,
/// "tidings-inspect"), or `unauthorized` for a wrong secret.
using admin_api = caf::typed_actor<caf::replies_to<atom::admin, std::string, std::string,
                                                   std::vector<std::string>>::with<std::string>>;

/// A node's gate (actors/gate.*): every request another node may make of this one, passed on
/// to the local actor that owns the user (or the blob) it names. Remote handles of any service
/// above are the peer's gate cast to that service's interface.
using gate_service =
    routing_service::extend_with<profile_service, lastseen_service, accounts_service,
                                 registry_service, media_api, handover_service, inspector_api>;

} // namespace tidings
