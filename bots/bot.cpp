#include "bots/bot.hpp"

#include <algorithm>

#include "bots/accounting.hpp"
#include "bots/frames.hpp"
#include "bots/messages.hpp"

namespace tidings::bots {

using net::json;

namespace {

/// Received items after which an ack goes out at once (the push window is 256 by default).
constexpr uint32_t ack_every_items = 64;
constexpr double default_retry_ms = 500;

const std::string& text_of(const json& frame, const char* key) {
  static const std::string empty;
  auto it = frame.find(key);
  return it != frame.end() && it->is_string() ? it->get_ref<const std::string&>() : empty;
}

// The frames of the message path are read without a json DOM (net/frame_doc.hpp).
std::string_view text_of(net::value_ref frame, const char* key) {
  auto v = frame.find(key);
  return v && v->is_string() ? v->str() : std::string_view{};
}

uint64_t uint_of(net::value_ref frame, const char* key) {
  auto v = frame.find(key);
  return v && v->is_unsigned() ? v->unsigned_value() : 0;
}

} // namespace

// -- session -------------------------------------------------------------------

void bot_state::reset_session() {
  session_highest = 0;
  session_acked = 0;
  unacked = 0;
}

void bot_state::start_login() {
  write(frames::auth, ctx->users[index].token, !background);
}

void bot_state::read_frame(const std::string& data, bool binary, int64_t t) {
  auto enc = binary ? net::encoding::msgpack : net::encoding::json;
  net::frame_doc doc;
  if (!doc.parse(data, enc, nullptr)) {
    count("undecodable_frames");
    return;
  }
  auto frame = doc.root();
  auto type = text_of(frame, "type");
  if (type == "msg")
    return on_msg(frame, t);
  if (type == "receipt")
    return on_receipt(frame, t);
  if (type == "sent")
    return on_sent(frame, t);
  if (type == "error") {
    if (auto dom = net::decode(data, enc, nullptr)) // rare: read as a json DOM
      on_error(*dom);
    return;
  }
  if (type == "welcome")
    return on_welcome(t);
  if (type == "pong")
    return;
  count(("other_" + std::string{type.substr(0, 32)}).c_str()); // frame types the bots do not use
}

void bot_state::on_welcome(int64_t t) {
  if (state == link::login)
    went_live(t);
}

void bot_state::session_live() {
  // Sends that got no answer on the previous connection go out again, same cid.
  uint64_t resent = 0;
  for (auto& [number, p] : pending) {
    p.in_flight = true;
    transmit(p.frame, binary());
    ++resent;
  }
  if (resent > 0)
    count("resends", resent);
}

void bot_state::session_closed(uint16_t code) {
  background = false;
  for (auto& [number, p] : pending)
    p.in_flight = false;
  if (code == 4001)
    failed = true; // the token is not valid on this node
}

// -- frames --------------------------------------------------------------------

void bot_state::on_msg(net::value_ref frame, int64_t t) {
  auto seq = uint_of(frame, "seq");
  std::string mid{text_of(frame, "mid")};
  std::string from{text_of(frame, "from")};
  auto body = text_of(frame, "body");
  bool after_ack = seq != 0 && seq <= acked_upto;
  note_item(seq);
  // A message of this run has a body "RUNID.NUMBER ...".
  auto sender = ctx->bot_of(from);
  const auto& run = ctx->run_id;
  uint64_t number = 0;
  bool ours = sender >= 0 && body.size() > run.size() + 1 &&
              body.compare(0, run.size(), run) == 0 && body[run.size()] == '.';
  if (ours) {
    std::size_t i = run.size() + 1;
    std::size_t digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9' && digits < 10) {
      number = number * 10 + static_cast<uint64_t>(body[i] - '0');
      ++i;
      ++digits;
    }
    ours = digits > 0 && number <= UINT32_MAX;
  }
  if (!ours) {
    self->send(ctx->collector, atom::ev_stale::value);
    return;
  }
  auto key = make_key(static_cast<uint32_t>(sender), static_cast<uint32_t>(number));
  self->send(ctx->collector, atom::ev_recv::value,
             received_event{key, index, mid, t, gen, after_ack});
  if (!draining && does->read_share > 0 &&
      std::uniform_real_distribution<double>{0, 1}(rng) < does->read_share)
    after_ms(does->read_delay_ms.sample(rng), atom::readdue::value, gen, from, mid);
}

void bot_state::on_receipt(net::value_ref frame, int64_t t) {
  note_item(uint_of(frame, "seq"));
  receipt_event ev;
  ev.at = index;
  ev.by = ctx->bot_of(std::string{text_of(frame, "by")});
  ev.read = text_of(frame, "status") == "read";
  ev.t = t;
  if (auto mids = frame.find("mids"); mids && mids->is_array() && mids->size() > 0) {
    auto m = mids->first();
    for (uint32_t i = 0; i < mids->size(); ++i, m = m.next())
      if (m.is_string())
        ev.mids.emplace_back(m.str());
  }
  self->send(ctx->collector, atom::ev_rcpt::value, std::move(ev));
}

void bot_state::on_sent(net::value_ref frame, int64_t t) {
  auto number = static_cast<uint32_t>(uint_of(frame, "id"));
  auto it = pending.find(number);
  if (it != pending.end())
    pending.erase(it);
  self->send(ctx->collector, atom::ev_sent::value, make_key(index, number),
             std::string{text_of(frame, "mid")}, t);
}

