#include "actors/inbox.hpp"

#include "actors/messages.hpp"
#include "net/codec.hpp"

namespace tidings {

using net::json;

std::string dedupe_key(const std::string& sender, const std::string& cid) {
  std::string key = sender;
  key += '\0';
  key += cid;
  return key;
}

void inbox_state::init(caf::event_based_actor* s, const node_context* c, std::string user) {
  self = s;
  ctx = c;
  log = std::make_unique<storage::inbox_log>(*ctx->store, std::move(user));
  last_active = ctx->now();
}

caf::result<std::string, int64_t> inbox_state::deliver(const std::string& from,
                                                       const std::string& cid,
                                                       const std::string& content) {
  ++routed;
  last_active = ctx->now();
  auto key = dedupe_key(from, cid);
  if (auto seen = ctx->store->get(storage::table::dedupe, key)) {
    if (auto rec = net::decode(*seen, net::encoding::msgpack, nullptr))
      return {(*rec)["mid"].get<std::string>(), (*rec)["ts"].get<int64_t>()};
  }
  auto fields = net::decode(content, net::encoding::msgpack, nullptr);
  if (!fields)
    return make_error(errc::bad_request);
  auto mid = random_id(12);
  auto ts = ctx->now();
  json item = *fields;
  item["type"] = "msg";
  item["mid"] = mid;
  item["from"] = from;
  item["ts"] = ts;
  storage::batch b;
  b.put(storage::table::dedupe, key,
        net::encode(json{{"mid", mid}, {"ts", ts}, {"to", log->user()}}, net::encoding::msgpack));
  auto st = log->append({net::encode(item, net::encoding::msgpack)}, b);
  if (!st.ok()) {
    // Nothing was stored: the sender gets no `sent` and may retry with the same cid.
    return make_error(errc::unavailable);
  }
  push_more();
  return {mid, ts};
}

void inbox_state::attach(caf::actor s) {
  ++routed;
  last_active = ctx->now();
  if (session && session != s)
    self->send(session, atom::replaced::value);
  if (session != s) {
    if (session)
      self->demonitor(session);
    session = std::move(s);
    self->monitor(session);
  }
  pushed_upto = log->first_seq() - 1; // everything unacked goes out again
  push_more();
}

void inbox_state::ack(uint64_t upto, const caf::actor& from) {
  if (!session || from != session)
    return; // a replaced session's late ack: the new session will ack for itself
  upto = std::min(upto, pushed_upto);
  if (upto < log->first_seq())
    return;
  storage::batch b;
  auto st = log->remove_upto(upto, b);
  if (!st.ok())
    return; // the items stay and are pushed again next session: at-least-once
  push_more();
}

void inbox_state::push_more() {
  if (!session)
    return;
  auto window = ctx->settings.push_window;
  uint64_t acked = log->first_seq() - 1;
  if (pushed_upto < acked)
    pushed_upto = acked;
  auto outstanding = pushed_upto - acked;
  if (outstanding >= window)
    return;
  for (auto& entry : log->read(pushed_upto + 1, window - outstanding)) {
    pushed_upto = entry.seq;
    self->send(session, atom::push::value, entry.seq, std::move(entry.item));
  }
}

void inbox_state::on_down(const caf::down_msg& dm) {
  if (session && dm.source == session.address()) {
    session = nullptr;
    last_active = ctx->now();
  }
}

void inbox_state::tick() {
  if (!session && ctx->now() - last_active >= ctx->settings.inbox_idle_stop_ms)
    self->send(ctx->directory, atom::idle::value, log->user(), routed);
  self->delayed_send(self, std::chrono::milliseconds(ctx->settings.tick_ms), atom::timer::value);
}

caf::behavior inbox_actor(caf::stateful_actor<inbox_state>* self, const node_context* ctx,
                          std::string user) {
  self->state.init(self, ctx, std::move(user));
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  self->delayed_send(self, std::chrono::milliseconds(ctx->settings.tick_ms), atom::timer::value);
  return {
    [self](atom::deliver, const std::string& from, const std::string& cid,
           const std::string& content) { return self->state.deliver(from, cid, content); },
    [self](atom::attach, caf::actor s) {
      self->state.attach(std::move(s));
      return caf::actor_cast<caf::actor>(self);
    },
    [self](atom::ack, uint64_t upto, const caf::actor& from) { self->state.ack(upto, from); },
    [self](atom::timer) { self->state.tick(); },
    [self](atom::stop) { self->quit(); },
  };
}

} // namespace tidings
