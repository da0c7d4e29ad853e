#include "actors/session.hpp"

#include <map>
#include <random>

#include "actors/accounts.hpp"
#include "actors/fields.hpp"
#include "actors/messages.hpp"
#include "net/msgpack_map.hpp"

namespace tidings {

using net::json;

namespace {

constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr std::size_t max_thumb_bytes = 16 * 1024;
constexpr std::size_t max_read_mids = 1024;
constexpr std::size_t max_presence_users = 1024;
constexpr auto request_timeout = std::chrono::seconds(30);

bool is_media_kind(const std::string& kind) {
  return kind == "image" || kind == "video" || kind == "audio" || kind == "document";
}

/// Random back-off in [base, 2*base) so refused clients do not retry in lockstep.
int64_t jittered(int64_t base) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return base + static_cast<int64_t>(rng() % static_cast<uint64_t>(base));
}

/// Reads `media` of a send frame into the stored form (thumb as binary), or fails `r`.
json read_media(const json& frame, net::encoding frame_enc, field_reader& r) {
  auto it = frame.find("media");
  if (it == frame.end() || !it->is_object()) {
    r.fail("field 'media' must be an object");
    return {};
  }
  field_reader m{*it};
  json media;
  if (auto hash = m.bytes("hash", 64, 64)) {
    for (char c : *hash)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        m.fail("media.hash must be 64 lowercase hex digits");
    media["hash"] = *hash;
  }
  if (auto mime = m.text("mime", 1, 127))
    media["mime"] = *mime;
  if (auto size = m.uint("size"))
    media["size"] = *size;
  if (auto name = m.text("name", 1, 255, false))
    media["name"] = *name;
  auto thumb = it->find("thumb");
  if (thumb != it->end() && !thumb->is_null()) {
    std::optional<std::string> bytes;
    if (thumb->is_binary())
      bytes = std::string(thumb->get_binary().begin(), thumb->get_binary().end());
    else if (thumb->is_string() && frame_enc == net::encoding::json)
      bytes = net::base64_decode(thumb->get<std::string>());
    if (!bytes)
      m.fail("media.thumb must be binary (base64 in JSON)");
    else if (bytes->size() > max_thumb_bytes)
      m.fail("media.thumb is larger than 16 KiB");
    else
      media["thumb"] = json::binary(std::vector<uint8_t>(bytes->begin(), bytes->end()));
  }
  if (!m.ok())
    r.fail(m.error());
  return media;
}

} // namespace

void session_state::init(caf::event_based_actor* s, const node_context* c,
                         std::shared_ptr<net::ws_peer> p, std::string bearer,
                         net::encoding header_encoding) {
  self = s;
  ctx = c;
  peer = std::move(p);
  opened = last_frame = tokens_at = ctx->now();
  node_metrics::add(ctx->metrics->sessions_opened);
  ctx->metrics->sessions_live++;
  self->attach_functor([m = ctx->metrics] { m->sessions_live--; });
  tokens = ctx->settings.rate_burst;
  if (!bearer.empty()) {
    enc = header_encoding;
    authenticate(bearer, enc, json{});
  }
}

void session_state::on_frame(const std::string& data, bool binary) {
  if (state == phase::closing)
    return;
  auto frame_enc = binary ? net::encoding::msgpack : net::encoding::json;
  auto now = ctx->now();
  node_metrics::add(ctx->metrics->frames_in);
  last_frame = now;
  std::string error;
  auto frame = net::decode(data, frame_enc, &error);
  if (!frame)
    return bad_request(error, frame_enc, json{});
  if (state == phase::live) {
    int64_t retry_ms = 0;
    if (!take_token(now, &retry_ms)) {
      json id = frame->contains("id") ? (*frame)["id"] : json{};
      return send_error(errc::rate_limited, "too many frames", frame_enc, id, retry_ms);
    }
  }
  dispatch(*frame, frame_enc);
}