void bot_state::on_error(const json& frame) {
  const auto& code = text_of(frame, "code");
  self->send(ctx->collector, atom::ev_error::value, code);
  bool retryable = code == "rate_limited" || code == "overloaded" || code == "unavailable";
  auto retry = frame.find("retry_ms");
  double retry_ms =
      retry != frame.end() && retry->is_number() ? retry->get<double>() : default_retry_ms;
  retry_ms *= std::uniform_real_distribution<double>{1.0, 1.25}(rng);
  auto id = frame.find("id");
  if (id == frame.end()) {
    // Acks carry no id (so the node sends no `ok` for each): a refused frame without an id
    // may have been an ack, which must go out again or its items stay on the node until the
    // next session. A second ack of the same items is harmless.
    if (retryable && state == link::live) {
      session_acked = 0;
      count("ack_retries");
      after_ms(retry_ms, atom::ackdue::value);
    }
    return;
  }
  if (id->is_string()) {
    // `state` frames carry string ids: a bad_request means presence is not implemented.
    if (id->get_ref<const std::string&>().rfind("state", 0) == 0 && code == "bad_request")
      ctx->presence_unsupported.store(true, std::memory_order_relaxed);
    return;
  }
  if (!id->is_number_unsigned())
    return;
  auto number = static_cast<uint32_t>(id->get<uint64_t>());
  auto it = pending.find(number);
  if (it == pending.end())
    return;
  if (retryable) {
    it->second.in_flight = false;
    count("retries");
    after_ms(retry_ms, atom::resend::value, number);
    return;
  }
  if (it->second.media && code == "forbidden")
    count("media_refused");
  self->send(ctx->collector, atom::ev_fail::value, make_key(index, number), code);
  pending.erase(it);
}

void bot_state::note_item(uint64_t seq) {
  session_highest = std::max(session_highest, seq);
  ++unacked;
  if (unacked >= ack_every_items || does->ack_delay_ms <= 0)
    return send_ack();
  if (!ack_scheduled) {
    ack_scheduled = true;
    after_ms(does->ack_delay_ms, atom::ackdue::value);
  }
}

void bot_state::send_ack() {
  unacked = 0;
  if (state != link::live || session_highest <= session_acked)
    return;
  write(frames::ack, session_highest);
  session_acked = session_highest;
  acked_upto = std::max(acked_upto, session_highest);
  count("acks");
}

// -- timers --------------------------------------------------------------------

void bot_state::on_ack_due() {
  ack_scheduled = false;
  send_ack(); // covers only what the current session received, whenever it was scheduled
}

void bot_state::on_read_due(uint32_t g, const std::string& from, const std::string& mid) {
  if (g != gen || state != link::live)
    return;
  send_ack(); // the node only reports messages already acknowledged
  write(frames::read, from, mid);
  count("reads");
}

void bot_state::on_bg_toggle(uint64_t e) {
  if (e != behaviour_epoch || state != link::live || draining || !does->background)
    return;
  set_background(!background);
  auto next = background ? does->background->duration_ms : does->background->every_ms;
  after_ms(next.sample(rng), atom::bgtoggle::value, behaviour_epoch);
  if (!background)
    schedule_think();
}

void bot_state::on_resend(uint32_t number) {
  auto it = pending.find(number);
  if (it == pending.end() || it->second.in_flight || state != link::live)
    return; // answered, or it goes out again with the next session anyway
  it->second.in_flight = true;
  transmit(it->second.frame, binary());
}

// -- behaviour -----------------------------------------------------------------

void bot_state::start_background() {
  after_ms(does->background->every_ms.sample(rng), atom::bgtoggle::value, behaviour_epoch);
}

void bot_state::on_drain() {
  if (background && state == link::live)
    set_background(false);
  background = false;
}

void bot_state::set_background(bool on) {
  background = on;
  if (ctx->presence_unsupported.load(std::memory_order_relaxed)) {
    count("state_skipped");
    return;
  }
  static constexpr const char* ids[] = {"state-fg", "state-bg"};
  write(frames::state, std::string_view{ids[on ? 1 : 0]}, !on);
  count("state_frames");
}

void bot_state::send_one() {
  auto to = choose_peer();
  bool media = does->media_share > 0 &&
               std::uniform_real_distribution<double>{0, 1}(rng) < does->media_share;
  const auto& me = ctx->users[index];
  if (media && (!ctx->media_supported || me.media_hash.empty())) {
    count("media_skipped"); // no media service on the node: documented no-op
    return;
  }
  auto number = ++next_number;
  cid_buf.assign(ctx->run_id).append(1, '.').append(std::to_string(number));
  const auto& recipient = ctx->users[to].name;
  std::string bytes;
  if (media) {
    frames::send_image(bytes, ctx->plan->enc, number, cid_buf, recipient,
                       {me.media_hash, me.media_mime, me.media_size});
  } else {
    auto size = static_cast<std::size_t>(does->message_bytes.sample(rng));
    body_buf.assign(cid_buf).append(1, ' ');
    body_buf.resize(std::clamp(size, cid_buf.size() + 1, max_body_bytes), 'x');
    frames::send_text(bytes, ctx->plan->enc, number, cid_buf, recipient, body_buf);
  }
  auto t = ctx->now_ns();
  self->send(ctx->collector, atom::ev_send::value, make_key(index, number), to, media, t);
  auto& p = pending[number] = pending_send{std::move(bytes), to, media, true};
  transmit(p.frame, binary());
}

void bot_state::send_ping() {
  write(frames::ping);
}

caf::behavior bot_actor(caf::stateful_actor<bot_state>* self, run_context* ctx, uint32_t bot) {
  return bot_behavior(
      self, ctx, bot, [self](atom::bgtoggle, uint64_t e) { self->state.on_bg_toggle(e); },
      [self](atom::resend, uint32_t number) { self->state.on_resend(number); });
}

} // namespace tidings::bots
