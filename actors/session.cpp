#include "actors/session.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "net/msgpack_map.hpp"

namespace tidings {

namespace {

constexpr auto request_timeout = std::chrono::seconds(30);

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
  ctx->logs().info("connection opened", {{"conn", self->id()}});
  tokens = ctx->settings.rate_burst;
  if (!bearer.empty()) {
    enc = header_encoding;
    authenticate(bearer, unprompted());
  }
}

void session_state::on_frame(const std::string& data, bool binary) {
  if (state == phase::closing)
    return;
  auto now = ctx->now();
  node_metrics::add(ctx->metrics->frames_in);
  last_frame = now;
  // `user` is empty until `welcome`: the parser then takes nothing but `auth`.
  auto frame = net::parse_client_frame(data, binary, user);
  if (const auto* bad = std::get_if<net::bad_request>(&frame); bad && !bad->decoded)
    return bad_request(bad->message, *bad); // not counted against the rate limit
  if (state == phase::live) {
    int64_t retry_ms = 0;
    if (!take_token(now, &retry_ms))
      return send_error(errc::rate_limited, "too many frames", net::reply_of(frame), retry_ms);
  }
  std::visit([this](auto& request) { handle(std::move(request)); }, frame);
}

void session_state::handle(net::bad_request r) {
  bad_request(r.message, r);
}

void session_state::handle(net::auth_missing r) {
  send_error(errc::unauthorized, "the first frame must be 'auth'", r);
  close(close_code::unauthorized, "unauthorized");
}

void session_state::handle(net::auth_request r) {
  foreground = r.foreground;
  enc = r.enc;
  authenticate(r.token, r);
}

void session_state::handle(net::ping_request r) {
  touch(); // a foreground heartbeat keeps last seen fresh
  send_frame(net::pong_frame(r), r.enc);
}

void session_state::authenticate(const std::string& token, const net::reply_to& to) {
  auto unavailable = [this, to](const char* why) {
    // Not the client's fault: it may retry the same token on a new connection.
    send_error(errc::unavailable, why, to, jittered(1000));
    close(close_code::internal, why);
  };
  // The token is kept by the registry of the user's home (the user it names); an old-style
  // token, naming nobody, by this node's.
  auto registry = ctx->registry_of_token(token);
  if (!registry)
    return unavailable("the user's home node is down, retry");
  state = phase::authenticating;
  token_in_use = token;
  // `await`: frames a client sends right behind its auth wait until the answer is in. The
  // registry watches the token for this session: revoking it ends the session (on_revoked).
  self->request(registry, std::chrono::milliseconds(ctx->settings.auth_timeout_ms),
                atom::token::value, token, caf::actor_cast<caf::actor>(self))
      .await(
          [this, to, token](std::string& owner) {
            if (state == phase::closing)
              return;
            if (owner.empty()) {
              send_error(errc::unauthorized, "invalid or revoked token", to);
              return close(close_code::unauthorized, "unauthorized");
            }
            user = std::move(owner);
            token_key = token_key_hex(token);
            state = phase::live;
            ctx->metrics->sessions_authenticated++;
            self->attach_functor([m = ctx->metrics] { m->sessions_authenticated--; });
            ctx->logs().info("session authenticated", {{"conn", self->id()}, {"user", user}});
            peer->admitted(); // frees its place among the sessions logging in (net/)
            send_frame(net::welcome_frame(to, user, ctx->now()), to.enc);
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
  auto unavailable = [this] {
    if (state != phase::closing) {
      send_error(errc::unavailable, "inbox unavailable", unprompted(), jittered(1000));
      close(close_code::internal, "inbox unavailable");
    }
  };
  auto home = ctx->directory_of(user);
  if (!home)
    return unavailable(); // the home node is down: the client comes back later
  self->send(ctx->lastseen_of(user), atom::online::value, user, caf::actor_cast<caf::actor>(self),
             foreground);
  self->request(home, request_timeout,
                attach_request{user, caf::actor_cast<caf::actor>(self), opened, token_key})
      .then([this](const attached_inbox& handle) { adopt_inbox(handle); },
            [unavailable](const caf::error&) { unavailable(); });
}

void session_state::handle(net::send_request r) {
  net::reply_to to = r;
  auto media_hash = r.media ? r.media->hash : std::string{};
  deliver_request d{r.to, user, r.cid, net::stored_content(r), media_hash};
  if (!media_hash.empty()) {
    // Asked of the media service; `await` keeps this session's sends in frame order.
    self->request(ctx->media_of(media_hash), request_timeout, atom::may_read::value, media_hash,
                  user)
        .await(
            [this, d = std::move(d), to](bool allowed) mutable {
              if (!allowed)
                return send_error(errc::forbidden, "you may not send this media", to);
              deliver(std::move(d), to);
            },
            [this, to](const caf::error&) {
              send_error(errc::unavailable, "storage unavailable, retry with the same cid", to,
                         jittered(500));
            });
    return;
  }
  deliver(std::move(d), to);
}

void session_state::deliver(deliver_request d, const net::reply_to& to) {
  if (inflight + held_sends.size() >= ctx->settings.max_inflight_sends)
    return send_error(errc::overloaded, "too many sends in flight", to, jittered(200));
  if (!devices_known) {
    held_sends.emplace_back(std::move(d), to); // until the inbox says whether to copy
    return;
  }
  bool via_handoff = false;
  auto route = ctx->delivery_route(d.to, inflight_via_handoff > 0, &via_handoff);
  if (!route)
    return send_error(errc::unavailable,
                      "the recipient's home node is down, retry with the same cid", to,
                      jittered(1000));
  ++inflight;
  inflight_via_handoff += via_handoff;
  touch();
  auto cid_copy = d.cid;
  auto answered = [this, via_handoff, start = std::chrono::steady_clock::now()] {
    --inflight;
    inflight_via_handoff -= via_handoff;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    ctx->metrics->send_latency.observe(static_cast<uint64_t>(us));
  };
  auto failed = [this, answered, to](const caf::error& err) {
    answered();
    auto code = to_errc(err);
    if (code == errc::not_found)
      return send_error(code, "unknown recipient", to);
    send_error(code, "message not stored, retry with the same cid", to, jittered(500));
  };
  // The user's other named devices get a `sent_copy` of the message, stored before `sent`
  // (a retry of the cid stores it again: the same mid, which clients drop as a repeat).
  std::string copy_content = copies && d.to != user ? d.content : std::string{};
  auto recipient = d.to;
  replies.request(self, route, request_timeout, std::move(d))
      .then(
          [this, answered, failed, cid_copy, to, copy_content, recipient](const sent_reply& r) {
            if (copy_content.empty()) {
              answered();
              return send_frame(net::sent_frame(to, cid_copy, r.mid, r.ts), to.enc);
            }
            auto item = net::msgpack_map_builder{copy_content}
                            .add("type", "sent_copy")
                            .add("device", uint64_t{device})
                            .add("mid", r.mid)
                            .add("to", recipient)
                            .add("ts", r.ts)
                            .finish();
            auto home = ctx->directory_of(user);
            if (!item || !home)
              return failed(make_error(errc::unavailable));
            replies.request(self, home, request_timeout, receipt_delivery{user, std::move(*item)})
                .then(
                    [this, answered, cid_copy, to, r](uint64_t) {
                      answered();
                      send_frame(net::sent_frame(to, cid_copy, r.mid, r.ts), to.enc);
                    },
                    [failed](const caf::error&) { failed(make_error(errc::unavailable)); });
          },
          failed);
}

void session_state::handle(net::ack_request r) {
  if (inbox)
    self->send(inbox, atom::ack::value, r.upto, caf::actor_cast<caf::actor>(self));
  ok(r);
}

namespace {

/// Turns `f` (the reply's `to`, then the response's values; returns the reply frame) into a
/// response handler.
template <class F, class Sig = decltype(&F::operator())> struct reply_adapter;

template <class F, class C, class R, class To, class... Args>
struct reply_adapter<F, R (C::*)(To, Args...) const> {
  template <class Send> static auto make(F f, net::reply_to to, Send send) {
    return [f, to, send](Args... args) { send(f(to, args...), to.enc); };
  }
};

} // namespace

template <class Handle, class... Ts, class F>
void session_state::ask(const Handle& dest, const net::reply_to& to, F on_value, Ts&&... xs) {
  if (!dest)
    return send_error(errc::unavailable, "that user's home node is down, retry", to,
                      jittered(1000));
  auto send = [this](std::string frame, net::encoding frame_enc) {
    send_frame(std::move(frame), frame_enc);
  };
  replies.request(self, dest, request_timeout, std::forward<Ts>(xs)...)
      .then(reply_adapter<F>::make(std::move(on_value), to, send),
            [this, to](const caf::error& err) { send_failure(err, to); });
}

void session_state::send_failure(const caf::error& err, const net::reply_to& to) {
  auto code = to_errc(err);
  send_error(code, to_string(code), to, code == errc::unavailable ? jittered(500) : -1);
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

void session_state::ok(const net::reply_to& to) {
  if (!std::holds_alternative<std::monostate>(to.id))
    send_frame(net::ok_frame(to), to.enc);
}

void session_state::handle(net::state_request r) {
  foreground = r.foreground;
  self->send(ctx->lastseen_of(user), atom::online::value, user, caf::actor_cast<caf::actor>(self),
             foreground);
  ok(r);
}

namespace {

/// The profile service answers with the profile's fields (a msgpack map).
constexpr auto profile_reply = [](const net::reply_to& to, const std::string& fields) {
  return net::profile_frame(to, fields);
};

} // namespace

void session_state::handle(net::profile_get_request r) {
  ask(ctx->profile_of(r.user), r, profile_reply, atom::profile_get::value, user, r.user);
}

void session_state::handle(net::profile_set_request r) {
  touch();
  ask(ctx->profile_of(user), r, profile_reply, atom::profile_set::value, user,
      net::profile_changes(r));
}

void session_state::handle(net::presence_get_request r) {
  ask(
      ctx->lastseen_of(r.user), r,
      [target = r.user](const net::reply_to& to, bool online, int64_t last_seen) {
        return net::presence_frame(to, target, online, last_seen);
      },
      atom::presence::value, user, r.user);
}

void session_state::handle(net::presence_sub_request r) {
  // Users whose home is down are skipped: their presence is unknown until they are back.
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& [dest, users] : ctx->lastseen_groups(std::move(r.users))) {
    if (r.subscribe)
      self->send(dest, atom::subscribe::value, user, me, std::move(users));
    else
      self->send(dest, atom::unsubscribe::value, me, std::move(users));
  }
  ok(r);
}

namespace {

/// Calls `f` with the atom that names `list` to the profile service.
template <class F> void with_list_atom(net::user_list list, F f) {
  if (list == net::user_list::contacts)
    f(atom::contacts::value);
  else
    f(atom::blocks::value);
}

} // namespace

void session_state::handle(net::list_get_request r) {
  with_list_atom(r.list, [&](auto table) {
    ask(
        ctx->profile_of(user), r,
        [list = r.list](const net::reply_to& to, const std::vector<std::string>& users) {
          return net::user_list_frame(to, list, users);
        },
        table, atom::list::value, user);
  });
}

void session_state::handle(net::list_change_request r) {
  auto done = [](const net::reply_to& to, bool) { return net::ok_frame(to); };
  with_list_atom(r.list, [&](auto table) {
    if (r.add)
      ask(ctx->profile_of(user), r, done, table, atom::add_item::value, user, r.user);
    else
      ask(ctx->profile_of(user), r, done, table, atom::remove_item::value, user, r.user);
  });
}

void session_state::on_presence(const std::string& target, bool online, int64_t last_seen) {
  if (state != phase::live)
    return;
  send_frame(net::presence_frame(unprompted(), target, online, last_seen), enc);
}

void session_state::handle(net::read_request r) {
  touch();
  // `ok` once the read receipt is stored in the sender's inbox (or none is due): a receipt
  // lost on the way (a stop, a node down) is an error the client retries, never a silent gap.
  if (!inbox) // still attaching (or re-attaching after the inbox stopped)
    return send_error(errc::unavailable, "the inbox is not attached yet, retry", r, jittered(200));
  net::reply_to to = r;
  replies
      .request(self, inbox, request_timeout, atom::read::value, std::move(r.from),
               std::move(r.mids))
      .then([this, to](bool) { ok(to); },
            [this, to](const caf::error& err) { send_failure(err, to); });
}

void session_state::on_push(uint64_t seq, const std::string& item) {
  if (state != phase::live)
    return;
  // Pushes sent inside the inbox's attach handler arrive before the attach response: the
  // pushing inbox is ours from its first push on, and must be monitored from then on too.
  adopt_inbox(caf::actor_cast<attached_inbox>(self->current_sender()));
  if (seq <= forwarded_upto)
    return; // already on this connection (the inbox restarted and pushed again)
  // For a msgpack client `seq` is spliced into the stored map without decoding it.
  if (auto frame = net::push_frame(enc, item, seq)) {
    forwarded_upto = seq;
    send_frame(std::move(*frame), enc);
  }
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

void session_state::on_devices(uint32_t id, bool copy_sends) {
  device = id;
  copies = copy_sends;
  devices_known = true;
  for (auto& [d, to] : std::exchange(held_sends, {}))
    deliver(std::move(d), to);
}

void session_state::on_device_limit() {
  if (state != phase::live)
    return;
  send_error(errc::forbidden,
             "too many devices online: at most " + std::to_string(ctx->settings.max_devices),
             unprompted());
  close(close_code::too_many_devices, "too many devices");
}

void session_state::on_device_removed() {
  if (state != phase::live)
    return;
  send_error(errc::unauthorized, "this device was removed", unprompted());
  close(close_code::unauthorized, "device removed");
}

void session_state::on_inbox_down() {
  inbox = nullptr;
  if (state != phase::live)
    return;
  // The user's home may have restarted, its registry with it: it must watch the token again
  // (and may find it revoked meanwhile).
  auto registry = ctx->registry_of_token(token_in_use);
  if (registry)
    self->request(registry, request_timeout, atom::token::value, token_in_use,
                  caf::actor_cast<caf::actor>(self))
        .then(
            [this](const std::string& owner) {
              if (owner.empty())
                on_revoked();
            },
            [](const caf::error&) {
              // The attach below fails the same way and closes the session.
            });
  attach();
}

void session_state::on_revoked(const std::string& why) {
  if (state == phase::closing)
    return;
  send_error(errc::unauthorized, why, unprompted());
  close(close_code::unauthorized, why);
}

void session_state::tick() {
  if (state == phase::closing)
    return;
  auto now = ctx->now();
  if (state <= phase::authenticating && now - opened >= ctx->settings.auth_timeout_ms) {
    send_error(errc::unauthorized, "no auth frame in time", unprompted());
    return close(close_code::unauthorized, "auth timeout");
  }
  if (now - last_frame >= ctx->settings.idle_timeout_ms)
    return close(1000, "idle timeout");
  replies.expire(); // (a quarter of the idle timeout late at most: a safety net, see deadlines)
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

void session_state::send_frame(std::string frame, net::encoding frame_enc) {
  peer->send(std::move(frame), frame_enc == net::encoding::msgpack);
}

void session_state::send_error(errc code, std::string_view message, const net::reply_to& to,
                               int64_t retry_ms) {
  ctx->metrics->error(code);
  auto& log = ctx->logs();
  if (log.enabled(log_level::info))
    log.write(log_level::info, "refused",
              {{"conn", self->id()}, {"user", user}, {"code", to_string(code)}, {"why", message}});
  send_frame(net::error_frame(to, to_string(code), message, retry_ms), to.enc);
}

void session_state::bad_request(std::string_view message, const net::reply_to& to) {
  send_error(errc::bad_request, message, to);
  if (++bad_frames > ctx->settings.max_bad_frames)
    close(close_code::policy, "too many bad frames");
}

void session_state::close(uint16_t code, std::string reason) {
  if (state == phase::closing)
    return;
  state = phase::closing;
  close_reason = reason;
  peer->close(code, std::move(reason));
  // The actor quits when the shim reports the connection gone (atom::wsclosed).
}

void session_state::on_closed(uint16_t code) {
  ctx->metrics->closed(code);
  auto& log = ctx->logs();
  auto level = code == 1011 || code == 4004 ? log_level::warn : log_level::info;
  if (log.enabled(level))
    log.write(level, "connection closed",
              {{"conn", self->id()},
               {"user", user},
               {"code", code},
               {"reason", close_reason.empty() ? std::string_view{"by the client"}
                                               : std::string_view{close_reason}},
               {"ms", ctx->now() - opened}});
  self->quit();
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
      [self](atom::revoked, const std::string& why) { self->state.on_revoked(why); },
      [self](atom::devices, uint32_t id, bool copies) { self->state.on_devices(id, copies); },
      [self](atom::devlimit) { self->state.on_device_limit(); },
      [self](atom::devgone) { self->state.on_device_removed(); },
      [self](atom::presence, const std::string& user, bool online, int64_t last_seen) {
        self->state.on_presence(user, online, last_seen);
      },
      [self](atom::timer) { self->state.tick(); },
      [self](atom::wsclosed, uint16_t code) { self->state.on_closed(code); },
  };
}

} // namespace tidings