void session_state::dispatch(json& frame, net::encoding frame_enc) {
  json id;
  if (auto it = frame.find("id"); it != frame.end()) {
    bool valid = it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0) ||
                 (it->is_string() && utf8_length(it->get_ref<const std::string&>()) <= 64);
    if (!valid)
      return bad_request("'id' must be an unsigned integer or a string of at most 64 characters",
                         frame_enc, json{});
    id = *it;
  }
  auto type_it = frame.find("type");
  if (type_it == frame.end() || !type_it->is_string())
    return bad_request("missing field 'type'", frame_enc, id);
  const auto& type = type_it->get_ref<const std::string&>();
  if (state == phase::awaiting_auth) {
    if (type != "auth") {
      send_error(errc::unauthorized, "the first frame must be 'auth'", frame_enc, id);
      return close(close_code::unauthorized, "unauthorized");
    }
    field_reader r{frame};
    auto token = r.bytes("token", 1, 512);
    auto fg = r.boolean("foreground", false);
    if (!r.ok())
      return bad_request(r.error(), frame_enc, id);
    foreground = fg.value_or(true);
    enc = frame_enc;
    return authenticate(*token, frame_enc, id);
  }
  if (type == "ping") {
    touch(); // a foreground heartbeat keeps last seen fresh
    return reply(json{{"type", "pong"}}, frame_enc, id);
  }
  if (type == "send")
    return handle_send(frame, frame_enc, id);
  if (type == "ack")
    return handle_ack(frame, frame_enc, id);
  if (type == "read")
    return handle_read(frame, frame_enc, id);
  if (type == "state")
    return handle_state(frame, frame_enc, id);
  if (type == "profile_get") {
    field_reader r{frame};
    auto target = r.user("user");
    if (!r.ok())
      return bad_request(r.error(), frame_enc, id);
    return ask(
        ctx->profile_of(*target), frame_enc, id,
        [](const std::string& fields) {
          auto out = net::decode(fields, net::encoding::msgpack, nullptr).value_or(json::object());
          out["type"] = "profile";
          return out;
        },
        atom::profile_get::value, user, *target);
  }
  if (type == "profile_set")
    return handle_profile_set(frame, frame_enc, id);
  if (type == "presence_get" || type == "presence_sub" || type == "presence_unsub")
    return handle_presence(type, frame, frame_enc, id);
  if (type == "contacts_add" || type == "contacts_remove" || type == "contacts_list" ||
      type == "block" || type == "unblock" || type == "blocked_list")
    return handle_list(type, frame, frame_enc, id);
  if (type == "auth")
    return bad_request("already authenticated", frame_enc, id);
  bad_request("unknown frame type '" + type + "'", frame_enc, id);
}

void session_state::authenticate(const std::string& token, net::encoding frame_enc,
                                 const json& id) {
  auto unavailable = [this, frame_enc, id](const char* why) {
    // Not the client's fault: it may retry the same token on a new connection.
    send_error(errc::unavailable, why, frame_enc, id, jittered(1000));
    close(close_code::internal, why);
  };
  // The token is kept by the registry of the user's home (the user it names); an old-style
  // token, naming nobody, by this node's.
  auto named = std::string{token_user(token)};
  auto registry = named.empty() ? ctx->registry : ctx->registry_of(named);
  if (!registry)
    return unavailable("the user's home node is down, retry");
  state = phase::authenticating;
  // `await`: frames a client sends right behind its auth wait until the answer is in.
  self->request(registry, std::chrono::milliseconds(ctx->settings.auth_timeout_ms),
                atom::token::value, token)
      .await(
          [this, frame_enc, id](std::string& owner) {
            if (state == phase::closing)
              return;
            if (owner.empty()) {
              send_error(errc::unauthorized, "invalid or revoked token", frame_enc, id);
              return close(close_code::unauthorized, "unauthorized");
            }
            user = std::move(owner);
            state = phase::live;
            reply(json{{"type", "welcome"}, {"user", user}, {"ts", ctx->now()}}, frame_enc, id);
            attach();
          },
          [this, unavailable](const caf::error&) {
            if (state != phase::closing)
              unavailable("storage unavailable, retry");
          });
}

void session_state::attach() {
  // Also after the inbox went away (its home node restarted): the lastseen shard there has
  // to learn of this session again.
  self->send(ctx->lastseen_of(user), atom::online::value, user, caf::actor_cast<caf::actor>(self),
             foreground);
  self->request(ctx->directory_of(user), request_timeout,
                attach_request{user, caf::actor_cast<caf::actor>(self), opened})
      .then([this](const attached_inbox& handle) { adopt_inbox(handle); },
            [this](const caf::error&) {
              if (state != phase::closing) {
                send_error(errc::unavailable, "inbox unavailable", enc, json{}, jittered(1000));
                close(close_code::internal, "inbox unavailable");
              }
            });
}

