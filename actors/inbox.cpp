#include "actors/inbox.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "actors/messages.hpp"
#include "actors/profile.hpp"
#include "media/access.hpp"
#include "net/codec.hpp"

namespace tidings {

using net::json;

std::string media_pending_key(const std::string& hash, const std::string& recipient, uint64_t seq) {
  std::string key = hash;
  key += '\0';
  key += recipient;
  key += '\0';
  key += storage::be64(seq);
  return key;
}

std::string received_value(const std::string& sender, int64_t ts) {
  std::string value = sender;
  value += '\0';
  value += storage::be64(static_cast<uint64_t>(ts));
  return value;
}

std::string_view received_sender(std::string_view value) {
  return value.substr(0, value.find('\0'));
}

int64_t received_time(std::string_view value) {
  auto sep = value.find('\0');
  return sep == std::string_view::npos
             ? 0
             : static_cast<int64_t>(storage::from_be64(value.substr(sep + 1)));
}

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
  ctx->metrics->inboxes_live++;
  self->attach_functor([m = ctx->metrics] { m->inboxes_live--; });
  last_active = ctx->now();
  if (!log->loaded().ok()) {
    // Storage could not say where the inbox starts: serve nothing rather than guess. The
    // directory sees the exit; requests routed meanwhile fail as `unavailable`.
    node_metrics::add(ctx->metrics->storage_errors);
    self->quit(make_error(errc::unavailable));
  }
}

