#pragma once
// bot_lifecycle: what a bot does whatever protocol it speaks, for bot_state (the Tidings
// protocol, bot.hpp) and xmpp_bot_state (XMPP over WebSocket, xmpp_bot.hpp).
//
// Owns: the bot's connection (a ws_connection on the shared network; the connection reports
// back with anon_send, tagged with a generation so events of an old connection are ignored),
// where the session is (offline, connecting, logging in, live, closing), the conductor's wishes
// (online, talking, draining) and the behaviour timers: the send loop, the reconnect behaviour,
// the return from `away`, the back-off after an unexpected close, the wait a refused connection
// was told (`overloaded` with retry_ms: counted apart, not a failure), keep-alives. It chooses
// the peers and reports connections, closes, refusals and counters to the collector.
// The protocol's state struct P derives from bot_lifecycle<P> (CRTP) and holds only the wire:
// its login steps, how a message, an ack, a read and a keep-alive are written, how frames are
// read, and what happens to unanswered sends when a session ends. It provides (private, with
// bot_lifecycle<P> as a friend; the base's members are its own, e.g. `state`, `conn`, `rng`):
//   static constexpr const char* refused, * refused_now;   the error go_online answers once
//                                           the login was refused, and when it is refused
//   void reset_session();                   a connection starts: forget the last one's state
//   void start_login();                     the WebSocket is open: the first login frame
//   void read_frame(const std::string& data, bool binary, int64_t t);  a frame of this session
//   void finish_session(bool was_live);     an orderly close: what goes out before it
//   void session_closed(uint16_t code);     the connection ended: settle what was in flight,
//                                           set `failed` if logging in again cannot help
//   void session_live();                    logged in, the waiters answered (e.g. resends)
//   void start_background();                the scenario's `background` behaviour
//   void on_drain();                        drain: leave protocol states such as background
//   bool quiet() const;                     the protocol's state keeps the bot from sending
//   std::size_t outstanding() const;        sends without an answer (max_inflight)
//   void send_one();  void send_ping();
// and, public, the handlers of its timers `ackdue` and `readdue`:
//   void on_ack_due();
//   void on_read_due(uint32_t g, const std::string& peer, const std::string& mid);
// Invariants: at most one connection at a time; one send loop per bot (think epochs).
// Never blocks.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bots/context.hpp"
#include "bots/messages.hpp"
#include "bots/network.hpp"
#include "bots/timers.hpp"