void session_state::handle_send(const json& frame, net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  auto cid = r.text("cid", 1, 64);
  auto to = r.user("to");
  auto kind = r.text("kind", 1, 16);
  json content;
  if (kind) {
    content["kind"] = *kind;
    if (*kind == "text") {
      if (auto body = r.bytes("body", 1, max_body_bytes))
        content["body"] = *body;
    } else if (is_media_kind(*kind)) {
      content["media"] = read_media(frame, frame_enc, r);
      if (auto caption = r.bytes("body", 0, max_body_bytes, false))
        content["body"] = *caption;
    } else {
      r.fail("unknown kind '" + *kind + "'");
    }
  }
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  auto media_hash = is_media_kind(*kind) ? content["media"]["hash"].get<std::string>() : "";
  deliver_request d{*to, user, *cid, net::encode(content, net::encoding::msgpack), media_hash};
  if (!media_hash.empty()) {
    // Asked of the media service; `await` keeps this session's sends in frame order.
    self->request(ctx->media, request_timeout, atom::may_read::value, media_hash, user)
        .await(
            [this, d = std::move(d), frame_enc, id](bool allowed) mutable {
              if (!allowed)
                return send_error(errc::forbidden, "you may not send this media", frame_enc, id);
              deliver(std::move(d), frame_enc, id);
            },
            [this, frame_enc, id](const caf::error&) {
              send_error(errc::unavailable, "storage unavailable, retry with the same cid",
                         frame_enc, id, jittered(500));
            });
    return;
  }
  deliver(std::move(d), frame_enc, id);
}

void session_state::deliver(deliver_request d, net::encoding frame_enc, const json& id) {
  if (inflight >= ctx->settings.max_inflight_sends)
    return send_error(errc::overloaded, "too many sends in flight", frame_enc, id, jittered(200));
  auto home = ctx->directory_of(d.to);
  if (!home)
    return send_error(errc::unavailable,
                      "the recipient's home node is down, retry with the same cid", frame_enc, id,
                      jittered(1000));
  ++inflight;
  touch();
  auto cid_copy = d.cid;
  self->request(home, request_timeout, std::move(d))
      .then(
          [this, cid_copy, frame_enc, id](const sent_reply& r) {
            --inflight;
            reply(json{{"type", "sent"}, {"cid", cid_copy}, {"mid", r.mid}, {"ts", r.ts}},
                  frame_enc, id);
          },
          [this, frame_enc, id](const caf::error& err) {
            --inflight;
            auto code = to_errc(err);
            if (code == errc::not_found)
              return send_error(code, "unknown recipient", frame_enc, id);
            send_error(code, "message not stored, retry with the same cid", frame_enc, id,
                       jittered(500));
          });
}

void session_state::handle_ack(const json& frame, net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  auto upto = r.uint("upto");
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  if (inbox)
    self->send(inbox, atom::ack::value, *upto, caf::actor_cast<caf::actor>(self));
  ok(frame_enc, id);
}

namespace {

/// Turns `f` (concrete parameters, returns the reply frame) into a response handler.
template <class F, class Sig = decltype(&F::operator())> struct reply_adapter;

template <class F, class C, class R, class... Args>
struct reply_adapter<F, R (C::*)(Args...) const> {
  template <class Send> static auto make(F f, Send send) {
    return [f, send](Args... args) { send(f(args...)); };
  }
};

} // namespace

template <class Handle, class... Ts, class F>
void session_state::ask(const Handle& dest, net::encoding frame_enc, const json& id, F on_value,
                        Ts&&... xs) {
  if (!dest)
    return send_error(errc::unavailable, "that user's home node is down, retry", frame_enc, id,
                      jittered(1000));
  auto send = [this, frame_enc, id](json frame) { reply(std::move(frame), frame_enc, id); };
  self->request(dest, request_timeout, std::forward<Ts>(xs)...)
      .then(reply_adapter<F>::make(std::move(on_value), send),
            [this, frame_enc, id](const caf::error& err) {
              auto code = to_errc(err);
              send_error(code, std::string{to_string(code)}, frame_enc, id,
                         code == errc::unavailable ? jittered(500) : -1);
            });
}