caf::result<std::string, int64_t>
inbox_state::deliver(const std::string& from, const std::string& cid, const std::string& content) {
  ++routed;
  last_active = ctx->now();
  if (self->mailbox().size() > ctx->settings.inbox_backlog)
    return make_error(errc::overloaded); // refuse rather than queue without bound
  auto key = dedupe_key(from, cid);
  auto seen = ctx->store->get(storage::table::dedupe, key);
  if (seen.failed())
    return make_error(errc::unavailable); // never taken for "not a duplicate"
  if (seen.found()) {
    node_metrics::add(ctx->metrics->messages_deduplicated);
    if (auto rec = net::decode(seen.value(), net::encoding::msgpack, nullptr))
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
  auto blocked = has_blocked(*ctx->store, log->user(), from);
  if (blocked == storage::answer::failed)
    return make_error(errc::unavailable); // never delivered from a blocked sender
  if (blocked == storage::answer::yes) {
    // Blocked: the sender sees `sent` as usual; nothing is stored for delivery.
    if (!ctx->store->write(b).ok())
      return make_error(errc::unavailable);
    node_metrics::add(ctx->metrics->messages_blocked);
    return {mid, ts};
  }
  if (auto media = item.find("media"); media != item.end()) {
    // The recipient may now read it; it stays needed while the item is unacknowledged.
    auto hash = (*media)["hash"].get<std::string>();
    media::grant(b, hash, log->user());
    b.put(storage::table::media_pending, media_pending_key(hash, log->user(), log->next_seq()), "");
  }
  auto st = log->append({net::encode(item, net::encoding::msgpack)}, b);
  if (!st.ok()) {
    // Nothing was stored: the sender gets no `sent` and may retry with the same cid.
    return make_error(errc::unavailable);
  }
  node_metrics::add(ctx->metrics->messages_stored);
  push_more();
  return {mid, ts};
}

void inbox_state::attach(caf::actor s, int64_t since) {
  ++routed;
  last_active = ctx->now();
  if (session && session != s && since < session_since) {
    // A late attach of an older connection (delayed under load): the newer one stays.
    self->send(s, atom::replaced::value);
    return;
  }
  session_since = since;
  if (session && session != s)
    self->send(session, atom::replaced::value);
  if (session != s) {
    if (session)
      self->demonitor(session);
    session = std::move(s);
    self->monitor(session);
  }
  pushed_upto = log->first_seq() - 1; // everything unacked goes out again
  in_flight.clear();
  in_flight_bytes = 0;
  push_more();
}

namespace {

constexpr auto receipt_timeout = std::chrono::seconds(30);

std::string received_key(const std::string& reader, const std::string& mid) {
  std::string key = reader;
  key += '\0';
  key += mid;
  return key;
}

std::string receipt_item(const char* status, const std::string& by,
                         const std::vector<std::string>& mids, int64_t ts) {
  return net::encode(
      json{{"type", "receipt"}, {"status", status}, {"by", by}, {"mids", mids}, {"ts", ts}},
      net::encoding::msgpack);
}

} // namespace

void inbox_state::ack(uint64_t upto, const caf::actor& from) {
  if (!session || from != session)
    return; // a replaced session's late ack: the new session will ack for itself
  last_active = ctx->now();
  upto = std::min(upto, pushed_upto);
  if (upto < log->first_seq())
    return;
  if (acking) {
    pending_ack = std::max(pending_ack, upto);
    return;
  }
  start_ack(upto);
}

void inbox_state::start_ack(uint64_t upto) {
  // Group the acked messages by sender: one delivered receipt per sender.
  std::map<std::string, std::vector<std::string>> by_sender;
  storage::batch received;
  auto first = log->first_seq();
  for (auto& entry : log->read(first, static_cast<std::size_t>(upto - first + 1))) {
    auto item = net::decode(entry.item, net::encoding::msgpack, nullptr);
    if (!item || item->value("type", "") != "msg")
      continue; // no receipt is ever generated for a receipt
    auto from = item->value("from", "");
    auto mid = item->value("mid", "");
    received.put(storage::table::received, received_key(log->user(), mid),
                 received_value(from, ctx->now()));
    if (auto media = item->find("media"); media != item->end() && media->contains("hash"))
      received.del(storage::table::media_pending,
                   media_pending_key((*media)["hash"].get<std::string>(), log->user(), entry.seq));
    by_sender[from].push_back(std::move(mid));
  }
  if (by_sender.empty())
    return finish_ack(upto, received);
  acking = true;
  struct progress {
    std::size_t remaining;
    bool failed = false;
    storage::batch received;
  };
  auto state = std::make_shared<progress>(progress{by_sender.size(), false, std::move(received)});
  auto ts = ctx->now();
  auto done = [this, state, upto] {
    if (--state->remaining > 0)
      return;
    acking = false;
    if (!state->failed)
      finish_ack(upto, state->received);
    else if (retry_ack == 0) {
      retry_ack = upto; // the next check tries the round again
      schedule_check();
    } else {
      retry_ack = std::max(retry_ack, upto);
    }
    // A failed round leaves the items in place; they are pushed again next session.
    if (pending_ack > upto && !state->failed) {
      auto next = pending_ack;
      pending_ack = 0;
      start_ack(next); // may finish at once, or run another round
    }
    if (acking)
      return; // reads and a stop wait for that round
    for (auto& [from, mids] : std::exchange(deferred_reads, {}))
      read(from, mids);
    if (drain_requested)
      drain();
  };
  for (auto& [sender, mids] : by_sender) {
    self->request(ctx->directory, receipt_timeout, atom::receipt::value, sender,
                  receipt_item("delivered", log->user(), mids, ts))
        .then([done](uint64_t) { done(); },
              [state, done](const caf::error& err) {
                // A sender whose account is gone cannot get receipts: nothing to keep.
                if (to_errc(err) != errc::not_found)
                  state->failed = true;
                done();
              });
  }
}

void inbox_state::finish_ack(uint64_t upto, storage::batch& received) {
  auto before = log->first_seq();
  auto st = log->remove_upto(upto, received);
  if (!st.ok())
    return; // the items stay and are pushed again next session: at-least-once
  node_metrics::add(ctx->metrics->items_acked, log->first_seq() - before);
  push_more();
}

caf::result<uint64_t> inbox_state::store_receipt(const std::string& item) {
  ++routed;
  last_active = ctx->now();
  storage::batch none;
  std::vector<uint64_t> seqs;
  if (!log->append({item}, none, &seqs).ok())
    return make_error(errc::unavailable);
  node_metrics::add(ctx->metrics->receipts_stored);
  push_more();
  return seqs.front();
}

void inbox_state::read(const std::string& from, const std::vector<std::string>& mids) {
  last_active = ctx->now();
  if (acking) {
    deferred_reads.emplace_back(from, mids);
    return;
  }
  std::vector<std::string> accepted;
  std::vector<std::string> keys;
  for (const auto& mid : mids) {
    auto key = received_key(log->user(), mid);
    auto record = ctx->store->get(storage::table::received, key);
    if (record.found() && received_sender(record.value()) == from &&
        std::find(keys.begin(), keys.end(), key) == keys.end()) {
      accepted.push_back(mid);
      keys.push_back(std::move(key));
    }
  }
  if (accepted.empty())
    return;
  // Either side switching read receipts off means no read receipt (as in WhatsApp).
  // A failed read of a `received` record or a profile drops this read receipt: the client
  // may send `read` again (reads are idempotent), and a receipt is never sent against a
  // privacy setting that could not be checked.
  auto reader = load_profile(*ctx->store, log->user()).value;
  auto sender = load_profile(*ctx->store, from).value;
  if (!reader || !sender || !reader->read_receipts || !sender->read_receipts)
    return;
  self->request(ctx->directory, receipt_timeout, atom::receipt::value, from,
                receipt_item("read", log->user(), accepted, ctx->now()))
      .then(
          [this, keys](uint64_t) {
            // Reported: a second `read` of the same messages sends nothing. If this write
            // fails, a later `read` of them repeats the receipt (clients drop repeats).
            storage::batch b;
            for (const auto& key : keys)
              b.del(storage::table::received, key);
            if (!ctx->store->write(b).ok())
              node_metrics::add(ctx->metrics->storage_errors);
          },
          [this](const caf::error&) {
            // Not stored (the sender's inbox was unavailable, overloaded or the node is
            // stopping): the `received` records stay, so the client's next `read` retries.
            node_metrics::add(ctx->metrics->read_receipts_failed);
          });
}

void inbox_state::push_more() {
  if (!session)
    return;
  auto window = ctx->settings.push_window;
  uint64_t acked = log->first_seq() - 1;
  if (pushed_upto < acked)
    pushed_upto = acked;
  while (!in_flight.empty() && in_flight.front().first <= acked) {
    in_flight_bytes -= in_flight.front().second;
    in_flight.pop_front();
  }
  auto outstanding = pushed_upto - acked;
  if (outstanding >= window || in_flight_bytes >= ctx->settings.push_window_bytes)
    return;
  for (auto& entry : log->read(pushed_upto + 1, window - outstanding)) {
    // The byte bound keeps a burst of large items within the connection's write queue.
    if (!in_flight.empty() && in_flight_bytes + entry.item.size() > ctx->settings.push_window_bytes)
      break;
    pushed_upto = entry.seq;
    in_flight.emplace_back(entry.seq, entry.item.size());
    in_flight_bytes += entry.item.size();
    self->send(session, atom::push::value, entry.seq, std::move(entry.item));
  }
}

void inbox_state::on_down(const caf::down_msg& dm) {
  if (session && dm.source == session.address()) {
    session = nullptr;
    last_active = ctx->now();
    schedule_check();
  }
}

void inbox_state::schedule_check() {
  // Armed only while there is something to check (no session, or an ack round to retry):
  // thousands of inboxes with live sessions cost no wake-ups at all.
  const auto& st = ctx->settings;
  auto remaining = st.inbox_idle_stop_ms - (ctx->now() - last_active);
  auto ms = std::max<int64_t>(std::max<int64_t>(st.tick_ms, st.inbox_idle_stop_ms / 12), remaining);
  if (retry_ack > 0 || acking)
    ms = st.tick_ms;
  self->delayed_send(self, std::chrono::milliseconds(ms), atom::timer::value);
}

void inbox_state::drain() {
  if (acking) {
    drain_requested = true;
    return;
  }
  drain_requested = false;
  self->send(ctx->directory, atom::drain::value, log->user());
}

void inbox_state::tick() {
  if (!acking && retry_ack >= log->first_seq()) {
    auto upto = std::exchange(retry_ack, 0);
    start_ack(std::min(upto, log->next_seq() - 1));
  }
  if (!session && !acking && ctx->now() - last_active >= ctx->settings.inbox_idle_stop_ms)
    self->send(ctx->directory, atom::idle::value, log->user(), routed);
  if (!session || retry_ack > 0)
    schedule_check(); // the directory may refuse the stop: check again later
}

caf::behavior inbox_actor(caf::stateful_actor<inbox_state>* self, const node_context* ctx,
                          std::string user) {
  self->state.init(self, ctx, std::move(user));
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  self->state.schedule_check();
  return {
      [self](atom::deliver, const std::string& from, const std::string& cid,
             const std::string& content) { return self->state.deliver(from, cid, content); },
      [self](atom::attach, caf::actor s, int64_t since) {
        self->state.attach(std::move(s), since);
        return caf::actor_cast<caf::actor>(self);
      },
      [self](atom::ack, uint64_t upto, const caf::actor& from) { self->state.ack(upto, from); },
      [self](atom::receipt, const std::string& item) { return self->state.store_receipt(item); },
      [self](atom::read, const std::string& from, const std::vector<std::string>& mids) {
        self->state.read(from, mids);
      },
      [self](atom::timer) { self->state.tick(); },
      [self](atom::drain) { self->state.drain(); },
      [self](atom::stop) { self->quit(); },
  };
}

} // namespace tidings
