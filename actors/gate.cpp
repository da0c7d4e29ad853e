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
  auto profile = [ctx](const std::string& user) -> const profile_service& {
    return ctx->shard(ctx->profiles, user);
  };
  auto lastseen = [ctx](const std::string& user) -> const lastseen_service& {
    return ctx->shard(ctx->lastseen, user);
  };
  using strings = std::vector<std::string>;
  return {
      // Inbox traffic: the directory of this (the home) node.
      [=](deliver_request& d) { return pass<sent_reply>(self, ctx->directory, std::move(d)); },
      [=](attach_request& a) { return pass<attached_inbox>(self, ctx->directory, std::move(a)); },
      [=](receipt_delivery& r) { return pass<uint64_t>(self, ctx->directory, std::move(r)); },
      // Profiles, contacts, blocks: the shard of the user whose data it is.
      [=](atom::profile_get p, std::string& viewer, std::string& target) {
        auto& dest = profile(target);
        return pass<std::string>(self, dest, p, std::move(viewer), std::move(target));
      },
      [=](atom::profile_set p, std::string& user, std::string& changes) {
        auto& dest = profile(user);
        return pass<std::string>(self, dest, p, std::move(user), std::move(changes));
      },
      [=](atom::privacy p, std::string& user) {
        auto& dest = profile(user);
        return pass<bool, bool, std::string>(self, dest, p, std::move(user));
      },
      [=](atom::seen_by sb, std::string& target, std::string& viewer) {
        auto& dest = profile(target);
        return pass<bool, std::string, bool, bool>(self, dest, sb, std::move(target),
                                                   std::move(viewer));
      },
      [=](atom::contacts t, atom::list l, std::string& owner) {
        auto& dest = profile(owner);
        return pass<strings>(self, dest, t, l, std::move(owner));
      },
      [=](atom::contacts t, atom::add_item a, std::string& owner, std::string& other) {
        auto& dest = profile(owner);
        return pass<bool>(self, dest, t, a, std::move(owner), std::move(other));
      },
      [=](atom::contacts t, atom::remove_item r, std::string& owner, std::string& other) {
        auto& dest = profile(owner);
        return pass<bool>(self, dest, t, r, std::move(owner), std::move(other));
      },
      [=](atom::blocks t, atom::list l, std::string& owner) {
        auto& dest = profile(owner);
        return pass<strings>(self, dest, t, l, std::move(owner));
      },
      [=](atom::blocks t, atom::add_item a, std::string& owner, std::string& other) {
        auto& dest = profile(owner);
        return pass<bool>(self, dest, t, a, std::move(owner), std::move(other));
      },
      [=](atom::blocks t, atom::remove_item r, std::string& owner, std::string& other) {
        auto& dest = profile(owner);
        return pass<bool>(self, dest, t, r, std::move(owner), std::move(other));
      },
      // Presence: the lastseen shard of the user it is about.
      [=](atom::online o, std::string& user, caf::actor& session, bool fg) {
        self->send(lastseen(user), o, std::move(user), std::move(session), fg);
      },
      [=](atom::touch t, std::string& user, caf::actor& session) {
        self->send(lastseen(user), t, std::move(user), std::move(session));
      },
      [=](atom::presence p, std::string& viewer, std::string& target) {
        auto& dest = lastseen(target);
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
        const auto& dest = ctx->accounts[accounts_shard(req, ctx->accounts.size())];
        return pass<account_reply>(self, dest, a, std::move(req));
      },
      [=](atom::token t, std::string& token) {
        return pass<std::string>(self, ctx->registry, t, std::move(token));
      },
      [=](atom::token t, std::string& token, caf::actor& session) {
        return pass<std::string>(self, ctx->registry, t, std::move(token), std::move(session));
      },
      [=](atom::exists e, std::string& user) {
        return pass<bool>(self, ctx->registry, e, std::move(user));
      },
      // Media: this node's media actor, the home of the hashes peers ask it about (and, for
      // `read_chunk`, the keeper of a copy a peer is fetching).
      [=](atom::may_read m, std::string& hash, std::string& user) {
        return pass<bool>(self, ctx->media, m, std::move(hash), std::move(user));
      },
      [=](atom::grant g, std::string& hash, std::string& user) {
        return pass<bool>(self, ctx->media, g, std::move(hash), std::move(user));
      },
      [=](atom::blob_info b, std::string& hash, std::string& user) {
        return pass<media_blob>(self, ctx->media, b, std::move(hash), std::move(user));
      },
      [=](atom::offer o, media_offer& offer) {
        return pass<bool>(self, ctx->media, o, std::move(offer));
      },
      [=](atom::read_chunk r, std::string& hash, uint64_t offset, uint32_t length) {
        return pass<std::string>(self, ctx->media, r, std::move(hash), offset, length);
      },
  };
}

} // namespace tidings