void session_state::touch() {
  if (state != phase::live || !foreground)
    return;
  // At most one report a second: while the session is in the foreground the user shows as
  // online, and going to the background or ending sets last seen exactly; the touches only
  // keep the persisted value fresh. A chatty client costs the lastseen shard nothing more.
  auto now = ctx->now();
  if (touched_at != 0 && now - touched_at < touch_interval_ms)
    return;
  touched_at = now;
  self->send(ctx->lastseen_of(user), atom::touch::value, user, caf::actor_cast<caf::actor>(self));
}

void session_state::ok(net::encoding frame_enc, const json& id) {
  if (!id.is_null())
    reply(json{{"type", "ok"}}, frame_enc, id);
}

void session_state::handle_state(const json& frame, net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  auto fg = r.boolean("foreground");
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  foreground = *fg;
  self->send(ctx->lastseen_of(user), atom::online::value, user, caf::actor_cast<caf::actor>(self),
             foreground);
  ok(frame_enc, id);
}

namespace {

/// Trimmed profile text: no control characters, at most `max` code points.
std::optional<std::string> profile_text(field_reader& r, const char* key, std::size_t max) {
  auto raw = r.bytes(key, 0, max * 4, false);
  if (!raw)
    return std::nullopt;
  auto begin = raw->find_first_not_of(" \t\r\n");
  auto end = raw->find_last_not_of(" \t\r\n");
  std::string text = begin == std::string::npos ? "" : raw->substr(begin, end - begin + 1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      r.fail(std::string{"field '"} + key + "' must not contain control characters");
      return std::nullopt;
    }
  }
  if (utf8_length(text) > max) {
    r.fail(std::string{"field '"} + key + "' must have at most " + std::to_string(max) +
           " characters");
    return std::nullopt;
  }
  return text;
}

} // namespace

void session_state::handle_profile_set(const json& frame, net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  json changes = json::object();
  if (auto name = profile_text(r, "name", 64))
    changes["name"] = *name;
  if (auto about = profile_text(r, "about", 256))
    changes["about"] = *about;
  if (auto it = frame.find("avatar"); it != frame.end()) {
    if (it->is_null())
      changes["avatar"] = nullptr;
    else if (auto hash = r.bytes("avatar", 64, 64))
      changes["avatar"] = *hash;
  }
  if (auto it = frame.find("privacy"); it != frame.end()) {
    if (!it->is_object()) {
      r.fail("field 'privacy' must be an object");
    } else {
      field_reader p{*it};
      json privacy = json::object();
      if (auto ls = p.text("last_seen", 1, 16, false)) {
        if (*ls != "everyone" && *ls != "contacts" && *ls != "nobody")
          p.fail("privacy.last_seen must be everyone, contacts or nobody");
        privacy["last_seen"] = *ls;
      }
      if (auto rr = p.boolean("read_receipts", false))
        privacy["read_receipts"] = *rr;
      if (!p.ok())
        r.fail(p.error());
      changes["privacy"] = privacy;
    }
  }
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  touch();
  ask(
      ctx->profile_of(user), frame_enc, id,
      [](const std::string& fields) {
        auto out = net::decode(fields, net::encoding::msgpack, nullptr).value_or(json::object());
        out["type"] = "profile";
        return out;
      },
      atom::profile_set::value, user, net::encode(changes, net::encoding::msgpack));
}

