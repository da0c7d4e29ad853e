#include "bots/xmpp_bot.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include "bots/accounting.hpp"
#include "bots/messages.hpp"

namespace tidings::bots {

namespace {

/// Receipts owed after which they go out at once (as a Tidings bot's ack after 64 items).
constexpr std::size_t flush_every_receipts = 64;
/// Registration: each step's answer must come within this; a user gets this many attempts.
constexpr auto registration_step_timeout = std::chrono::seconds(10);
constexpr uint32_t registration_attempts = 5;

} // namespace

void xmpp_bot_state::init(caf::event_based_actor* s, run_context* c, uint32_t bot) {
  bot_lifecycle::init(s, c, bot);
  jid_suffix = "@" + ctx->xmpp->domain;
}

// -- session -------------------------------------------------------------------

void xmpp_bot_state::reset_session() {
  in_flight.clear();
  out_stanzas = 0;
  in_stanzas = 0;
  sm_counting = false;
  ack_requested = false;
  receipts_due.clear();
}

void xmpp_bot_state::start_login() {
  step = login_step::opened;
  write(xmpp::open(ctx->xmpp->domain), false);
}

void xmpp_bot_state::finish_session(bool was_live) {
  if (was_live) {
    write_owed(); // receipts owed and the answer to <r/> go out before the stream ends
                  // (the link is already `closing`, so not through flush())
    if (!in_flight.empty())
      write(xmpp::request_ack(), false); // the server's <a/> arrives before its </close>
  }
  write(xmpp::close(), false);
}

void xmpp_bot_state::read_frame(const std::string& data, bool, int64_t t) {
  auto e = parse_xml(data);
  if (!e) {
    count("undecodable_frames");
    return;
  }
  auto name = e->local();
  if (name == "message" || name == "presence" || name == "iq") {
    if (state == link::live || state == link::closing)
      ++in_stanzas; // the server counts what it sent after <enabled/>
    return on_stanza(*e, t);
  }
  if (name == "features")
    return on_features(*e);
  if (name == "success" && logging_in(login_step::auth)) {
    step = login_step::reopened;
    return write(xmpp::open(ctx->xmpp->domain), false);
  }
  if (name == "failure" && logging_in(login_step::auth)) {
    failed = true; // wrong password or unknown user: retrying cannot help
    self->send(ctx->collector, atom::ev_error::value, "sasl_" + xmpp::error_condition(*e));
    return end_connection(false);
  }
  if (name == "enabled" && logging_in(login_step::binding))
    return went_live(t);
  if (name == "a") {
    auto h = e->attr_or_empty("h");
    return on_acked(std::strtoull(std::string{h}.c_str(), nullptr, 10), t);
  }
  if (name == "r") {
    ack_requested = true;
    return schedule_flush();
  }
  if (name == "error") { // <stream:error/>: the server ends the stream next
    self->send(ctx->collector, atom::ev_error::value, "stream_" + xmpp::error_condition(*e));
    return;
  }
  if (name == "open" || name == "close")
    return;
  count(("other_" + std::string{name.substr(0, 32)}).c_str());
}

void xmpp_bot_state::on_features(const xml_element& e) {
  if (logging_in(login_step::opened)) {
    const auto* mechanisms = e.child("mechanisms");
    bool plain = mechanisms != nullptr &&
                 std::any_of(mechanisms->children.begin(), mechanisms->children.end(),
                             [](const xml_element& m) { return m.text == "PLAIN"; });
    if (!plain) {
      failed = true;
      self->send(ctx->collector, atom::ev_error::value, std::string{"sasl_plain_not_offered"});
      return end_connection(false);
    }
    step = login_step::auth;
    const auto& me = ctx->users[index];
    return write(xmpp::auth_plain(me.name, me.password), false);
  }
  if (logging_in(login_step::reopened)) {
    step = login_step::binding;
    offers_session = e.child("session") != nullptr;
    write(xmpp::bind(ctx->xmpp->resource), false);
  }
}

void xmpp_bot_state::on_stanza(const xml_element& e, int64_t t) {
  auto name = e.local();
  auto type = e.attr_or_empty("type");
  if (name == "message")
    return on_message(e, t);
  if (name != "iq")
    return; // presence: the bots have no roster, nothing to do
  auto id = e.attr_or_empty("id");
  if (logging_in(login_step::binding) && id == "bind") {
    if (type != "result") {
      self->send(ctx->collector, atom::ev_error::value, "bind_" + xmpp::error_condition(e));
      return end_connection(false);
    }
    // Session, stream management and presence need no answer before the next: pipelined.
    if (offers_session)
      write(xmpp::session(), false);
    write(xmpp::enable_sm(), false);
    sm_counting = true; // stanzas from here on count towards the server's h
    return write(xmpp::presence(), true);
  }
  if (type == "get" || type == "set") // e.g. the server's XEP-0199 ping
    write(xmpp::iq_result(e.attr_or_empty("from"), id), true);
}

void xmpp_bot_state::on_message(const xml_element& e, int64_t t) {
  const auto& run = ctx->run_id;
  auto id = e.attr_or_empty("id");
  auto from = e.attr_or_empty("from");
  if (e.attr_or_empty("type") == "error") {
    auto code = "xmpp_" + xmpp::error_condition(e);
    self->send(ctx->collector, atom::ev_error::value, code);
    if (auto number = xmpp::run_number(id, run))
      self->send(ctx->collector, atom::ev_fail::value, make_key(index, *number), code);
    return;
  }
  auto by = ctx->bot_of(std::string{xmpp::local_part(from)});
  for (const char* marker : {"received", "displayed"}) {
    const auto* m = e.child(marker);
    if (m == nullptr)
      continue;
    receipt_event ev;
    ev.at = index;
    ev.by = by;
    ev.read = marker[0] == 'd';
    ev.mids.emplace_back(m->attr_or_empty("id"));
    ev.t = t;
    self->send(ctx->collector, atom::ev_rcpt::value, std::move(ev));
    return;
  }
  const auto* body = e.child("body");
  if (body == nullptr)
    return count("other_message");
  auto number = xmpp::run_number(body->text, run);
  if (!number || by < 0) {
    self->send(ctx->collector, atom::ev_stale::value);
    return;
  }
  auto key = make_key(static_cast<uint32_t>(by), *number);
  self->send(ctx->collector, atom::ev_recv::value,
             received_event{key, index, std::string{id}, t, gen, false});
  std::string sender{xmpp::bare(from)};
  if (e.child("request", xmpp::ns_receipts) != nullptr) {
    receipts_due.emplace_back(sender, std::string{id});
    schedule_flush();
  }
  if (!draining && does->read_share > 0 &&
      std::uniform_real_distribution<double>{0, 1}(rng) < does->read_share)
    after_ms(does->read_delay_ms.sample(rng), atom::readdue::value, gen, sender, std::string{id});
}

void xmpp_bot_state::on_acked(uint64_t h, int64_t t) {
  while (!in_flight.empty() && in_flight.front().stanza <= h) {
    auto number = in_flight.front().number;
    in_flight.pop_front();
    self->send(ctx->collector, atom::ev_sent::value, make_key(index, number), message_id(number),
               t);
  }
}

void xmpp_bot_state::fail_unacked(const char* code) {
  for (const auto& u : in_flight)
    self->send(ctx->collector, atom::ev_fail::value, make_key(index, u.number), std::string{code});
  if (!in_flight.empty())
    count("unacked_at_close", in_flight.size());
  in_flight.clear();
}

void xmpp_bot_state::session_closed(uint16_t) {
  fail_unacked("unacked_at_close");
  if (!receipts_due.empty())
    count("receipts_dropped", receipts_due.size());
  receipts_due.clear();
}

// -- timers --------------------------------------------------------------------

void xmpp_bot_state::schedule_flush() {
  if (receipts_due.size() >= flush_every_receipts || does->ack_delay_ms <= 0)
    return flush();
  if (!flush_scheduled) {
    flush_scheduled = true;
    after_ms(does->ack_delay_ms, atom::ackdue::value);
  }
}

void xmpp_bot_state::on_ack_due() {
  flush_scheduled = false;
  flush();
}

void xmpp_bot_state::flush() {
  if (state == link::live)
    write_owed();
}

void xmpp_bot_state::write_owed() {
  if (!receipts_due.empty())
    count("receipts_sent", receipts_due.size());
  for (const auto& [to, id] : receipts_due)
    write(xmpp::received(to, id), true);
  receipts_due.clear();
  if (ack_requested) {
    ack_requested = false;
    write(xmpp::answer_ack(in_stanzas), false);
  }
}

void xmpp_bot_state::on_read_due(uint32_t g, const std::string& to, const std::string& id) {
  if (g != gen || state != link::live)
    return;
  flush(); // the delivered receipt goes before the read marker
  write(xmpp::displayed(to, id), true);
  count("reads");
}

// -- behaviour -----------------------------------------------------------------

void xmpp_bot_state::start_background() {
  count("state_skipped"); // no client state indication here: the bot stays in the foreground
}

void xmpp_bot_state::send_one() {
  if (does->media_share > 0 &&
      std::uniform_real_distribution<double>{0, 1}(rng) < does->media_share) {
    count("media_skipped"); // media messages are not part of the XMPP driver
    return;
  }
  auto to = choose_peer();
  auto number = ++next_number;
  auto cid = ctx->run_id + "." + std::to_string(number);
  auto size = static_cast<std::size_t>(does->message_bytes.sample(rng));
  std::string body = cid;
  body += ' ';
  body.resize(std::clamp(size, cid.size() + 1, max_body_bytes), 'x');
  self->send(ctx->collector, atom::ev_send::value, make_key(index, number), to, false,
             ctx->now_ns());
  write(xmpp::chat(ctx->users[to].name + jid_suffix, message_id(number), body), true);
  in_flight.push_back({out_stanzas, number});
  write(xmpp::request_ack(), false);
}

void xmpp_bot_state::send_ping() {
  write(xmpp::ping("ping"), true);
}

std::string xmpp_bot_state::message_id(uint32_t number) const {
  return ctx->run_id + "." + std::to_string(number) + "." + std::to_string(index);
}

void xmpp_bot_state::write(std::string frame, bool stanza) {
  if (!conn)
    return;
  if (stanza && sm_counting)
    ++out_stanzas;
  transmit(std::move(frame), false);
}

caf::behavior xmpp_bot_actor(caf::stateful_actor<xmpp_bot_state>* self, run_context* ctx,
                             uint32_t bot) {
  return bot_behavior(self, ctx, bot);
}

// -- registration --------------------------------------------------------------

namespace {

/// What the registrars share with register_xmpp_users (which outlives them all).
struct registration_job {
  network* net = nullptr;
  const xmpp_options* opts = nullptr;
  std::vector<bot_user>* users = nullptr;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> registered{0};
  std::atomic<std::size_t> reused{0};
  std::atomic<bool> failed{false};
  std::mutex mtx;
  std::condition_variable all_done;
  std::size_t running = 0;
  std::string first_error;
};

/// One registration at a time on a connection of its own: <open/>, the features, the
/// XEP-0077 <iq type='set'/>, its answer, </close>; then the next user of the job.
struct registrar_state {
  static inline const char* name = "xmpp_registrar";

