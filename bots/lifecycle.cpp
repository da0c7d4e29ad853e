#include "bots/lifecycle.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "bots/bot.hpp"
#include "bots/xmpp_bot.hpp"

namespace tidings::bots {

namespace {

/// Back-off before reconnecting after an unexpected close: 250 ms doubling up to 8 s.
constexpr double backoff_base_ms = 250;
constexpr uint32_t backoff_max_doublings = 5;
/// A refused connection comes back after the node's retry_ms (+0–10 %), at most this.
constexpr double max_retry_ms = 60'000;

/// Forwards one connection's events to its actor, tagged with the connection's generation.
class actor_link : public connection_events {
public:
  actor_link(caf::actor owner, uint32_t gen) : owner_(std::move(owner)), gen_(gen) {}
  void on_open() override { caf::anon_send(owner_, atom::wsopen::value, gen_); }
  void on_frame(std::string data, bool binary, int64_t arrival_ns) override {
    caf::anon_send(owner_, atom::wsframe::value, gen_, std::move(data), binary, arrival_ns);
  }
  void on_closed(uint16_t code, std::string reason, bool opened) override {
    caf::anon_send(owner_, atom::wsclosed::value, gen_, code, std::move(reason), opened);
  }
  void on_refused(std::string code, int64_t retry_ms) override {
    caf::anon_send(owner_, atom::wsrefused::value, gen_, std::move(code), retry_ms);
  }

private:
  caf::actor owner_;
  uint32_t gen_;
};

} // namespace

std::shared_ptr<ws_connection> open_link(network& net, caf::event_based_actor* owner,
                                         uint32_t gen) {
  return net.open(std::make_unique<actor_link>(caf::actor_cast<caf::actor>(owner), gen));
}

template <class P>
void bot_lifecycle<P>::init(caf::event_based_actor* s, run_context* c, uint32_t bot) {
  self = s;
  ctx = c;
  index = bot;
  does = &ctx->behaviour_of(bot);
  rng.seed(ctx->plan->seed * 0x9e3779b97f4a7c15ull + bot);
  const auto& mine = ctx->contacts[index];
  double total = 0;
  for (std::size_t k = 0; k < mine.size(); ++k) {
    total += does->peer == behaviour::peer_choice::zipf
                 ? 1.0 / std::pow(static_cast<double>(k + 1), does->zipf_s)
                 : 1.0;
    peer_cdf.push_back(total);
  }
}

// -- conductor -----------------------------------------------------------------

template <class P> caf::result<bool> bot_lifecycle<P>::go_online() {
  want_online = true;
  if (failed)
    return caf::make_error(caf::sec::request_receiver_down, P::refused);
  if (state == link::live)
    return true;
  auto rp = self->make_response_promise<bool>();
  online_waiters.push_back(rp);
  if (state == link::offline && !away)
    connect();
  return rp;
}

template <class P> void bot_lifecycle<P>::go_offline(bool drop) {
  want_online = false;
  end_connection(drop);
}

template <class P> void bot_lifecycle<P>::end_connection(bool drop) {
  ++behaviour_epoch;
  if (!conn || state == link::closing)
    return;
  bool was_live = state == link::live;
  state = link::closing;
  closing_on_purpose = true;
  if (drop)
    return conn->drop();
  proto().finish_session(was_live);
  conn->close(1000);
}

template <class P> void bot_lifecycle<P>::speak() {
  if (draining)
    return;
  talking = true;
  schedule_think();
}

template <class P> void bot_lifecycle<P>::silence() {
  talking = false;
}

template <class P> void bot_lifecycle<P>::bounce(bool drop, int64_t offline_ms) {
  if (draining || !want_online)
    return;
  count("bounces");
  leave(drop, static_cast<double>(offline_ms));
}

template <class P> void bot_lifecycle<P>::leave(bool drop, double offline_ms) {
  away = true;
  end_connection(drop);
  after_ms(offline_ms, atom::comeback::value, ++comeback_epoch);
}

template <class P> bool bot_lifecycle<P>::drain() {
  draining = true;
  talking = false;
  away = false;
  ++behaviour_epoch;
  ++comeback_epoch;
  proto().on_drain();
  want_online = true;
  if (state == link::offline && !failed)
    connect();
  return true;
}

template <class P> void bot_lifecycle<P>::shutdown() {
  if (conn)
    conn->drop();
  conn = nullptr;
  for (auto& rp : online_waiters)
    rp.deliver(false);
  online_waiters.clear();
}

// -- connection ----------------------------------------------------------------

template <class P> void bot_lifecycle<P>::connect() {
  state = link::connecting;
  closing_on_purpose = false;
  connect_started = ctx->now_ns();
  proto().reset_session();
  ++gen;
  conn = open_link(*ctx->net, self, gen);
}

template <class P> void bot_lifecycle<P>::on_open(uint32_t g) {
  if (g != gen || state != link::connecting)
    return;
  state = link::login;
  proto().start_login();
}

template <class P>
void bot_lifecycle<P>::on_frame(uint32_t g, const std::string& data, bool binary, int64_t t) {
  if (g == gen)
    proto().read_frame(data, binary, t);
}

template <class P> void bot_lifecycle<P>::went_live(int64_t t) {
  state = link::live;
  failed_attempts = 0;
  self->send(ctx->collector, atom::ev_conn::value, index, t - connect_started, t);
  for (auto& rp : online_waiters)
    rp.deliver(true);
  online_waiters.clear();
  proto().session_live();
  after_ms(does->ping_s * 500, atom::keepalive::value, gen);
  start_behaviour();
}

template <class P>
void bot_lifecycle<P>::on_refused(uint32_t g, const std::string& code, int64_t retry_ms) {
  if (g != gen)
    return;
  refused_code = code;
  refused_retry_ms = retry_ms;
}

template <class P>
void bot_lifecycle<P>::on_closed(uint32_t g, uint16_t code, const std::string& reason,
                                 bool opened) {
  if (g != gen)
    return;
  bool expected = closing_on_purpose;
  // The node refused the upgrade: `overloaded` is an explicit refusal, not a failure.
  auto refusal = std::exchange(refused_code, std::string{});
  auto retry_ms = std::exchange(refused_retry_ms, int64_t{-1});
  bool overloaded = !opened && refusal == "overloaded";
  state = link::offline;
  conn = nullptr;
  ++behaviour_epoch;
  proto().session_closed(code);
  if (overloaded)
    self->send(ctx->collector, atom::ev_refuse::value, refusal);
  else
    self->send(ctx->collector, atom::ev_close::value, index, code, reason, opened, expected);
  if (failed) { // retrying cannot help
    for (auto& rp : online_waiters)
      rp.deliver(caf::make_error(caf::sec::request_receiver_down, P::refused_now));
    online_waiters.clear();
    return;
  }
  if (away || !want_online)
    return;
  if (expected) {
    // Closed on purpose, and its time offline ended before the close completed (on_comeback
    // found the connection still closing): it comes back now.
    count("late_closes");
    return connect();
  }
  double delay = 0;
  if (!opened && retry_ms >= 0) {
    // Refused with a retry_ms: back when the node said, a little later (bounded), and an
    // `overloaded` refusal does not grow the back-off of failures.
    delay = std::min(static_cast<double>(retry_ms), max_retry_ms) *
            std::uniform_real_distribution<double>{1.0, 1.1}(rng);
    failed_attempts += overloaded ? 0 : 1;
  } else {
    // Unexpected: reconnect after a jittered back-off.
    auto doublings = std::min(failed_attempts++, backoff_max_doublings);
    delay = backoff_base_ms * static_cast<double>(1u << doublings);
    delay *= std::uniform_real_distribution<double>{1.0, 1.5}(rng);
  }
  away = true;
  after_ms(delay, atom::comeback::value, ++comeback_epoch);
}

// -- timers --------------------------------------------------------------------

template <class P> void bot_lifecycle<P>::on_think(uint64_t e) {
  if (e != think_epoch || !can_send())
    return;
  if (proto().outstanding() >= does->max_inflight)
    count("sends_deferred");
  else
    proto().send_one();
  schedule_think();
}

template <class P> void bot_lifecycle<P>::on_away(uint64_t e) {
  if (e != behaviour_epoch || state != link::live || draining || !does->reconnect)
    return;
  count("reconnects");
  leave(does->reconnect->drop, does->reconnect->offline_ms.sample(rng));
}

template <class P> void bot_lifecycle<P>::on_comeback(uint64_t e) {
  if (e != comeback_epoch || !away)
    return;
  away = false;
  if (want_online && state == link::offline && !failed)
    connect();
}

template <class P> void bot_lifecycle<P>::on_keepalive(uint32_t g) {
  if (g != gen || state != link::live)
    return;
  if (static_cast<double>(ctx->now_ns() - last_write) >= does->ping_s * 1e9 * 0.9) {
    proto().send_ping();
    count("pings");
  }
  after_ms(does->ping_s * 500, atom::keepalive::value, gen);
}

// -- helpers -------------------------------------------------------------------

template <class P> bool bot_lifecycle<P>::can_send() const {
  return talking && state == link::live && !proto().quiet() && does->think_ms.has_value() &&
         !ctx->contacts[index].empty();
}

template <class P> void bot_lifecycle<P>::start_behaviour() {
  if (draining)
    return;
  schedule_think();
  if (does->background)
    proto().start_background();
  if (does->reconnect)
    after_ms(does->reconnect->every_ms.sample(rng), atom::away::value, behaviour_epoch);
}

template <class P> void bot_lifecycle<P>::schedule_think() {
  if (!can_send())
    return;
  // A new epoch makes a think timer already on its way stale: one send loop per bot.
  after_ms(does->think_ms->sample(rng), atom::think::value, ++think_epoch);
}

template <class P> uint32_t bot_lifecycle<P>::choose_peer() {
  const auto& mine = ctx->contacts[index];
  auto x = std::uniform_real_distribution<double>{0, peer_cdf.back()}(rng);
  auto k = static_cast<std::size_t>(std::upper_bound(peer_cdf.begin(), peer_cdf.end(), x) -
                                    peer_cdf.begin());
  return mine[std::min(k, mine.size() - 1)];
}

template <class P> void bot_lifecycle<P>::transmit(std::string bytes, bool binary) {
  if (!conn)
    return;
  last_write = ctx->now_ns();
  conn->send(std::move(bytes), binary);
}

template <class P> void bot_lifecycle<P>::count(const char* what, uint64_t n) {
  self->send(ctx->collector, atom::ev_count::value, std::string{what}, n);
}

template struct bot_lifecycle<bot_state>;
template struct bot_lifecycle<xmpp_bot_state>;

} // namespace tidings::bots
