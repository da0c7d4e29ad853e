#include "actors/profile.hpp"

#include <iostream>

#include "actors/messages.hpp"

namespace tidings {

using net::json;

namespace {

constexpr std::size_t max_list = 10'000; ///< contacts or blocks per user
constexpr auto media_timeout = std::chrono::seconds(30);

std::string list_prefix_end(const std::string& owner) {
  std::string end = owner;
  end += '\x01';
  return end;
}

} // namespace

json profile_record::to_json() const {
  return json{{"name", name},
              {"about", about},
              {"avatar", avatar},
              {"updated", updated},
              {"privacy", {{"last_seen", last_seen_privacy}, {"read_receipts", read_receipts}}}};
}

profile_record profile_record::from_json(const json& j) {
  profile_record p;
  p.name = j.value("name", "");
  p.about = j.value("about", "");
  p.avatar = j.value("avatar", "");
  p.updated = j.value("updated", int64_t{0});
  if (auto it = j.find("privacy"); it != j.end() && it->is_object()) {
    p.last_seen_privacy = it->value("last_seen", "everyone");
    p.read_receipts = it->value("read_receipts", true);
  }
  return p;
}

// Only this service reads its tables (and, for a profile's defaults, the accounts table).
namespace {

/// Loads a user's profile (defaults if never set); no value if the user does not exist.
storage::fetched<profile_record> load_profile(storage::db& db, const std::string& user) {
  auto stored = db.get(storage::table::profiles, user);
  if (stored.failed())
    return {std::nullopt, true};
  if (stored.found())
    if (auto j = net::decode(stored.value(), net::encoding::msgpack, nullptr))
      return {profile_record::from_json(*j), false};
  auto account = db.get(storage::table::accounts, user);
  if (!account.found())
    return {std::nullopt, account.failed()};
  profile_record p;
  if (auto j = net::decode(account.value(), net::encoding::msgpack, nullptr))
    p.updated = j->value("created", int64_t{0});
  return {p, false};
}

/// Whether `owner` has blocked `other`.
storage::answer has_blocked(storage::db& db, const std::string& owner, const std::string& other) {
  return db.contains(storage::table::blocks, pair_key(owner, other));
}

/// Whether `owner` has `other` in their contacts.
storage::answer has_contact(storage::db& db, const std::string& owner, const std::string& other) {
  return db.contains(storage::table::contacts, pair_key(owner, other));
}

} // namespace

json public_view(const std::string& user, const profile_record& p, bool own) {
  json out{{"user", user},
           {"name", p.name},
           {"about", p.about},
           {"avatar", p.avatar.empty() ? json(nullptr) : json(p.avatar)},
           {"updated", p.updated}};
  if (own)
    out["privacy"] = {{"last_seen", p.last_seen_privacy}, {"read_receipts", p.read_receipts}};
  return out;
}

bool profile_state::overloaded() const {
  if (self->mailbox().size() <= ctx->settings.service_backlog)
    return false;
  node_metrics::add(ctx->metrics->overload_refusals);
  return true;
}

caf::result<std::string> profile_state::get(const std::string& viewer, const std::string& target) {
  if (overloaded())
    return make_error(errc::overloaded);
  auto& db = *ctx->store;
  if (viewer != target) {
    auto snapshot = db.get(storage::table::blocks, pair_key(target, viewer));
    if (snapshot.failed())
      return make_error(errc::unavailable);
    if (snapshot.found())
      return snapshot.value(); // what the blocked viewer saw when the block happened
  }
  auto p = load_profile(db, target);
  if (p.failed)
    return make_error(errc::unavailable);
  if (!p.value)
    return make_error(errc::not_found);
  return net::encode(public_view(target, *p.value, viewer == target), net::encoding::msgpack);
}

caf::result<bool, bool, std::string> profile_state::privacy(const std::string& user) {
  auto now = ctx->now();
  if (auto it = privacy_cache.find(user);
      it != privacy_cache.end() && now - it->second.loaded < privacy_ttl_ms)
    return {true, it->second.read_receipts, it->second.last_seen};
  auto p = load_profile(*ctx->store, user);
  if (p.failed)
    return make_error(errc::unavailable);
  if (!p.value) {
    privacy_cache.erase(user);
    return {false, false, std::string{"nobody"}};
  }
  if (privacy_cache.size() >= privacy_cache_max)
    privacy_cache.clear();
  privacy_cache[user] = {p.value->read_receipts, p.value->last_seen_privacy, now};
  return {true, p.value->read_receipts, p.value->last_seen_privacy};
}

caf::result<bool, std::string, bool, bool> profile_state::seen_by(const std::string& target,
                                                                  const std::string& viewer) {
  auto& db = *ctx->store;
  auto p = load_profile(db, target);
  if (p.failed)
    return make_error(errc::unavailable);
  if (!p.value)
    return {false, std::string{"nobody"}, false, false};
  auto contact = has_contact(db, target, viewer);
  auto blocked = has_blocked(db, target, viewer);
  if (contact == storage::answer::failed || blocked == storage::answer::failed)
    return make_error(errc::unavailable);
  return {true, p.value->last_seen_privacy, contact == storage::answer::yes,
          blocked == storage::answer::yes};
}

namespace {

/// Answers `rp` with `r`'s value or error.
template <class T> void answer(caf::typed_response_promise<T>& rp, caf::expected<T> r) {
  if (r)
    rp.deliver(std::move(*r));
  else
    rp.deliver(std::move(r.error()));
}

} // namespace

void profile_state::in_order(const std::string& owner, std::function<void()> job) {
  auto [it, idle] = changing.try_emplace(owner);
  if (!idle) {
    it->second.push_back(std::move(job));
    return;
  }
  job();
}

void profile_state::next(const std::string& owner) {
  auto it = changing.find(owner);
  if (it == changing.end())
    return;
  if (it->second.empty()) {
    changing.erase(it);
    return;
  }
  auto job = std::move(it->second.front());
  it->second.pop_front();
  job();
}

caf::result<std::string> profile_state::set(const std::string& user, const std::string& changes) {
  if (overloaded())
    return make_error(errc::overloaded);
  auto rp = self->make_response_promise<std::string>();
  in_order(user, [this, rp, user, changes]() mutable {
    change(user, changes, [this, rp, user](caf::expected<std::string> r) mutable {
      answer(rp, std::move(r));
      next(user);
    });
  });
  return rp;
}

void profile_state::change(const std::string& user, const std::string& changes,
                           std::function<void(caf::expected<std::string>)> done) {
  auto c = net::decode(changes, net::encoding::msgpack, nullptr);
  if (!c || !c->contains("avatar"))
    return done(apply(user, changes));
  auto avatar = (*c)["avatar"].is_string() ? (*c)["avatar"].get<std::string>() : std::string{};
  auto loaded = load_profile(*ctx->store, user);
  if (loaded.failed)
    return done(make_error(errc::unavailable));
  if (!loaded.value)
    return done(make_error(errc::not_found));
  auto old = loaded.value->avatar;
  // Leaving the old avatar is told to its media home once the profile no longer names it, and
  // answered before the client hears (if that fails the row stays: the blob stays readable as
  // an avatar and kept, never lost).
  auto applied = [this, done, user, changes, avatar, old]() {
    auto result = apply(user, changes);
    if (!result) {
      if (!avatar.empty() && avatar != old) // taken, but the profile was not written
        tell_avatar(avatar, user, false);
      return done(std::move(result));
    }
    auto media = old.empty() || old == avatar ? media_api{} : ctx->media_of(old);
    if (!media)
      return done(std::move(result));
    self->request(media, media_timeout, atom::avatar::value, old, user, false)
        .then([done, result](bool) { done(result); },
              [done, result, old](const caf::error& err) {
                std::cerr << "tidings: profile: could not tell the media service that avatar "
                          << old << " was left: " << caf::to_string(err) << std::endl;
                done(result);
              });
  };
  if (avatar.empty() || avatar == old)
    return applied();
  // The media service of the avatar's home records it if the user may read it.
  auto media = ctx->media_of(avatar);
  if (!media)
    return done(make_error(errc::unavailable));
  self->request(media, media_timeout, atom::avatar::value, avatar, user, true)
      .then([done,
             applied](bool allowed) { allowed ? applied() : done(make_error(errc::forbidden)); },
            [done](const caf::error&) { done(make_error(errc::unavailable)); });
}

void profile_state::tell_avatar(const std::string& hash, const std::string& user, bool on) {
  auto media = ctx->media_of(hash);
  if (!media)
    return;
  self->request(media, media_timeout, atom::avatar::value, hash, user, on)
      .then([](bool) {},
            [hash](const caf::error& err) {
              std::cerr << "tidings: profile: could not tell the media service that avatar " << hash
                        << " was left: " << caf::to_string(err) << std::endl;
            });
}

caf::expected<std::string> profile_state::apply(const std::string& user,
                                                const std::string& changes) {
  auto& db = *ctx->store;
  auto loaded = load_profile(db, user);
  if (loaded.failed)
    return make_error(errc::unavailable);
  auto& p = loaded.value;
  auto c = net::decode(changes, net::encoding::msgpack, nullptr);
  if (!p || !c)
    return make_error(errc::not_found);
  storage::batch b;
  if (c->contains("name"))
    p->name = (*c)["name"];
  if (c->contains("about"))
    p->about = (*c)["about"];
  if (c->contains("avatar")) {
    p->avatar = (*c)["avatar"].is_string() ? (*c)["avatar"].get<std::string>() : "";
  }
  if (auto it = c->find("privacy"); it != c->end()) {
    p->last_seen_privacy = it->value("last_seen", p->last_seen_privacy);
    p->read_receipts = it->value("read_receipts", p->read_receipts);
  }
  p->updated = ctx->now();
  b.put(storage::table::profiles, user, net::encode(p->to_json(), net::encoding::msgpack));
  if (!db.write(b).ok())
    return make_error(errc::unavailable);
  if (auto it = privacy_cache.find(user); it != privacy_cache.end())
    it->second = {p->read_receipts, p->last_seen_privacy, ctx->now()};
  return net::encode(public_view(user, *p, true), net::encoding::msgpack);
}

caf::result<std::vector<std::string>> profile_state::list(storage::table t,
                                                          const std::string& owner) {
  std::vector<std::string> out;
  auto st = ctx->store->scan(t, owner + '\0', list_prefix_end(owner), max_list,
                             [&out, n = owner.size() + 1](std::string_view key, std::string_view) {
                               out.emplace_back(key.substr(n));
                               return true;
                             });
  if (!st.ok())
    return make_error(errc::unavailable);
  return out;
}

caf::result<bool> profile_state::add(storage::table t, const std::string& owner,
                                     const std::string& other) {
  auto rp = self->make_response_promise<bool>();
  in_order(owner, [this, rp, t, owner, other]() mutable {
    auto registry = ctx->registry_of(other);
    if (!registry) { // `other`'s home node is down
      rp.deliver(make_error(errc::unavailable));
      return next(owner);
    }
    self->request(registry, std::chrono::seconds(10), atom::exists::value, other)
        .then(
            [this, rp, t, owner, other](bool exists) mutable {
              answer(rp, exists ? insert(t, owner, other)
                                : caf::expected<bool>{make_error(errc::not_found)});
              next(owner);
            },
            [this, rp, owner](const caf::error&) mutable {
              rp.deliver(make_error(errc::unavailable));
              next(owner);
            });
  });
  return rp;
}

caf::expected<bool> profile_state::insert(storage::table t, const std::string& owner,
                                          const std::string& other) {
  auto& db = *ctx->store;
  auto key = pair_key(owner, other);
  auto present = db.contains(t, key);
  if (present == storage::answer::failed)
    return make_error(errc::unavailable);
  if (present == storage::answer::yes)
    return true;
  std::size_t count = 0;
  db.scan(t, owner + '\0', list_prefix_end(owner), max_list, [&count](auto, auto) {
    ++count;
    return true;
  });
  if (count >= max_list)
    return make_error(errc::too_large);
  std::string value;
  if (t == storage::table::blocks) {
    // The blocked user keeps seeing the profile as it is now.
    auto p = load_profile(db, owner);
    if (p.failed)
      return make_error(errc::unavailable);
    value = net::encode(public_view(owner, p.value ? *p.value : profile_record{}, false),
                        net::encoding::msgpack);
  }
  storage::batch b;
  b.put(t, key, value);
  if (!db.write(b).ok())
    return make_error(errc::unavailable);
  if (t == storage::table::blocks)
    caf::anon_send(ctx->directory, atom::blocks::value, owner, other, true);
  return true;
}

caf::result<bool> profile_state::remove(storage::table t, const std::string& owner,
                                        const std::string& other) {
  auto rp = self->make_response_promise<bool>();
  in_order(owner, [this, rp, t, owner, other]() mutable {
    storage::batch b;
    b.del(t, pair_key(owner, other));
    if (!ctx->store->write(b).ok()) {
      rp.deliver(make_error(errc::unavailable));
    } else {
      if (t == storage::table::blocks)
        caf::anon_send(ctx->directory, atom::blocks::value, owner, other, false);
      rp.deliver(true);
    }
    next(owner);
  });
  return rp;
}

profile_shard::behavior_type profile_actor(profile_shard::stateful_pointer<profile_state> self,
                                           const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  using storage::table;
  return {
      [self](atom::profile_get, const std::string& viewer, const std::string& target) {
        return self->state.get(viewer, target);
      },
      [self](atom::profile_set, const std::string& user, const std::string& changes) {
        return self->state.set(user, changes);
      },
      [self](atom::privacy, const std::string& user) { return self->state.privacy(user); },
      [self](atom::seen_by, const std::string& target, const std::string& viewer) {
        return self->state.seen_by(target, viewer);
      },
      [self](atom::contacts, atom::list, const std::string& owner) {
        return self->state.list(table::contacts, owner);
      },
      [self](atom::contacts, atom::add_item, const std::string& owner, const std::string& other) {
        return self->state.add(table::contacts, owner, other);
      },
      [self](atom::contacts, atom::remove_item, const std::string& owner,
             const std::string& other) {
        return self->state.remove(table::contacts, owner, other);
      },
      [self](atom::blocks, atom::list, const std::string& owner) {
        return self->state.list(table::blocks, owner);
      },
      [self](atom::blocks, atom::add_item, const std::string& owner, const std::string& other) {
        return self->state.add(table::blocks, owner, other);
      },
      [self](atom::blocks, atom::remove_item, const std::string& owner, const std::string& other) {
        return self->state.remove(table::blocks, owner, other);
      },
      [self](atom::probe) {
        return actor_probe{"profile", "", self->mailbox().size(), self->state.handled};
      },
  };
}

} // namespace tidings
