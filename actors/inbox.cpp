#include "actors/inbox.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "actors/directory.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"
#include "net/msgpack_map.hpp"
#include "storage/group_writer.hpp"

namespace tidings {

using net::json;

void inbox_state::init(inbox_service::pointer s, const node_context* c, std::string user) {
  self = s;
  ctx = c;
  log = std::make_unique<storage::inbox_log>(*ctx->store, std::move(user));
  ctx->metrics->inboxes_live++;
  self->attach_functor([m = ctx->metrics] { m->inboxes_live--; });
  last_active = ctx->now();
  written_upto = log->next_seq() - 1;
  recent_from = log->next_seq();
  if (!log->loaded().ok()) {
    // Storage could not say where the inbox starts: serve nothing rather than guess. The
    // directory sees the exit; requests routed meanwhile fail as `unavailable`.
    node_metrics::add(ctx->metrics->storage_errors);
    ctx->logs().error("storage error: cannot open inbox",
                      {{"user", log->user()}, {"error", log->loaded().error}});
    self->quit(make_error(errc::unavailable));
    return;
  }
  if (!load_devices()) {
    node_metrics::add(ctx->metrics->storage_errors);
    ctx->logs().error("storage error: cannot read devices", {{"user", log->user()}});
    self->quit(make_error(errc::unavailable));
  }
}

namespace {

std::string encode_device(const device_entry& d) {
  return net::encode(json{{"name", d.name},
                          {"created", d.created},
                          {"seen", d.seen},
                          {"acked", d.acked},
                          {"tokens", d.tokens}},
                     net::encoding::msgpack);
}

std::optional<device_entry> decode_device(uint32_t id, std::string_view bytes) {
  auto v = net::decode(bytes, net::encoding::msgpack, nullptr);
  if (!v || !v->is_object())
    return std::nullopt;
  device_entry d;
  d.id = id;
  d.name = v->value("name", "");
  d.created = v->value("created", int64_t{0});
  d.seen = v->value("seen", int64_t{0});
  d.acked = v->value("acked", uint64_t{0});
  if (auto t = v->find("tokens"); t != v->end() && t->is_array())
    for (const auto& key : *t)
      if (key.is_string())
        d.tokens.push_back(key.get<std::string>());
  return d;
}

} // namespace

int64_t copy_origin(std::string_view item) {
  // `sent_copy` items start with the pairs the session wrote first: type, then device.
  if (item.empty())
    return -1;
  auto b = static_cast<unsigned char>(item[0]);
  std::size_t i = (b >= 0x80 && b <= 0x8f) ? 1 : b == 0xde ? 3 : b == 0xdf ? 5 : 0;
  static constexpr std::string_view head{"\xa4type\xa9sent_copy\xa6"
                                         "device"};
  if (i == 0 || item.substr(i, head.size()) != head)
    return -1;
  i += head.size();
  if (i >= item.size())
    return -1;
  auto tag = static_cast<unsigned char>(item[i]);
  std::size_t width = tag < 0x80 ? 0 : tag == 0xcc ? 1 : tag == 0xcd ? 2 : tag == 0xce ? 4 : 9;
  if (width == 9 || i + 1 + width > item.size())
    return -1;
  if (width == 0)
    return tag;
  int64_t value = 0;
  for (std::size_t k = 0; k < width; ++k)
    value = (value << 8) | static_cast<unsigned char>(item[i + 1 + k]);
  return value;
}

bool inbox_state::load_devices() {
  auto range = storage::device_range(log->user());
  auto st = ctx->store->scan(storage::table::inbox_meta, range.begin, range.end, SIZE_MAX,
                             [this](std::string_view key, std::string_view value) {
                               auto id = static_cast<uint32_t>(
                                   storage::from_be64(key.substr(key.size() - 8)));
                               if (auto d = decode_device(id, value))
                                 devices.emplace(id, std::move(*d));
                               return true;
                             });
  if (!st.ok())
    return false;
  auto next = ctx->store->get(storage::table::inbox_meta, storage::device_next_key(log->user()));
  if (next.failed())
    return false;
  if (next.found())
    next_device = static_cast<uint32_t>(storage::from_be64(next.value()));
  for (const auto& [id, d] : devices)
    next_device = std::max(next_device, id + 1);
  return true;
}

void inbox_state::load_blocks() {
  // `await`: deliveries wait until the list is here, so none slips past a block.
  self->request(ctx->profile_of(log->user()), std::chrono::seconds(30), atom::blocks::value,
                atom::list::value, log->user())
      .await(
          [this](const std::vector<std::string>& users) {
            blocked.insert(users.begin(), users.end());
          },
          [this](const caf::error&) {
            // Without the list no delivery can be judged: refuse them all (the directory sees
            // the exit; routed requests fail as `unavailable` and senders retry).
            self->quit(make_error(errc::unavailable));
          });
}

void inbox_state::on_block(const std::string& other, bool is_blocked) {
  if (is_blocked)
    blocked.insert(other);
  else
    blocked.erase(other);
}

void inbox_state::submit(storage::batch b, std::function<void(bool ok)> then) {
  writes.submit(*ctx->writer, inbox_service{self}, std::move(b), std::move(then));
}

void inbox_state::on_written(uint64_t id, bool ok) {
  if (!ok) {
    node_metrics::add(ctx->metrics->storage_errors);
    // While the store is read-only (disk full) its one warn line says it all.
    if (ctx->store->state().writable)
      ctx->logs().error("storage error: inbox write failed", {{"user", log->user()}});
  }
  if (writes.done(id, ok) && stop_requested && writes.empty())
    self->quit();
}

void inbox_state::stop() {
  if (writes.empty())
    return self->quit();
  stop_requested = true; // answers and acks in flight still complete
}

namespace {

/// Named devices a user may register (live sessions are bounded by --limits.devices).
constexpr std::size_t max_registered_devices = 64;
/// Bytes of recent items an inbox keeps in memory; older ones are read back when needed.
constexpr std::size_t recent_bytes_max = 256 * 1024;
constexpr auto media_timeout = std::chrono::seconds(30);

std::size_t held_bytes(const cached_item& item) {
  return item.bytes.size() + item.from.size() + item.mid.size();
}

} // namespace

void inbox_state::remember(cached_item item) {
  if (item.seq < recent_from)
    return;
  recent_bytes += held_bytes(item);
  recent.push_back(std::move(item));
  // Beyond the bound the oldest go; they are read back from RocksDB when needed.
  while (recent_bytes > recent_bytes_max && !recent.empty()) {
    recent_bytes -= held_bytes(recent.front());
    recent_from = recent.front().seq + 1;
    recent.pop_front();
  }
}

void inbox_state::forget_upto(uint64_t seq) {
  while (!recent.empty() && recent.front().seq <= seq) {
    recent_bytes -= held_bytes(recent.front());
    recent.pop_front();
  }
  recent_from = std::max(recent_from, seq + 1);
}

namespace {

/// What an ack or a push needs of a stored item.
cached_item describe(uint64_t seq, std::string bytes) {
  cached_item out;
  out.seq = seq;
  if (auto item = net::decode(bytes, net::encoding::msgpack, nullptr)) {
    out.is_msg = item->value("type", "") == "msg";
    if (out.is_msg) {
      out.from = item->value("from", "");
      out.mid = item->value("mid", "");
      if (auto media = item->find("media"); media != item->end() && media->contains("hash"))
        out.media_hash = (*media)["hash"].get<std::string>();
    }
  }
  out.copy_of = copy_origin(bytes);
  out.bytes = std::move(bytes);
  return out;
}

} // namespace

std::vector<cached_item> inbox_state::items_between(uint64_t from, uint64_t upto, std::size_t max) {
  std::vector<cached_item> out;
  from = std::max(from, log->first_seq());
  if (upto >= from) // at most one item per seq: no regrowing for the usual short ranges
    out.reserve(std::min<uint64_t>({upto - from + 1, max, 64}));
  if (from < recent_from && max > 0) {
    auto last = std::min(upto, recent_from - 1);
    for (auto& entry : log->read(from, max)) {
      if (entry.seq > last)
        break;
      out.emplace_back();
      out.back().seq = entry.seq;
      out.back().copy_of = copy_origin(entry.item);
      out.back().bytes = std::move(entry.item);
    }
  }
  for (const auto& item : recent) {
    if (out.size() >= max || item.seq > upto)
      break;
    if (item.seq < from)
      continue;
    // Only what a push uses is copied: the bytes.
    out.emplace_back();
    auto& copy = out.back();
    copy.seq = item.seq;
    copy.copy_of = item.copy_of;
    copy.bytes = item.bytes;
  }
  return out;
}

template <class F> void inbox_state::each_described(uint64_t from, uint64_t upto, F&& f) {
  from = std::max(from, log->first_seq());
  if (from < recent_from) {
    auto last = std::min(upto, recent_from - 1);
    for (auto& entry : log->read(from, SIZE_MAX)) {
      if (entry.seq > last)
        break;
      f(describe(entry.seq, std::move(entry.item)));
    }
  }
  for (const auto& item : recent) {
    if (item.seq > upto)
      break;
    if (item.seq >= from)
      f(item);
  }
}

caf::result<sent_reply> inbox_state::deliver(const std::string& from, const std::string& cid,
                                             const std::string& content,
                                             const std::string& media_hash,
                                             const std::string& given_mid, int64_t given_ts) {
  ++routed;
  last_active = ctx->now();
  if (self->mailbox().size() > ctx->settings.inbox_backlog)
    return make_error(errc::overloaded); // refuse rather than queue without bound
  auto key = dedupe_key(from, cid);
  if (auto waiting = dedupe_waiting.find(key); waiting != dedupe_waiting.end()) {
    // A retry while the first write is in flight: answered by that write.
    node_metrics::add(ctx->metrics->messages_deduplicated);
    auto rp = self->make_response_promise<sent_reply>();
    waiting->second.push_back(rp);
    return rp;
  }
  auto seen = ctx->store->get(storage::table::dedupe, key);
  if (seen.failed())
    return make_error(errc::unavailable); // never taken for "not a duplicate"
  if (seen.found()) {
    node_metrics::add(ctx->metrics->messages_deduplicated);
    if (auto rec = net::decode(seen.value(), net::encoding::msgpack, nullptr))
      return sent_reply{(*rec)["mid"].get<std::string>(), (*rec)["ts"].get<int64_t>()};
  }
  // A send replayed from another node's handoff keeps the `sent` that node already gave.
  auto mid = given_mid.empty() ? random_id(12) : given_mid;
  auto ts = given_mid.empty() ? ctx->now() : given_ts;
  auto item = net::msgpack_map_builder{content}
                  .add("type", "msg")
                  .add("mid", mid)
                  .add("from", from)
                  .add("ts", ts)
                  .finish();
  if (!item)
    return make_error(errc::bad_request);
  storage::batch b;
  std::string record; // {mid, ts, to}, keys in json's order
  net::msgpack_writer{record}.map(3).str("mid").str(mid).str("ts").integer(ts).str("to").str(
      log->user());
  b.put(storage::table::dedupe, key, record);
  auto rp = self->make_response_promise<sent_reply>();
  dedupe_waiting[key].push_back(rp);
  auto answer_all = [this, key, mid, ts](bool ok, errc failure = errc::unavailable) {
    auto waiters = std::move(dedupe_waiting[key]);
    dedupe_waiting.erase(key);
    for (auto& w : waiters) {
      // Nothing was stored on failure: the sender gets no `sent` and retries the same cid.
      if (ok)
        w.deliver(sent_reply{mid, ts});
      else
        w.deliver(make_error(failure));
    }
  };
  if (blocked.count(from) > 0) {
    // Blocked: the sender sees `sent` as usual; nothing is stored for delivery.
    submit(std::move(b), [this, answer_all](bool ok) {
      if (ok)
        node_metrics::add(ctx->metrics->messages_blocked);
      answer_all(ok);
    });
    return rp;
  }
  cached_item cached;
  cached.from = from;
  cached.mid = mid;
  cached.is_msg = true;
  cached.bytes = std::move(*item);
  if (media_hash.empty()) {
    store(std::move(b), std::move(cached), answer_all);
    return rp;
  }
  // `sent` tells the sender the recipient may read the media: the media service writes that
  // grant (durably) before the item is staged. `await`: deliveries keep their order.
  cached.media_hash = media_hash;
  // The grant names the item's seq: retention keeps the blob while this inbox holds it.
  self->request(ctx->media_of(media_hash), media_timeout, atom::grant::value, media_hash,
                log->user(), log->next_seq())
      .await([this, b = std::make_shared<storage::batch>(std::move(b)), cached,
              answer_all](bool) { store(std::move(*b), cached, answer_all); },
             [answer_all](const caf::error& err) {
               // not_found: the blob was deleted since the sender's check.
               answer_all(false,
                          to_errc(err) == errc::not_found ? errc::forbidden : errc::unavailable);
             });
  return rp;
}

void inbox_state::store(storage::batch b, cached_item cached,
                        std::function<void(bool ok, errc failure)> answer_all) {
  cached.seq = log->stage_append(cached.bytes, b);
  submit(std::move(b), [this, answer_all, cached = std::move(cached)](bool ok) mutable {
    written_upto = std::max(written_upto, cached.seq);
    if (ok) {
      node_metrics::add(ctx->metrics->messages_stored);
      remember(std::move(cached));
    }
    answer_all(ok, errc::unavailable);
    push_more();
  });
}

bool inbox_state::holds(uint64_t seq) {
  ++routed;
  return seq >= log->first_seq() && seq < log->next_seq();
}

live_session* inbox_state::session_of(const caf::actor_addr& addr) {
  for (auto& s : sessions)
    if (s.handle.address() == addr)
      return &s;
  return nullptr;
}

uint64_t inbox_state::acked_of(uint32_t device) const {
  auto floor = log->first_seq() - 1;
  auto it = devices.find(device);
  return it == devices.end() ? floor : std::max(floor, it->second.acked);
}

uint64_t inbox_state::delivered_upto() const {
  auto out = log->first_seq() - 1;
  for (const auto& [id, d] : devices)
    out = std::max(out, d.acked);
  return out;
}

bool inbox_state::holding(const device_entry& d) const {
  if (ctx->now() - d.seen <= ctx->settings.device_retention_ms)
    return true;
  for (const auto& s : sessions)
    if (s.device == d.id)
      return true;
  return false;
}

uint64_t inbox_state::releasable() const {
  // Only what some device acknowledged is ever removed: with no holding device, nothing.
  auto floor = log->first_seq() - 1;
  bool any = false;
  uint64_t out = UINT64_MAX;
  for (const auto& [id, d] : devices)
    if (holding(d)) {
      any = true;
      out = std::min(out, std::max(floor, d.acked));
    }
  return any ? out : floor;
}

bool inbox_state::copies_for(uint32_t device) const {
  for (const auto& [id, d] : devices)
    if (id != 0 && id != device && holding(d))
      return true;
  return false;
}

void inbox_state::tell_devices() {
  for (auto& s : sessions)
    self->send(s.handle, atom::devices::value, s.device, copies_for(s.device));
}

void inbox_state::stage_device(storage::batch& b, const device_entry& d) const {
  b.put(storage::table::inbox_meta, storage::device_key(log->user(), d.id), encode_device(d));
}

void inbox_state::attach(attached_session s, int64_t since, const std::string& token_key) {
  ++routed;
  auto now = ctx->now();
  last_active = now;
  uint32_t device = 0;
  if (!token_key.empty())
    for (const auto& [id, d] : devices)
      if (std::find(d.tokens.begin(), d.tokens.end(), token_key) != d.tokens.end())
        device = id;
  auto it = std::find_if(sessions.begin(), sessions.end(),
                         [device](const live_session& l) { return l.device == device; });
  if (it != sessions.end() && it->handle != s && since < it->since) {
    // A late attach of an older connection of this device (delayed under load): the newer
    // one stays.
    self->send(s, atom::replaced::value);
    return;
  }
  if (it == sessions.end()) {
    if (sessions.size() >= ctx->settings.max_devices) {
      self->send(s, atom::devlimit::value); // one session per device, this many devices
      return;
    }
    sessions.emplace_back();
    it = std::prev(sessions.end());
    it->device = device;
    it->handle = s;
    self->monitor(s);
  } else if (it->handle != s) {
    // The same device again: the newer connection replaces the older (4002).
    self->send(it->handle, atom::replaced::value);
    self->demonitor(it->handle.address());
    it->handle = s;
    self->monitor(s);
  }
  it->since = since;
  it->pushed_upto = acked_of(device); // everything it has not acknowledged goes out again
  it->in_flight.clear();
  it->in_flight_bytes = 0;
  if (device == 0)
    unnamed_seen = now;
  if (!devices.empty()) {
    // Named devices exist: this device's record says it is in use (the unnamed device gets
    // one now if it had none: it holds items back from here on, and gets what is pending).
    auto [d, fresh] = devices.try_emplace(device);
    if (fresh) {
      d->second.id = device;
      d->second.created = now;
      d->second.acked = log->first_seq() - 1;
    }
    d->second.seen = now;
    storage::batch b;
    stage_device(b, d->second);
    submit(std::move(b), [](bool) {}); // a failure only ages the device's `seen`
  }
  self->send(s, atom::devices::value, device, copies_for(device));
  push_more();
}

caf::result<uint32_t> inbox_state::add_device(const std::string& name,
                                              const std::string& token_key) {
  ++routed;
  auto now = ctx->now();
  last_active = now;
  storage::batch b;
  device_entry* d = nullptr;
  for (auto& [id, entry] : devices)
    if (id != 0 && entry.name == name)
      d = &entry;
  if (d == nullptr) {
    std::size_t named = devices.size() - devices.count(0);
    for (auto it = devices.begin(); it != devices.end() && named >= max_registered_devices;) {
      // Room is made from devices nobody used within the retention window.
      if (it->first != 0 && !holding(it->second)) {
        b.del(storage::table::inbox_meta, storage::device_key(log->user(), it->first));
        it = devices.erase(it);
        --named;
      } else {
        ++it;
      }
    }
    if (named >= max_registered_devices)
      return make_error(errc::forbidden);
    if (devices.empty() && unnamed_seen > 0) {
      // The first named device: the unnamed one, in use since this inbox started, keeps
      // getting everything (it holds items back from now on, like any device).
      auto& unnamed = devices[0];
      unnamed.id = 0;
      unnamed.created = unnamed.seen = unnamed_seen;
      unnamed.acked = log->first_seq() - 1;
      stage_device(b, unnamed);
    }
    auto id = next_device++;
    b.put(storage::table::inbox_meta, storage::device_next_key(log->user()), storage::be64(id + 1));
    d = &devices[id];
    d->id = id;
    d->name = name;
    d->created = now;
    // A device linked now gets what is still pending, not the history.
    d->acked = log->first_seq() - 1;
  }
  d->seen = now;
  if (std::find(d->tokens.begin(), d->tokens.end(), token_key) == d->tokens.end())
    d->tokens.push_back(token_key);
  stage_device(b, *d);
  auto rp = self->make_response_promise<uint32_t>();
  submit(std::move(b), [this, rp, id = d->id](bool ok) mutable {
    if (!ok) { // the login is retried
      rp.deliver(make_error(errc::unavailable));
      return;
    }
    rp.deliver(id);
    tell_devices();
  });
  return rp;
}

std::string inbox_state::list_devices() {
  ++routed;
  auto out = json::array();
  auto describe_one = [this, &out](uint32_t id, const device_entry* d) {
    bool online = std::any_of(sessions.begin(), sessions.end(),
                              [id](const live_session& s) { return s.device == id; });
    json j{{"id", id}, {"online", online}};
    j["name"] = id == 0 ? json(nullptr) : json(d->name);
    j["created"] = d != nullptr ? json(d->created) : json(nullptr);
    j["last_active"] = d != nullptr ? json(d->seen) : json(nullptr);
    j["tokens"] = d != nullptr ? json(d->tokens) : json::array();
    out.push_back(std::move(j));
  };
  // The unnamed device is listed while it is the only one, has a record, or is online.
  bool unnamed_online = std::any_of(sessions.begin(), sessions.end(),
                                    [](const live_session& s) { return s.device == 0; });
  if (devices.count(0) == 0 && (devices.empty() || unnamed_online))
    describe_one(0, nullptr);
  for (const auto& [id, d] : devices)
    describe_one(id, &d);
  return json{{"devices", std::move(out)}}.dump();
}

caf::result<bool> inbox_state::remove_device(uint32_t id) {
  ++routed;
  last_active = ctx->now();
  auto live = std::find_if(sessions.begin(), sessions.end(),
                           [id](const live_session& s) { return s.device == id; });
  auto it = devices.find(id);
  if (it == devices.end() && live == sessions.end() && !(id == 0 && devices.empty()))
    return make_error(errc::not_found);
  if (live != sessions.end()) {
    self->send(live->handle, atom::devgone::value);
    self->demonitor(live->handle.address());
    sessions.erase(live);
  }
  if (it == devices.end()) // the unnamed device without a record: nothing held, nothing stored
    return true;
  storage::batch b;
  b.del(storage::table::inbox_meta, storage::device_key(log->user(), id));
  devices.erase(it);
  // What it alone held back is released (only what another device acknowledged).
  auto before = log->first_seq();
  auto new_first = log->stage_remove(releasable(), b);
  auto rp = self->make_response_promise<bool>();
  submit(std::move(b), [this, rp, before, new_first](bool ok) mutable {
    if (!ok) {
      rp.deliver(make_error(errc::unavailable));
      return;
    }
    if (new_first > before) {
      log->removed(new_first);
      forget_upto(new_first - 1);
      node_metrics::add(ctx->metrics->items_acked, new_first - before);
    }
    rp.deliver(true);
    tell_devices();
    push_more();
  });
  return rp;
}

namespace {

constexpr auto receipt_timeout = std::chrono::seconds(30);

std::string receipt_item(const char* status, const std::string& by,
                         const std::vector<std::string>& mids, int64_t ts) {
  // Keys in json's order: the bytes net::encode of the same object gives.
  std::string out;
  auto bytes = 64 + by.size() + std::char_traits<char>::length(status);
  for (const auto& mid : mids)
    bytes += mid.size() + 2;
  out.reserve(bytes); // one allocation instead of a string grown mid by mid
  net::msgpack_writer w{out};
  w.map(5).str("by").str(by).str("mids").array(static_cast<uint32_t>(mids.size()));
  for (const auto& mid : mids)
    w.str(mid);
  w.str("status").str(status).str("ts").integer(ts).str("type").str("receipt");
  return out;
}

} // namespace

void inbox_state::ack(uint64_t upto, const caf::actor& from) {
  auto* s = session_of(from.address());
  if (s == nullptr)
    return; // a replaced session's late ack: the new session will ack for itself
  ack_device(s->device, std::min(upto, s->pushed_upto));
}

void inbox_state::ack_device(uint32_t device, uint64_t upto) {
  last_active = ctx->now();
  if (device == 0)
    unnamed_seen = last_active;
  if (upto <= acked_of(device))
    return;
  if (acking) {
    auto& pending = pending_acks[device];
    pending = std::max(pending, upto);
    return;
  }
  start_ack(device, upto);
}

void inbox_state::start_ack(uint32_t device, uint64_t upto) {
  acking = true;
  // Group the newly acked messages by sender: one delivered receipt per sender. Messages an
  // earlier ack (of any device) covered have had theirs.
  std::map<std::string, std::vector<std::string>> by_sender;
  storage::batch received;
  auto now = ctx->now();
  auto from = delivered_upto() + 1;
  if (upto >= from)
    each_described(from, upto, [&](const cached_item& item) {
      if (!item.is_msg)
        return; // no receipt is ever generated for a receipt
      received.put(storage::table::received, received_key(log->user(), item.mid),
                   received_value(item.from, now));
      by_sender[item.from].push_back(item.mid);
    });
  if (by_sender.empty())
    return finish_ack(device, upto, std::move(received));
  struct progress {
    std::size_t remaining;
    bool failed = false;
    storage::batch received;
  };
  auto state = std::make_shared<progress>(progress{by_sender.size(), false, std::move(received)});
  auto done = [this, state, device, upto] {
    if (--state->remaining > 0)
      return;
    if (state->failed)
      return end_ack(device, upto, false); // the items stay; the round is retried
    finish_ack(device, upto, std::move(state->received));
  };
  for (auto& [sender, mids] : by_sender) {
    auto home = ctx->directory_of(sender);
    if (!home) { // the sender's home node is down: the round is retried
      state->failed = true;
      done();
      continue;
    }
    timed_request(home, receipt_timeout,
                  receipt_delivery{sender, receipt_item("delivered", log->user(), mids, now)})
        .then([done](uint64_t) { done(); },
              [state, done](const caf::error& err) {
                // A sender whose account is gone cannot get receipts: nothing to keep.
                if (to_errc(err) != errc::not_found)
                  state->failed = true;
                done();
              });
  }
}

void inbox_state::finish_ack(uint32_t device, uint64_t upto, storage::batch received) {
  auto before = log->first_seq();
  auto remove_upto = upto; // the unnamed device alone: its ack is the inbox's cursor
  if (!devices.empty()) {
    // Each device's cursor is its record; items go once every holding device acked them. The
    // record is updated before the write, so every later write carries it.
    auto [d, fresh] = devices.try_emplace(device);
    if (fresh) {
      d->second.id = device;
      d->second.created = ctx->now();
    }
    d->second.acked = std::max(d->second.acked, upto);
    d->second.seen = ctx->now();
    stage_device(received, d->second);
    remove_upto = releasable();
  }
  auto new_first = log->stage_remove(remove_upto, received);
  if (received.count() == 0)
    return end_ack(device, upto, true);
  submit(std::move(received), [this, device, upto, before, new_first](bool ok) {
    if (ok && new_first > before) {
      // Failed: the items stay and are pushed again next session (at-least-once).
      log->removed(new_first);
      forget_upto(new_first - 1);
      node_metrics::add(ctx->metrics->items_acked, new_first - before);
    }
    end_ack(device, upto, ok);
    push_more();
  });
}

void inbox_state::end_ack(uint32_t device, uint64_t upto, bool ok) {
  acking = false;
  if (!ok) {
    bool arm = retry_acks.empty();
    auto& retry = retry_acks[device]; // the next check tries the round again
    retry = std::max(retry, upto);
    if (arm)
      schedule_check();
  } else {
    next_ack(); // may finish at once, or run another round
  }
  if (acking)
    return; // reads and a drain wait for that round
  for (auto& r : std::exchange(deferred_reads, {}))
    read(r.from, r.mids, std::move(r.done));
  if (drain_requested)
    drain();
}

void inbox_state::next_ack() {
  while (!acking && !pending_acks.empty()) {
    auto [device, upto] = *pending_acks.begin();
    pending_acks.erase(pending_acks.begin());
    upto = std::min(upto, log->next_seq() - 1);
    if (upto > acked_of(device))
      start_ack(device, upto);
  }
}

caf::result<uint64_t> inbox_state::store_receipt(const std::string& item) {
  ++routed;
  last_active = ctx->now();
  storage::batch b;
  auto seq = log->stage_append(item, b);
  auto rp = self->make_response_promise<uint64_t>();
  cached_item cached;
  cached.seq = seq;
  cached.bytes = item;
  cached.copy_of = copy_origin(item);
  submit(std::move(b), [this, rp, cached = std::move(cached)](bool ok) mutable {
    written_upto = std::max(written_upto, cached.seq);
    if (!ok) {
      rp.deliver(make_error(errc::unavailable));
      return push_more();
    }
    node_metrics::add(ctx->metrics->receipts_stored);
    rp.deliver(cached.seq);
    remember(std::move(cached));
    push_more();
  });
  return rp;
}

caf::result<bool> inbox_state::read(const std::string& from, const std::vector<std::string>& mids) {
  auto done = self->make_response_promise<bool>();
  read(from, mids, done);
  return done;
}

void inbox_state::read(const std::string& from, const std::vector<std::string>& mids,
                       read_promise done) {
  last_active = ctx->now();
  if (acking) {
    deferred_reads.push_back({from, mids, std::move(done)});
    return;
  }
  std::vector<std::string> accepted;
  std::vector<std::string> keys;
  for (const auto& mid : mids) {
    auto key = received_key(log->user(), mid);
    if (reporting.count(key) > 0)
      continue; // already being reported
    auto record = ctx->store->get(storage::table::received, key);
    if (record.found() && received_sender(record.value()) == from &&
        std::find(keys.begin(), keys.end(), key) == keys.end()) {
      accepted.push_back(mid);
      keys.push_back(std::move(key));
    }
  }
  // Nothing (more) to report: not received from `from`, already reported, or being reported
  // by an earlier `read` (whose answer tells its client whether to read again).
  if (accepted.empty()) {
    done.deliver(true);
    return;
  }
  reporting.insert(keys.begin(), keys.end());
  auto r =
      std::make_shared<const read_report>(read_report{from, std::move(accepted), std::move(keys)});
  // Either side switching read receipts off means no read receipt (as in WhatsApp); each
  // side's setting is asked of the profile shard that owns it. A setting that cannot be read
  // fails this `read` (never sent against a setting not checked): the client reads again,
  // reads are idempotent.
  auto refused = [this, r, done](const caf::error&) mutable {
    forget_reporting(r->keys);
    node_metrics::add(ctx->metrics->read_receipts_failed);
    done.deliver(make_error(errc::unavailable));
  };
  auto sender_profile = ctx->profile_of(from);
  if (!sender_profile) // the sender's home node is down
    return refused(make_error(errc::unavailable));
  timed_request(ctx->profile_of(log->user()), receipt_timeout, atom::privacy::value, log->user())
      .then(
          [this, r, refused, sender_profile, done](bool exists, bool receipts,
                                                   const std::string&) mutable {
            if (!exists || !receipts) {
              forget_reporting(r->keys);
              done.deliver(true);
              return;
            }
            timed_request(sender_profile, receipt_timeout, atom::privacy::value, r->from)
                .then(
                    [this, r, done](bool exists, bool receipts, const std::string&) mutable {
                      if (!exists || !receipts) {
                        forget_reporting(r->keys);
                        done.deliver(true);
                        return;
                      }
                      send_read_receipt(std::move(done), r);
                    },
                    refused);
          },
          refused);
}

void inbox_state::forget_reporting(const std::vector<std::string>& keys) {
  for (const auto& key : keys)
    reporting.erase(key);
}

void inbox_state::send_read_receipt(read_promise done, read_report_ptr r) {
  auto home = ctx->directory_of(r->from);
  if (!home) { // the sender's home node is down: the client reads again
    forget_reporting(r->keys);
    node_metrics::add(ctx->metrics->read_receipts_failed);
    done.deliver(make_error(errc::unavailable));
    return;
  }
  timed_request(
      home, receipt_timeout,
      receipt_delivery{r->from, receipt_item("read", log->user(), r->accepted, ctx->now())})
      .then(
          [this, r, done](uint64_t) mutable {
            // Stored in the sender's inbox: the reader's `read` is answered. A second `read`
            // of the same messages sends nothing; if this write fails, a later `read` of them
            // repeats the receipt (clients drop repeats).
            reported(std::move(done), r);
          },
          [this, r, done](const caf::error& err) mutable {
            if (to_errc(err) == errc::not_found) // the sender's account is gone: none is due
              return reported(std::move(done), r);
            // Not stored (the sender's inbox was unavailable, overloaded or the node is
            // stopping): the `received` records stay, and the reader's client reads again.
            forget_reporting(r->keys);
            node_metrics::add(ctx->metrics->read_receipts_failed);
            done.deliver(make_error(errc::unavailable));
          });
}

void inbox_state::reported(read_promise done, read_report_ptr r) {
  done.deliver(true);
  storage::batch b;
  for (const auto& key : r->keys)
    b.del(storage::table::received, key);
  submit(std::move(b), [this, r](bool) { forget_reporting(r->keys); });
}

void inbox_state::push_more() {
  for (auto& s : sessions)
    push_to(s);
}

void inbox_state::push_to(live_session& s) {
  const auto& st = ctx->settings;
  uint64_t acked = acked_of(s.device);
  if (s.pushed_upto < acked)
    s.pushed_upto = acked;
  while (!s.in_flight.empty() && s.in_flight.front().first <= acked) {
    s.in_flight_bytes -= s.in_flight.front().second;
    s.in_flight.pop_front();
  }
  bool passed_over = false;
  while (s.pushed_upto < written_upto && s.in_flight.size() < st.push_window &&
         s.in_flight_bytes < st.push_window_bytes) {
    // Pushing needs only the bytes: items read back from RocksDB are not decoded.
    auto items =
        items_between(s.pushed_upto + 1, written_upto, st.push_window - s.in_flight.size());
    if (items.empty()) {
      s.pushed_upto = written_upto; // only holes of failed writes are left
      break;
    }
    for (auto& item : items) {
      if (item.copy_of >= 0 && (s.device == 0 || item.copy_of == s.device)) {
        // Its own send, or a client that names no device (it knows only the contract's items).
        s.pushed_upto = item.seq;
        passed_over = true;
        continue;
      }
      // The byte bound keeps a burst of large items within the connection's write queue.
      if (!s.in_flight.empty() && s.in_flight_bytes + item.bytes.size() > st.push_window_bytes)
        return;
      s.pushed_upto = item.seq;
      s.in_flight.emplace_back(item.seq, item.bytes.size());
      s.in_flight_bytes += item.bytes.size();
      self->send(s.handle, atom::push::value, item.seq, std::move(item.bytes));
      ctx->metrics->items_pushed.add();
    }
  }
  // Passed-over items at the end are acknowledged for the device: nothing else would.
  if (passed_over && s.in_flight.empty() && s.pushed_upto > acked)
    ack_device(s.device, s.pushed_upto);
}

inbox_facts inbox_state::facts() {
  inbox_facts f;
  f.running = true;
  auto first = log->first_seq();
  f.depth = written_upto >= first ? written_upto - first + 1 : 0;
  f.attached = !sessions.empty();
  for (const auto& s : sessions)
    f.unacked += s.in_flight.size();
  if (f.depth > 0) {
    auto oldest = items_between(first, written_upto, 1);
    if (!oldest.empty())
      f.oldest_ts = item_time(oldest.front().bytes);
  }
  return f;
}

void inbox_state::on_down(const caf::down_msg& dm) {
  auto it = std::find_if(sessions.begin(), sessions.end(),
                         [&dm](const live_session& s) { return s.handle.address() == dm.source; });
  if (it == sessions.end())
    return;
  sessions.erase(it);
  last_active = ctx->now();
  if (sessions.empty())
    schedule_check();
}

void inbox_state::schedule_check() {
  ++checks_armed;
  // Armed only while there is something to check (no session, an ack round to retry, an
  // answer awaited): thousands of idle inboxes with live sessions cost no wake-ups at all.
  const auto& st = ctx->settings;
  auto remaining = st.inbox_idle_stop_ms - (ctx->now() - last_active);
  auto ms = std::max<int64_t>(std::max<int64_t>(st.tick_ms, st.inbox_idle_stop_ms / 12), remaining);
  if (!retry_acks.empty() || acking)
    ms = st.tick_ms;
  else if (!replies.empty())
    ms = std::min<int64_t>(ms, 5 * st.tick_ms); // a lost answer is seen at most 5 s late
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
  --checks_armed;
  replies.expire();
  if (!acking && !retry_acks.empty()) {
    for (const auto& [device, upto] : std::exchange(retry_acks, {})) {
      auto& pending = pending_acks[device];
      pending = std::max(pending, upto);
    }
    next_ack();
  }
  if (sessions.empty() && !acking && writes.empty() && replies.empty() &&
      ctx->now() - last_active >= ctx->settings.inbox_idle_stop_ms)
    self->send(ctx->directory, atom::idle::value, log->user(), routed);
  if (sessions.empty() || !retry_acks.empty() || (!replies.empty() && checks_armed == 0))
    schedule_check(); // the directory may refuse the stop: check again later
}

inbox_service::behavior_type inbox_actor(inbox_service::stateful_pointer<inbox_state> self,
                                         const node_context* ctx, std::string user) {
  self->state.init(self, ctx, std::move(user));
  self->state.load_blocks();
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  self->state.schedule_check();
  return {
      [self](const deliver_request& d) {
        return self->state.deliver(d.from, d.cid, d.content, d.media_hash, d.mid, d.ts);
      },
      [self](const attach_request& a) {
        // Sessions are dynamically typed: the inbox sees one through what it sends it.
        self->state.attach(caf::actor_cast<attached_session>(a.session), a.since, a.token_key);
        return attached_inbox{self};
      },
      [self](atom::ack, uint64_t upto, const caf::actor& from) { self->state.ack(upto, from); },
      [self](const receipt_delivery& r) { return self->state.store_receipt(r.item); },
      [self](atom::holds, const std::string&, uint64_t seq) { return self->state.holds(seq); },
      [self](atom::devices, atom::add_item, const std::string&, const std::string& name,
             const std::string& key) { return self->state.add_device(name, key); },
      [self](atom::devices, atom::list, const std::string&) { return self->state.list_devices(); },
      [self](atom::devices, atom::remove_item, const std::string&, uint32_t id) {
        return self->state.remove_device(id);
      },
      [self](atom::read, const std::string& from, const std::vector<std::string>& mids) {
        return self->state.read(from, mids);
      },
      [self](atom::written, uint64_t id, bool ok) { self->state.on_written(id, ok); },
      [self](atom::blocks, const std::string& other, bool is_blocked) {
        self->state.on_block(other, is_blocked);
      },
      [self](atom::timer) { self->state.tick(); },
      [self](atom::drain) { self->state.drain(); },
      [self](atom::stop) { self->state.stop(); },
      [self](atom::probe) {
        return actor_probe{"inbox", self->state.log->user(), self->mailbox().size(),
                           self->state.handled};
      },
      [self](atom::probe, const std::string&) { return self->state.facts(); },
  };
}

} // namespace tidings