namespace tidings::bots {

/// Opens a connection on `net` whose events go to `owner`, tagged with `gen`.
std::shared_ptr<ws_connection> open_link(network& net, caf::event_based_actor* owner, uint32_t gen);

template <class P> struct bot_lifecycle {
  enum class link : uint8_t { offline, connecting, login, live, closing };

  caf::event_based_actor* self = nullptr;
  run_context* ctx = nullptr;
  uint32_t index = 0;
  const behaviour* does = nullptr;
  std::mt19937_64 rng;
  std::vector<double> peer_cdf; ///< cumulative weights over ctx->contacts[index]

  // connection
  link state = link::offline;
  std::shared_ptr<ws_connection> conn;
  uint32_t gen = 0;         ///< generation of `conn`; events of older ones are ignored
  bool want_online = false; ///< the conductor wants this bot online
  bool away = false;        ///< offline on purpose for a while (reconnect behaviour, bounce)
  bool failed = false;      ///< the server refused the login: no more connection attempts
  bool closing_on_purpose = false;
  uint32_t failed_attempts = 0;
  std::string refused_code;      ///< the node refused the current connection's upgrade with
  int64_t refused_retry_ms = -1; ///< this error code and retry_ms (-1: none)
  int64_t connect_started = 0;
  int64_t last_write = 0;
  std::vector<caf::typed_response_promise<bool>> online_waiters;

  // behaviour
  bool talking = true; ///< sends whenever online, unless a phase silenced it
  bool draining = false;
  // Timer chains: a timer carrying an older epoch than its chain's is stale and ignored.
  uint64_t think_epoch = 0;     ///< the send loop (one per bot)
  uint64_t behaviour_epoch = 0; ///< background and reconnect timers of the current session
  uint64_t comeback_epoch = 0;  ///< the pending return from `away`
  uint32_t next_number = 0;     ///< the number of the last message sent

  void init(caf::event_based_actor* s, run_context* c, uint32_t bot);

  // conductor
  caf::result<bool> go_online();
  void go_offline(bool drop);
  void speak();
  void silence();
  void bounce(bool drop, int64_t offline_ms);
  bool drain();
  void shutdown();

  // connection
  void on_open(uint32_t g);
  void on_frame(uint32_t g, const std::string& data, bool binary, int64_t t);
  void on_closed(uint32_t g, uint16_t code, const std::string& reason, bool opened);
  void on_refused(uint32_t g, const std::string& code, int64_t retry_ms);

  // timers
  void on_think(uint64_t e);
  void on_away(uint64_t e);
  void on_comeback(uint64_t e);
  void on_keepalive(uint32_t g);

protected:
  /// The login is complete: answers the waiters and starts the session's behaviour.
  void went_live(int64_t t);
  /// Closes (or drops) the connection on purpose, if there is one.
  void end_connection(bool drop);
  void leave(bool drop, double offline_ms);
  /// Queues one frame on the connection, if there is one.
  void transmit(std::string bytes, bool binary);
  uint32_t choose_peer();
  void schedule_think();
  void count(const char* what, uint64_t n = 1);
  /// A behaviour timer: `a, xs...` comes back to this bot in `ms` (on the run's timer wheel,
  /// 1 ms resolution; through CAF's clock without one). Stale ones are told apart by epochs.
  template <class Atom, class... Ts> void after_ms(double ms, Atom a, Ts&&... xs) {
    if (ctx->timers != nullptr)
      return ctx->timers->after_ms(ms, self, a, std::forward<Ts>(xs)...);
    auto delay = std::chrono::microseconds(static_cast<int64_t>(std::max(ms, 0.0) * 1000));
    self->delayed_send(self, delay, a, std::forward<Ts>(xs)...);
  }

private:
  P& proto() { return static_cast<P&>(*this); }
  const P& proto() const { return static_cast<const P&>(*this); }
  void connect();
  void start_behaviour();
  bool can_send() const;
};

/// The behavior of a bot actor: the conductor's commands, the connection's events and the
/// timers forwarded to the state, followed by the protocol's own `handlers`.
template <class P, class... Handlers>
caf::behavior bot_behavior(caf::stateful_actor<P>* self, run_context* ctx, uint32_t bot,
                           Handlers... handlers) {
  self->state.init(self, ctx, bot);
  self->set_exit_handler([self](const caf::exit_msg& em) {
    self->state.shutdown();
    self->quit(em.reason);
  });
  return {
      [self](atom::online) { return self->state.go_online(); },
      [self](atom::offline, bool drop) { self->state.go_offline(drop); },
      [self](atom::speak) { self->state.speak(); },
      [self](atom::silence) { self->state.silence(); },
      [self](atom::bounce, bool drop, int64_t offline_ms) { self->state.bounce(drop, offline_ms); },
      [self](atom::drain) { return self->state.drain(); },
      [self](atom::wsopen, uint32_t g) { self->state.on_open(g); },
      [self](atom::wsframe, uint32_t g, const std::string& data, bool binary, int64_t t) {
        self->state.on_frame(g, data, binary, t);
      },
      [self](atom::wsclosed, uint32_t g, uint16_t code, const std::string& reason, bool opened) {
        self->state.on_closed(g, code, reason, opened);
      },
      [self](atom::wsrefused, uint32_t g, const std::string& code, int64_t retry_ms) {
        self->state.on_refused(g, code, retry_ms);
      },
      [self](atom::think, uint64_t e) { self->state.on_think(e); },
      [self](atom::ackdue) { self->state.on_ack_due(); },
      [self](atom::readdue, uint32_t g, const std::string& peer, const std::string& mid) {
        self->state.on_read_due(g, peer, mid);
      },
      [self](atom::away, uint64_t e) { self->state.on_away(e); },
      [self](atom::comeback, uint64_t e) { self->state.on_comeback(e); },
      [self](atom::keepalive, uint32_t g) { self->state.on_keepalive(g); },
      std::move(handlers)...,
  };
}

} // namespace tidings::bots
