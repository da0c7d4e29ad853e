#include "actors/lastseen.hpp"

#include "actors/messages.hpp"
#include "actors/profile.hpp"

namespace tidings {

namespace {

std::string key_of(const caf::actor& session) {
  return caf::to_string(session.address());
}

} // namespace

storage::answer may_see_presence(storage::db& db, const std::string& viewer,
                                 const std::string& target) {
  using storage::answer;
  if (viewer == target)
    return answer::yes;
  if (auto blocked = has_blocked(db, target, viewer); blocked != answer::no)
    return blocked == answer::yes ? answer::no : answer::failed;
  auto mine = load_profile(db, viewer);
  if (mine.failed)
    return answer::failed;
  if (mine.value && mine.value->last_seen_privacy == "nobody")
    return answer::no; // reciprocity: who hides their own sees nobody's
  auto theirs = load_profile(db, target);
  if (theirs.failed)
    return answer::failed;
  if (!theirs.value)
    return answer::no;
  if (theirs.value->last_seen_privacy == "everyone")
    return answer::yes;
  if (theirs.value->last_seen_privacy == "contacts")
    return has_contact(db, target, viewer);
  return answer::no;
}

void lastseen_state::ensure_loaded(const std::string& user) {
  if (book.known(user))
    return;
  // A failed read counts as "never seen": last seen is advisory, and the next activity
  // writes a fresh value.
  auto stored = ctx->store->get(storage::table::lastseen, user);
  book.load(user, stored.found() ? static_cast<int64_t>(storage::from_be64(stored.value())) : -1);
}

void lastseen_state::set_state(const std::string& user, const caf::actor& session,
                               bool foreground) {
  ensure_loaded(user);
  auto key = key_of(session);
  auto* before = book.find(user);
  if (before != nullptr && !before->session.empty() && before->session != key)
    sessions.erase(before->session); // replaced: its end no longer matters
  if (sessions.emplace(key, std::make_pair(session, user)).second)
    self->monitor(session);
  if (book.set_state(user, key, foreground, ctx->now()))
    notify(user);
}

bool lastseen_state::overloaded() const {
  if (self->mailbox().size() <= ctx->settings.service_backlog)
    return false;
  node_metrics::add(ctx->metrics->overload_refusals);
  return true;
}

void lastseen_state::touch(const std::string& user, const caf::actor& session) {
  book.touch(user, key_of(session), ctx->now());
}

caf::result<bool, int64_t> lastseen_state::query(const std::string& viewer,
                                                 const std::string& target) {
  auto exists = ctx->store->contains(storage::table::accounts, target);
  if (exists != storage::answer::yes)
    return make_error(exists == storage::answer::no ? errc::not_found : errc::unavailable);
  auto visible = may_see_presence(*ctx->store, viewer, target);
  if (visible == storage::answer::failed)
    return make_error(errc::unavailable);
  if (visible == storage::answer::no)
    return {false, int64_t{-1}};
  ensure_loaded(target);
  const auto* e = book.find(target);
  return {e->online, e->last_seen};
}

void lastseen_state::subscribe(const std::string& viewer, const caf::actor& session,
                               const std::vector<std::string>& targets) {
  auto& sub = subscriptions[session.address()];
  if (!sub.first) {
    sub.first = session;
    self->monitor(session);
  }
  for (const auto& target : targets) {
    subscribers[target][session.address()] = viewer;
    sub.second.insert(target);
  }
}

void lastseen_state::unsubscribe(const caf::actor& session,
                                 const std::vector<std::string>& targets) {
  auto it = subscriptions.find(session.address());
  if (it == subscriptions.end())
    return;
  for (const auto& target : targets) {
    it->second.second.erase(target);
    drop_subscriber(target, session.address());
  }
  if (it->second.second.empty())
    subscriptions.erase(it); // its monitor stays: a later down message finds nothing
}

void lastseen_state::drop_subscriber(const std::string& target, const caf::actor_addr& session) {
  if (auto s = subscribers.find(target); s != subscribers.end()) {
    s->second.erase(session);
    if (s->second.empty())
      subscribers.erase(s);
  }
}

void lastseen_state::on_down(const caf::down_msg& dm) {
  auto key = caf::to_string(dm.source);
  if (auto it = sessions.find(key); it != sessions.end()) {
    auto user = it->second.second;
    sessions.erase(it);
    if (book.end(user, key, ctx->now()))
      notify(user);
  }
  if (auto it = subscriptions.find(dm.source); it != subscriptions.end()) {
    for (const auto& target : it->second.second)
      drop_subscriber(target, dm.source);
    subscriptions.erase(it);
  }
}

void lastseen_state::notify(const std::string& user) {
  auto s = subscribers.find(user);
  if (s == subscribers.end())
    return;
  const auto* e = book.find(user);
  for (const auto& [addr, viewer] : s->second) {
    auto sub = subscriptions.find(addr);
    if (sub == subscriptions.end())
      continue;
    // A failed check hides the presence, as a refusal would (pushes carry no error).
    if (may_see_presence(*ctx->store, viewer, user) == storage::answer::yes)
      caf::anon_send(sub->second.first, atom::presence::value, user, e->online, e->last_seen);
    else
      caf::anon_send(sub->second.first, atom::presence::value, user, false, int64_t{-1});
  }
}

void lastseen_state::flush(bool all) {
  auto due = book.due(ctx->now(), ctx->settings.lastseen_persist_ms, all);
  if (!due.empty()) {
    storage::batch b;
    for (const auto& [user, ts] : due)
      b.put(storage::table::lastseen, user, storage::be64(static_cast<uint64_t>(ts)));
    ctx->store->write(b);
  }
  if (!all)
    book.evict_idle();
}

lastseen_service::behavior_type
lastseen_actor(lastseen_service::stateful_pointer<lastseen_state> self, const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](const caf::exit_msg& em) {
    self->state.flush(true);
    self->quit(em.reason);
  });
  auto period = std::chrono::milliseconds(ctx->settings.tick_ms);
  self->delayed_send(self, period, atom::timer::value);
  return {
      [self](atom::online, const std::string& user, const caf::actor& session, bool fg) {
        self->state.set_state(user, session, fg);
      },
      [self](atom::touch, const std::string& user, const caf::actor& session) {
        if (self->state.overloaded())
          return; // advisory: the next foreground activity refreshes last seen
        self->state.touch(user, session);
      },
      [self](atom::presence, const std::string& viewer,
             const std::string& target) -> caf::result<bool, int64_t> {
        if (self->state.overloaded())
          return make_error(errc::overloaded);
        return self->state.query(viewer, target);
      },
      [self](atom::subscribe, const std::string& viewer, const caf::actor& session,
             const std::vector<std::string>& targets) {
        self->state.subscribe(viewer, session, targets);
      },
      [self](atom::unsubscribe, const caf::actor& session,
             const std::vector<std::string>& targets) {
        self->state.unsubscribe(session, targets);
      },
      [self, period](atom::timer) {
        self->state.flush(false);
        self->delayed_send(self, period, atom::timer::value);
      },
  };
}

} // namespace tidings
