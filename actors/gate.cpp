#include "actors/gate.hpp"

#include "actors/accounts.hpp"

namespace tidings {

namespace {

/// Passes the current request on to `dest`; its answer goes to the original requester.
template <class... Rs, class Self, class Handle, class... Ts>
caf::result<Rs...> pass(Self* self, const Handle& dest, Ts&&... xs) {
  if (!dest)
    return make_error(errc::unavailable);
  self->delegate(dest, std::forward<Ts>(xs)...);
  return caf::delegated<Rs...>{};
}

} // namespace

gate_service::behavior_type gate_actor(gate_service::pointer self, const node_context* ctx) {
  // Every request goes where this node's own actors would send it (node_context): the local
  // owner when this node serves the user or blob, else its home. Peers name this node only
  // for what they think is homed here; after a member was added, a peer still on the old
  // member list (a rolling restart) may name this node for users that moved, and those
  // requests go on to the new home (a handover in progress there: `unavailable`). No loop is
  // possible: every node forwards to the member with the highest rendezvous score it knows,
  // and it knows itself, so each hop raises the score.
  using strings = std::vector<std::string>;
  return {
      // Inbox traffic: the directory of the user's home.
      [=](deliver_request& d) {
        return pass<sent_reply>(self, ctx->directory_of(d.to), std::move(d));
      },
      [=](attach_request& a) {
        return pass<attached_inbox>(self, ctx->directory_of(a.user), std::move(a));
      },
      [=](receipt_delivery& r) {
        return pass<uint64_t>(self, ctx->directory_of(r.to), std::move(r));
      },
      [=](atom::holds h, std::string& user, uint64_t seq) {
        return pass<bool>(self, ctx->directory_of(user), h, std::move(user), seq);
      },
      [=](atom::devices d, atom::add_item a, std::string& user, std::string& name,
          std::string& key) {
        auto dest = ctx->directory_of(user);
        return pass<uint32_t>(self, dest, d, a, std::move(user), std::move(name), std::move(key));
      },
      [=](atom::devices d, atom::list l, std::string& user) {
        auto dest = ctx->directory_of(user);
        return pass<std::string>(self, dest, d, l, std::move(user));
      },
      [=](atom::devices d, atom::remove_item r, std::string& user, uint32_t id) {
        auto dest = ctx->directory_of(user);
        return pass<bool>(self, dest, d, r, std::move(user), id);
      },
      // Profiles, contacts, blocks: the shard of the user whose data it is.
      [=](atom::profile_get p, std::string& viewer, std::string& target) {
        auto dest = ctx->profile_of(target);
        return pass<std::string>(self, dest, p, std::move(viewer), std::move(target));
      },
      [=](atom::profile_set p, std::string& user, std::string& changes) {
        auto dest = ctx->profile_of(user);
        return pass<std::string>(self, dest, p, std::move(user), std::move(changes));
      },
      [=](atom::privacy p, std::string& user) {
        auto dest = ctx->profile_of(user);
        return pass<bool, bool, std::string>(self, dest, p, std::move(user));
      },
      [=](atom::seen_by sb, std::string& target, std::string& viewer) {
        auto dest = ctx->profile_of(target);
        return pass<bool, std::string, bool, bool>(self, dest, sb, std::move(target),
                                                   std::move(viewer));
      },
      [=](atom::contacts t, atom::list l, std::string& owner) {
        auto dest = ctx->profile_of(owner);
        return pass<strings>(self, dest, t, l, std::move(owner));
      },
      [=](atom::contacts t, atom::add_item a, std::string& owner, std::string& other) {
        auto dest = ctx->profile_of(owner);
        return pass<bool>(self, dest, t, a, std::move(owner), std::move(other));
      },
      [=](atom::contacts t, atom::remove_item r, std::string& owner, std::string& other) {
        auto dest = ctx->profile_of(owner);
        return pass<bool>(self, dest, t, r, std::move(owner), std::move(other));
      },
      [=](atom::blocks t, atom::list l, std::string& owner) {
        auto dest = ctx->profile_of(owner);
        return pass<strings>(self, dest, t, l, std::move(owner));
      },
      [=](atom::blocks t, atom::add_item a, std::string& owner, std::string& other) {
        auto dest = ctx->profile_of(owner);
        return pass<bool>(self, dest, t, a, std::move(owner), std::move(other));
      },
      [=](atom::blocks t, atom::remove_item r, std::string& owner, std::string& other) {
        auto dest = ctx->profile_of(owner);
        return pass<bool>(self, dest, t, r, std::move(owner), std::move(other));
      },
      // Presence: the lastseen shard of the user it is about (reports for a user whose home
      // cannot take them are dropped, as a session drops them).
      [=](atom::online o, std::string& user, caf::actor& session, bool fg) {
        if (auto dest = ctx->lastseen_of(user))
          self->send(dest, o, std::move(user), std::move(session), fg);
      },
      [=](atom::touch t, std::string& user, caf::actor& session) {
        if (auto dest = ctx->lastseen_of(user))
          self->send(dest, t, std::move(user), std::move(session));
      },
      [=](atom::presence p, std::string& viewer, std::string& target) {
        auto dest = ctx->lastseen_of(target);
        return pass<bool, int64_t>(self, dest, p, std::move(viewer), std::move(target));
      },
      [=](atom::subscribe s, const std::string& viewer, const caf::actor& session,
          strings& targets) {
        for (auto& [dest, users] : ctx->lastseen_groups(std::move(targets)))
          self->send(dest, s, viewer, session, std::move(users));
      },
      [=](atom::unsubscribe u, const caf::actor& session, strings& targets) {
        for (auto& [dest, users] : ctx->lastseen_groups(std::move(targets)))
          self->send(dest, u, session, std::move(users));
      },
      [](atom::timer) {
        // Part of the lastseen interface, never sent to a gate.
      },
      // Accounts: the worker of the user, and the registry.
      [=](atom::account a, account_request& req) {
        auto dest = ctx->accounts_of(req);
        return pass<account_reply>(self, dest, a, std::move(req));
      },
      [=](atom::manage m, std::string& command, std::string& user, std::string& password) {
        auto dest = ctx->accounts_of_user(user);
        return pass<std::vector<std::string>>(self, dest, m, std::move(command), std::move(user),
                                              std::move(password));
      },
      [=](atom::token t, std::string& token) {
        auto dest = ctx->registry_of_token(token);
        return pass<std::string>(self, dest, t, std::move(token));
      },
      [=](atom::token t, std::string& token, caf::actor& session) {
        auto dest = ctx->registry_of_token(token);
        return pass<std::string>(self, dest, t, std::move(token), std::move(session));
      },
      [=](atom::exists e, std::string& user) {
        auto dest = ctx->registry_of(user);
        return pass<bool>(self, dest, e, std::move(user));
      },
      // Media: the media actor of the hash's home (and, for `read_chunk`, this node's, the
      // keeper of a copy a peer is fetching).
      [=](atom::may_read m, std::string& hash, std::string& user) {
        auto dest = ctx->media_of(hash);
        return pass<bool>(self, dest, m, std::move(hash), std::move(user));
      },
      [=](atom::grant g, std::string& hash, std::string& user, uint64_t seq) {
        auto dest = ctx->media_of(hash);
        return pass<bool>(self, dest, g, std::move(hash), std::move(user), seq);
      },
      [=](atom::avatar a, std::string& hash, std::string& owner, bool on) {
        auto dest = ctx->media_of(hash);
        return pass<bool>(self, dest, a, std::move(hash), std::move(owner), on);
      },
      [=](atom::blob_info b, std::string& hash, std::string& user) {
        auto dest = ctx->media_of(hash);
        return pass<media_blob>(self, dest, b, std::move(hash), std::move(user));
      },
      [=](atom::offer o, media_offer& offer) {
        auto dest = ctx->media_of(offer.hash);
        return pass<bool>(self, dest, o, std::move(offer));
      },
      [=](atom::read_chunk r, std::string& hash, uint64_t offset, uint32_t length) {
        return pass<std::string>(self, ctx->media, r, std::move(hash), offset, length);
      },
      // Handovers after members were added: this node's handover actor.
      [=](handover_batch& b) { return pass<uint64_t>(self, ctx->handover, std::move(b)); },
      // The inspector: another node's admin actor asks about this node or a user homed here.
      [=](atom::report r, uint32_t top) { return pass<node_report>(self, ctx->inspector, r, top); },
      [=](atom::report r, std::string& user) {
        return pass<user_report>(self, ctx->inspector, r, std::move(user));
      },
      [=](atom::census c, uint32_t top) {
        return pass<census_report>(self, ctx->inspector, c, top);
      },
      [=](atom::manage m, std::string& command, std::vector<std::string>& args) {
        return pass<std::string>(self, ctx->inspector, m, std::move(command), std::move(args));
      },
  };
}

} // namespace tidings