  caf::event_based_actor* self = nullptr;
  registration_job* job = nullptr;
  std::size_t user = 0;
  uint32_t gen = 0; ///< events of older connections (and their timeouts) are ignored
  uint32_t attempts = 0;
  std::shared_ptr<ws_connection> conn;

  void next() {
    user = job->next++;
    if (user >= job->users->size() || job->failed)
      return finish();
    attempts = 0;
    start();
  }

  void start() {
    ++attempts;
    conn = open_link(*job->net, self, ++gen);
    self->delayed_send(self, registration_step_timeout, atom::regtimeout::value, gen);
  }

  void on_frame(uint32_t g, const std::string& data) {
    if (g != gen)
      return;
    auto e = parse_xml(data);
    if (!e)
      return retry("an undecodable frame");
    const auto& u = (*job->users)[user];
    if (e->local() == "features")
      return conn->send(xmpp::register_user(u.name, u.password), false);
    if (e->local() != "iq" || e->attr_or_empty("id") != "register")
      return; // <open/>
    auto condition = e->attr_or_empty("type") == "result" ? "" : xmpp::error_condition(*e);
    if (condition == "conflict")
      ++job->reused; // registered by an earlier run against the same server
    else if (condition.empty())
      ++job->registered;
    else
      return fail("the server refused the registration: " + condition);
    conn->send(xmpp::close(), false);
    conn->close(1000);
    ++gen;
    next();
  }

