#include "actors/lastseen.hpp"

#include <memory>
#include <utility>

#include "actors/messages.hpp"
#include "actors/profile.hpp"

namespace tidings {

namespace {

/// Shorter than a session's wait for the answer (30 s), so the session hears `unavailable`.
constexpr auto facts_timeout = std::chrono::seconds(10);

std::string key_of(const caf::actor& session) {
  return caf::to_string(session.address());
}

/// The two answers `judge` waits for; whichever comes second decides.
struct judgement {
  caf::optional<presence_facts> facts;
  caf::optional<std::string> viewer_setting;
  bool failed = false;
};

} // namespace

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
  // Every live session counts (one per device); each is forgotten at its end.
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

template <class Decided, class Failed>
void lastseen_state::judge(const std::string& viewer, const std::string& target, Decided decided,
                           Failed failed) {
  auto j = std::make_shared<judgement>();
  auto decide = [j, viewer, target, decided]() mutable {
    if (j->facts && j->viewer_setting)
      decided(*j->facts, may_see_presence(viewer, target, *j->facts, *j->viewer_setting));
  };
  auto fail = [j, failed](const caf::error& err) mutable {
    if (!std::exchange(j->failed, true))
      failed(err);
  };
  self->request(ctx->profile_of(target), facts_timeout, atom::seen_by::value, target, viewer)
      .then(
          [j, decide](bool exists, std::string& setting, bool contact, bool blocked) mutable {
            if (j->failed)
              return;
            j->facts = presence_facts{exists, std::move(setting), contact, blocked};
            decide();
          },
          fail);
  self->request(ctx->profile_of(viewer), facts_timeout, atom::privacy::value, viewer)
      .then(
          [j, decide](bool, bool, std::string& setting) mutable {
            if (j->failed)
              return;
            j->viewer_setting = std::move(setting);
            decide();
          },
          fail);
}

caf::result<bool, int64_t> lastseen_state::query(const std::string& viewer,
                                                 const std::string& target) {
  auto rp = self->make_response_promise<bool, int64_t>();
  judge(
      viewer, target,
      [this, rp, target](const presence_facts& facts, bool visible) mutable {
        if (!facts.exists) {
          rp.deliver(make_error(errc::not_found));
        } else if (!visible) {
          rp.deliver(false, int64_t{-1});
        } else {
          ensure_loaded(target);
          const auto* e = book.find(target);
          rp.deliver(e->online, e->last_seen);
        }
      },
      [rp](const caf::error&) mutable { rp.deliver(make_error(errc::unavailable)); });
  return rp;
}

void lastseen_state::subscribe(const std::string& viewer, const caf::actor& session,
                               const std::vector<std::string>& targets) {
  auto& sub = subscriptions[session.address()];
  if (!sub.first) {
    sub.first = session;
    self->monitor(session);
  }
  for (const auto& target : targets) {
    auto [it, fresh] = subscribers[target].try_emplace(session.address());
    it->second.viewer = viewer;
    if (fresh)
      it->second.pushed = asks; // answers to asks from before it never reach it
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
  for (const auto& [addr, sub] : s->second) {
    auto ask = ++asks;
    judge(
        sub.viewer, user,
        [this, user, addr = addr, ask](const presence_facts&, bool visible) {
          push(user, addr, ask, visible);
        },
        // A failed check hides the presence, as a refusal would (pushes carry no error).
        [this, user, addr = addr, ask](const caf::error&) { push(user, addr, ask, false); });
  }
}

void lastseen_state::push(const std::string& target, const caf::actor_addr& session, uint64_t ask,
                          bool visible) {
  auto s = subscribers.find(target);
  if (s == subscribers.end())
    return;
  auto sub = s->second.find(session);
  if (sub == s->second.end() || sub->second.pushed >= ask)
    return; // unsubscribed meanwhile, or newer facts were pushed already
  sub->second.pushed = ask;
  auto to = subscriptions.find(session);
  if (to == subscriptions.end())
    return;
  if (!visible) {
    caf::anon_send(to->second.first, atom::presence::value, target, false, int64_t{-1});
    return;
  }
  ensure_loaded(target);
  const auto* e = book.find(target);
  caf::anon_send(to->second.first, atom::presence::value, target, e->online, e->last_seen);
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

caf::result<bool, bool, int64_t, std::string> lastseen_state::probe(const std::string& user) {
  ensure_loaded(user);
  const auto* e = book.find(user);
  if (e == nullptr)
    return {false, false, int64_t{-1}, std::string{}};
  // The node of a foreground session if there is one, else of any session.
  std::string node;
  for (const auto& [key, foreground] : e->sessions)
    if (auto it = sessions.find(key); it != sessions.end() && (node.empty() || foreground))
      node = ctx->node_name(it->second.first.node(), self->system().node());
  return {!e->sessions.empty(), e->online, e->last_seen, std::move(node)};
}

lastseen_shard::behavior_type lastseen_actor(lastseen_shard::stateful_pointer<lastseen_state> self,
                                             const node_context* ctx) {
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
      [self](atom::probe) {
        return actor_probe{"lastseen", "", self->mailbox().size(), self->state.handled};
      },
      [self](atom::probe, const std::string& user) { return self->state.probe(user); },
  };
}

} // namespace tidings