void session_state::handle_presence(const std::string& type, const json& frame,
                                    net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  if (type == "presence_get") {
    auto target = r.user("user");
    if (!r.ok())
      return bad_request(r.error(), frame_enc, id);
    return ask(
        ctx->lastseen_of(*target), frame_enc, id,
        [target = *target](bool online, int64_t last_seen) {
          return json{{"type", "presence"},
                      {"user", target},
                      {"online", online},
                      {"last_seen", last_seen < 0 ? json(nullptr) : json(last_seen)}};
        },
        atom::presence::value, user, *target);
  }
  auto it = frame.find("users");
  if (it == frame.end() || !it->is_array() || it->size() > max_presence_users)
    return bad_request("field 'users' must be an array of at most " +
                           std::to_string(max_presence_users) + " users",
                       frame_enc, id);
  std::vector<std::string> targets;
  for (const auto& u : *it) {
    if (!u.is_string() || !valid_user(u.get_ref<const std::string&>()))
      return bad_request("every entry of 'users' must be a user name", frame_enc, id);
    targets.push_back(u.get<std::string>());
  }
  // Users whose home is down are skipped: their presence is unknown until they are back.
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& [dest, users] : ctx->lastseen_groups(std::move(targets))) {
    if (type == "presence_sub")
      self->send(dest, atom::subscribe::value, user, me, std::move(users));
    else
      self->send(dest, atom::unsubscribe::value, me, std::move(users));
  }
  ok(frame_enc, id);
}

void session_state::handle_list(const std::string& type, const json& frame, net::encoding frame_enc,
                                const json& id) {
  auto shard = ctx->profile_of(user);
  bool contacts = type.rfind("contacts", 0) == 0;
  auto table_atom = [&](auto f) {
    return contacts ? f(atom::contacts::value) : f(atom::blocks::value);
  };
  if (type == "contacts_list" || type == "blocked_list") {
    return table_atom([&](auto t) {
      ask(
          shard, frame_enc, id,
          [contacts](const std::vector<std::string>& users) {
            return json{{"type", contacts ? "contacts" : "blocked"}, {"users", users}};
          },
          t, atom::list::value, user);
    });
  }
  field_reader r{frame};
  auto other = r.user("user");
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  if (*other == user)
    return bad_request("you cannot add or block yourself", frame_enc, id);
  bool add = type == "contacts_add" || type == "block";
  auto done = [](bool) { return json{{"type", "ok"}}; };
  table_atom([&](auto t) {
    if (add)
      ask(shard, frame_enc, id, done, t, atom::add_item::value, user, *other);
    else
      ask(shard, frame_enc, id, done, t, atom::remove_item::value, user, *other);
  });
}

void session_state::on_presence(const std::string& target, bool online, int64_t last_seen) {
  if (state != phase::live)
    return;
  json frame{{"type", "presence"},
             {"user", target},
             {"online", online},
             {"last_seen", last_seen < 0 ? json(nullptr) : json(last_seen)}};
  peer->send(net::encode(frame, enc), enc == net::encoding::msgpack);
}

void session_state::handle_read(const json& frame, net::encoding frame_enc, const json& id) {
  field_reader r{frame};
  auto from = r.user("from");
  std::vector<std::string> mids;
  auto it = frame.find("mids");
  if (it == frame.end() || !it->is_array() || it->empty() || it->size() > max_read_mids)
    r.fail("field 'mids' must be an array of 1 to " + std::to_string(max_read_mids) + " mids");
  else
    for (const auto& mid : *it) {
      if (!mid.is_string() || mid.get_ref<const std::string&>().empty() ||
          mid.get_ref<const std::string&>().size() > 64) {
        r.fail("every mid must be a string of 1 to 64 bytes");
        break;
      }
      mids.push_back(mid.get<std::string>());
    }
  if (!r.ok())
    return bad_request(r.error(), frame_enc, id);
  touch();
  if (inbox)
    self->send(inbox, atom::read::value, *from, std::move(mids));
  ok(frame_enc, id);
}

void session_state::on_push(uint64_t seq, const std::string& item) {
  if (state != phase::live)
    return;
  // Pushes sent inside the inbox's attach handler arrive before the attach response: the
  // pushing inbox is ours from its first push on, and must be monitored from then on too.
  adopt_inbox(caf::actor_cast<attached_inbox>(self->current_sender()));
  if (seq <= forwarded_upto)
    return; // already on this connection (the inbox restarted and pushed again)
  if (enc == net::encoding::msgpack) {
    // The stored item is a msgpack map already: add `seq` without decoding it.
    if (auto frame = net::msgpack_map_builder{item}.add("seq", seq).finish()) {
      forwarded_upto = seq;
      peer->send(std::move(*frame), true);
    }
    return;
  }
  auto value = net::decode(item, net::encoding::msgpack, nullptr);
  if (!value)
    return;
  forwarded_upto = seq;
  (*value)["seq"] = seq;
  peer->send(net::encode(*value, enc), false);
}