  void retry(const std::string& why) {
    if (conn)
      conn->drop();
    ++gen;
    if (attempts >= registration_attempts)
      return fail(why + " (" + std::to_string(attempts) + " attempts)");
    auto pause = std::chrono::milliseconds(250 << attempts);
    self->delayed_send(self, pause, atom::regnext::value, gen);
  }

  void fail(const std::string& why) {
    {
      std::lock_guard<std::mutex> guard{job->mtx};
      if (!job->failed.exchange(true))
        job->first_error = "registering " + (*job->users)[user].name + ": " + why;
    }
    finish();
  }

  void finish() {
    if (conn)
      conn->drop();
    conn = nullptr;
    ++gen;
    {
      std::lock_guard<std::mutex> guard{job->mtx};
      --job->running;
    }
    job->all_done.notify_all();
    job = nullptr; // register_xmpp_users may return now
    self->quit();
  }
};

caf::behavior registrar_actor(caf::stateful_actor<registrar_state>* self, registration_job* job) {
  self->state.self = self;
  self->state.job = job;
  self->send(self, atom::regnext::value, uint32_t{0});
  return {
      [self](atom::regnext, uint32_t g) {
        auto& st = self->state;
        if (g == 0)
          return st.next();
        if (g == st.gen)
          st.start(); // a retry after a pause
      },
      [self](atom::wsopen, uint32_t g) {
        auto& st = self->state;
        if (g == st.gen)
          st.conn->send(xmpp::open(st.job->opts->domain), false);
      },
      [self](atom::wsframe, uint32_t g, const std::string& data, bool, int64_t) {
        self->state.on_frame(g, data);
      },
      [self](atom::wsclosed, uint32_t g, uint16_t, const std::string& reason, bool) {
        if (g == self->state.gen)
          self->state.retry("connection closed: " + reason);
      },
      [self](atom::regtimeout, uint32_t g) {
        if (g == self->state.gen)
          self->state.retry("no answer within 10 s");
      },
  };
}

} // namespace

prepared_users register_xmpp_users(caf::actor_system& sys, network& net, const xmpp_options& opts,
                                   const prepare_options& prep) {
  auto started = std::chrono::steady_clock::now();
  prepared_users out;
  for (std::size_t i = 0; i < prep.count; ++i)
    out.users.push_back(
        {prep.prefix + "-" + prep.run_id + "-" + std::to_string(i), prep.password, {}, {}, {}, 0});
  auto parallel = prep.parallel;
  registration_job job;
  job.net = &net;
  job.opts = &opts;
  job.users = &out.users;
  auto n = std::max<std::size_t>(1, std::min(parallel, out.users.size()));
  job.running = n;
  for (std::size_t i = 0; i < n; ++i)
    sys.spawn(registrar_actor, &job);
  {
    // Every registrar ends: each step has a timeout and each user a bounded number of attempts.
    std::unique_lock<std::mutex> lock{job.mtx};
    job.all_done.wait(lock, [&] { return job.running == 0; });
  }
  if (job.failed)
    throw std::runtime_error(job.first_error);
  out.registered = job.registered;
  out.reused = job.reused;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

} // namespace tidings::bots
