#include "actors/handoff.hpp"

#include "net/codec.hpp"
#include "storage/keys.hpp"

namespace tidings {

using net::json;

namespace {

constexpr auto replay_timeout = std::chrono::seconds(30);

std::string encode_send(const deliver_request& d) {
  return net::encode(json{{"to", d.to},
                          {"from", d.from},
                          {"cid", d.cid},
                          {"content", json::binary({d.content.begin(), d.content.end()})},
                          {"media", d.media_hash},
                          {"mid", d.mid},
                          {"ts", d.ts}},
                     net::encoding::msgpack);
}

std::optional<deliver_request> decode_send(std::string_view bytes) {
  auto v = net::decode(bytes, net::encoding::msgpack, nullptr);
  if (!v || !v->is_object())
    return std::nullopt;
  try {
    deliver_request d;
    d.to = v->at("to").get<std::string>();
    d.from = v->at("from").get<std::string>();
    d.cid = v->at("cid").get<std::string>();
    const auto& content = v->at("content").get_binary();
    d.content.assign(content.begin(), content.end());
    d.media_hash = v->at("media").get<std::string>();
    d.mid = v->at("mid").get<std::string>();
    d.ts = v->at("ts").get<int64_t>();
    return d;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

} // namespace

handoff_backlog read_handoff_backlog(storage::db& store) {
  // Queue keys are `q home \0 be64(seq)`: one scan over the `q` range reads every queue in
  // seq order per home.
  handoff_backlog out;
  auto st = store.scan(storage::table::handoff, "q", "r", std::numeric_limits<std::size_t>::max(),
                       [&out](std::string_view key, std::string_view value) {
                         auto sep = key.find('\0');
                         if (sep == std::string_view::npos || key.size() != sep + 9)
                           return true;
                         auto seq = storage::from_be64(key.substr(sep + 1));
                         if (auto d = decode_send(value))
                           out.homes[std::string{key.substr(1, sep - 1)}].push_back(
                               handoff_queued{seq, std::move(*d)});
                         out.next_seq = std::max(out.next_seq, seq + 1);
                         return true;
                       });
  if (!st.ok())
    throw std::runtime_error("cannot read the handoff queues: " + st.error);
  return out;
}

void handoff_state::load(handoff_backlog backlog) {
  next_seq = backlog.next_seq;
  for (auto& [home, sends] : backlog.homes) {
    for (const auto& q : sends)
      given[storage::handoff_dedupe_key(q.send.from, q.send.cid)] =
          sent_reply{q.send.mid, q.send.ts};
    ctx->metrics->handoff_queued += static_cast<int64_t>(sends.size());
    homes[home].sends = std::move(sends);
    update_flag(home);
  }
}

caf::result<sent_reply> handoff_state::deliver(deliver_request d) {
  const auto& home = ctx->cluster->home(d.to);
  auto key = storage::handoff_dedupe_key(d.from, d.cid);
  if (auto it = given.find(key); it != given.end())
    return it->second; // a retry of a send already queued here
  if (auto it = waiting.find(key); it != waiting.end()) {
    auto rp = self->make_response_promise<sent_reply>();
    it->second.push_back(rp);
    return rp;
  }
  auto& q = homes[home];
  auto gate = ctx->cluster->gate(home);
  if (gate && q.sends.empty() && q.writing == 0) {
    // Nothing of this home waits here: the send goes on, still behind everything queued
    // before it (a session routes here while a send of its own is unanswered).
    update_flag(home);
    self->delegate(caf::actor_cast<routing_service>(gate), std::move(d));
    return caf::delegated<sent_reply>{};
  }
  if (!d.media_hash.empty())
    return make_error(errc::unavailable); // the grant is the home's to write
  if (static_cast<std::size_t>(ctx->metrics->handoff_queued.load()) + waiting.size() >=
      ctx->settings.handoff_max) {
    node_metrics::add(ctx->metrics->overload_refusals);
    return make_error(errc::overloaded); // kept in memory too: bounded
  }
  d.mid = random_id(12);
  d.ts = ctx->now();
  auto seq = next_seq++;
  storage::batch b;
  b.put(storage::table::handoff, storage::handoff_queue_key(home, seq), encode_send(d));
  b.put(storage::table::handoff, key,
        net::encode(json{{"mid", d.mid}, {"ts", d.ts}}, net::encoding::msgpack));
  ++q.writing;
  update_flag(home);
  auto rp = self->make_response_promise<sent_reply>();
  waiting[key].push_back(rp);
  writes.submit(*ctx->writer, caf::actor_cast<caf::actor>(self), std::move(b),
                [this, home, key, seq, d = std::move(d)](bool ok) mutable {
                  auto& q = homes[home];
                  --q.writing;
                  auto waiters = std::move(waiting[key]);
                  waiting.erase(key);
                  sent_reply reply{d.mid, d.ts};
                  if (ok) {
                    given[key] = reply;
                    q.sends.push_back(queued{seq, std::move(d)});
                    ctx->metrics->handoff_queued++;
                    if (q.sends.size() == 1)
                      ctx->logs().info("handoff: keeping sends for a home node that is down",
                                       {{"home", home}});
                  } else {
                    node_metrics::add(ctx->metrics->storage_errors);
                    ctx->logs().error("storage error: handoff write failed", {{"home", home}});
                  }
                  for (auto& w : waiters) {
                    if (ok)
                      w.deliver(reply);
                    else
                      w.deliver(make_error(errc::unavailable));
                  }
                  update_flag(home);
                  replay(home);
                });
  return rp;
}

void handoff_state::replay_all() {
  for (auto& [home, q] : homes) {
    update_flag(home); // a home back with nothing queued takes direct sends again
    replay(home);
  }
}

void handoff_state::replay(const std::string& home) {
  auto& q = homes[home];
  if (q.replaying || q.sends.empty())
    return;
  auto target = ctx->directory_of(q.sends.front().send.to); // this node after a config change
  if (!target)
    return; // still down: the next tick tries again
  q.replaying = true;
  self->request(target, replay_timeout, q.sends.front().send)
      .then([this, home](const sent_reply&) { replayed(home); },
            [this, home](const caf::error& err) {
              auto code = to_errc(err);
              if (code == errc::unavailable || code == errc::overloaded) {
                homes[home].replaying = false; // retried at the next tick
                return;
              }
              // No such user (the sender got `sent` while the home could not be asked), or a
              // refusal no retry can change: dropped and counted, so the sends behind it are
              // not held back for ever.
              node_metrics::add(ctx->metrics->handoff_dropped);
              const auto& send = homes[home].sends.front().send;
              ctx->logs().warn("handoff: send dropped at replay", {{"home", home},
                                                                   {"from", send.from},
                                                                   {"to", send.to},
                                                                   {"code", to_string(code)}});
              replayed(home);
            });
}

void handoff_state::replayed(const std::string& home) {
  auto& q = homes[home];
  q.replaying = false;
  auto done = std::move(q.sends.front());
  q.sends.pop_front();
  auto key = storage::handoff_dedupe_key(done.send.from, done.send.cid);
  given.erase(key);
  node_metrics::add(ctx->metrics->handoff_replayed);
  ctx->metrics->handoff_queued--;
  storage::batch b;
  b.del(storage::table::handoff, storage::handoff_queue_key(home, done.seq));
  b.del(storage::table::handoff, key);
  // If this deletion is lost, the send is replayed again after a restart: the home's dedupe
  // record answers it without a second copy.
  writes.submit(*ctx->writer, caf::actor_cast<caf::actor>(self), std::move(b), [](bool) {});
  if (q.sends.empty())
    ctx->logs().info("handoff: every kept send reached its home", {{"home", home}});
  update_flag(home);
  replay(home);
}

void handoff_state::update_flag(const std::string& home) {
  auto& q = homes[home];
  bool pending = !q.sends.empty() || q.writing > 0 || !ctx->cluster->gate(home);
  ctx->cluster->set_handoff_pending(home, pending);
}

handoff_service::behavior_type handoff_actor(handoff_service::stateful_pointer<handoff_state> self,
                                             const node_context* ctx, handoff_backlog backlog) {
  self->state.self = self;
  self->state.ctx = ctx;
  self->state.load(std::move(backlog));
  auto period = std::chrono::milliseconds(ctx->settings.tick_ms);
  self->delayed_send(self, period, atom::replay::value);
  return {
      [self](deliver_request& d) { return self->state.deliver(std::move(d)); },
      [self](atom::written, uint64_t id, bool ok) { self->state.writes.done(id, ok); },
      [self, period](atom::replay) {
        self->state.replay_all();
        self->delayed_send(self, period, atom::replay::value);
      },
      [self](atom::probe) {
        return actor_probe{"handoff", "", self->mailbox().size(), self->state.handled};
      },
  };
}

} // namespace tidings