void session_state::adopt_inbox(attached_inbox handle) {
  if (!handle || inbox == handle)
    return;
  if (inbox)
    self->demonitor(inbox.address());
  inbox = std::move(handle);
  self->monitor(inbox);
}

void session_state::on_replaced() {
  close(close_code::replaced, "replaced");
}

void session_state::on_inbox_down() {
  inbox = nullptr;
  if (state == phase::live)
    attach();
}

void session_state::tick() {
  if (state == phase::closing)
    return;
  auto now = ctx->now();
  if (state <= phase::authenticating && now - opened >= ctx->settings.auth_timeout_ms) {
    send_error(errc::unauthorized, "no auth frame in time", enc, json{});
    return close(close_code::unauthorized, "auth timeout");
  }
  if (now - last_frame >= ctx->settings.idle_timeout_ms)
    return close(1000, "idle timeout");
  schedule_tick();
}

void session_state::schedule_tick() {
  // A timeout only needs checking a few times per period: thousands of idle sessions
  // must not cost thousands of wake-ups a second.
  const auto& st = ctx->settings;
  auto period = state == phase::awaiting_auth ? st.auth_timeout_ms : st.idle_timeout_ms;
  auto ms = std::max<int64_t>(st.tick_ms, period / 4);
  self->delayed_send(self, std::chrono::milliseconds(ms), atom::timer::value);
}

bool session_state::take_token(int64_t now, int64_t* retry_ms) {
  const auto& s = ctx->settings;
  tokens = std::min(s.rate_burst,
                    tokens + static_cast<double>(now - tokens_at) * s.rate_per_sec / 1000.0);
  tokens_at = now;
  if (tokens >= 1.0) {
    tokens -= 1.0;
    return true;
  }
  *retry_ms = static_cast<int64_t>((1.0 - tokens) * 1000.0 / s.rate_per_sec) + 1;
  return false;
}

void session_state::reply(json frame, net::encoding frame_enc, const json& id) {
  if (!id.is_null())
    frame["id"] = id;
  peer->send(net::encode(frame, frame_enc), frame_enc == net::encoding::msgpack);
}

void session_state::send_error(errc code, std::string message, net::encoding frame_enc,
                               const json& id, int64_t retry_ms) {
  ctx->metrics->error(code);
  json frame{{"type", "error"}, {"code", to_string(code)}, {"message", std::move(message)}};
  if (retry_ms >= 0)
    frame["retry_ms"] = retry_ms;
  reply(std::move(frame), frame_enc, id);
}

void session_state::bad_request(std::string message, net::encoding frame_enc, const json& id) {
  send_error(errc::bad_request, std::move(message), frame_enc, id);
  if (++bad_frames > ctx->settings.max_bad_frames)
    close(close_code::policy, "too many bad frames");
}

void session_state::close(uint16_t code, std::string reason) {
  if (state == phase::closing)
    return;
  state = phase::closing;
  peer->close(code, std::move(reason));
  // The actor quits when the shim reports the connection gone (atom::wsclosed).
}

caf::behavior session_actor(caf::stateful_actor<session_state>* self, const node_context* ctx,
                            std::shared_ptr<net::ws_peer> peer, std::string bearer,
                            net::encoding header_encoding) {
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (self->state.inbox && dm.source == self->state.inbox.address())
      self->state.on_inbox_down();
  });
  self->state.init(self, ctx, std::move(peer), std::move(bearer), header_encoding);
  self->state.schedule_tick();
  return {
      [self](atom::frame, const std::string& data, bool binary) {
        self->state.on_frame(data, binary);
        self->state.peer->frame_done(); // the shim may read the next frame
      },
      [self](atom::push, uint64_t seq, const std::string& item) { self->state.on_push(seq, item); },
      [self](atom::replaced) { self->state.on_replaced(); },
      [self](atom::presence, const std::string& user, bool online, int64_t last_seen) {
        self->state.on_presence(user, online, last_seen);
      },
      [self](atom::timer) { self->state.tick(); },
      [self](atom::wsclosed) { self->quit(); },
  };
}

} // namespace tidings
