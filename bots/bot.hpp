#pragma once
// bot actor: one simulated user with one real WebSocket session.
//
// Owns: its connection (a ws_connection on the shared network; the connection reports back
// with anon_send, tagged with a generation so events of an old connection are ignored), its
// unanswered sends (resent with the same cid after a reconnect: the node deduplicates), its
// inbox position (highest seq seen, highest acked) and its behaviour timers.
// Every event that counts goes to the collector, stamped with the run clock: frame arrival
// times are taken on the I/O thread, so queueing in this actor's mailbox is not measured as
// node latency.
// Invariants: at most one connection at a time; a send is reported to the collector before
// its frame is written; an ack only covers items received on the same session; `read` only names
// messages already acknowledged (the node reports nothing otherwise).
// Never blocks.

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bots/context.hpp"
#include "bots/network.hpp"
#include "net/codec.hpp"
#include "net/frame_doc.hpp"

namespace tidings::bots {

struct bot_state {
  static inline const char* name = "bot";

  enum class link : uint8_t { offline, connecting, authenticating, live, closing };

  struct pending_send {
    std::string frame; ///< encoded once, resent unchanged
    uint32_t to = 0;
    bool media = false;
    bool in_flight = false; ///< written on the current connection, no answer yet
  };

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
  bool failed = false;      ///< the node refused our token: no more connection attempts
  bool closing_on_purpose = false;
  uint32_t failed_attempts = 0;
  int64_t connect_started = 0;
  int64_t last_write = 0;
  std::vector<caf::typed_response_promise<bool>> online_waiters;

  // behaviour
  bool talking = true; ///< sends whenever online, unless a phase silenced it
  bool draining = false;
  bool background = false;
  // Timer chains: a timer carrying an older epoch than its chain's is stale and ignored.
  uint64_t think_epoch = 0;     ///< the send loop (one per bot)
  uint64_t behaviour_epoch = 0; ///< background and reconnect timers of the current session
  uint64_t comeback_epoch = 0;  ///< the pending return from `away`

  // sending
  uint32_t next_number = 0;
  std::map<uint32_t, pending_send> pending;

  // receiving
  uint64_t acked_upto = 0;      ///< highest seq ever acknowledged (to classify repeats)
  uint64_t session_highest = 0; ///< highest seq received on the current session
  uint64_t session_acked = 0;   ///< highest seq acknowledged on the current session
  bool ack_scheduled = false;
  uint32_t unacked = 0;

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

  // timers
  void on_think(uint64_t e);
  void on_ack_due();
  void on_read_due(uint32_t g, const std::string& from, const std::string& mid);
  void on_bg_toggle(uint64_t e);
  void on_away(uint64_t e);
  void on_comeback(uint64_t e);
  void on_resend(uint32_t number);
  void on_keepalive(uint32_t g);

private:
  void connect();
  void on_welcome(int64_t t);
  void on_msg(net::value_ref frame, int64_t t);
  void on_receipt(net::value_ref frame, int64_t t);
  void on_sent(net::value_ref frame, int64_t t);
  void on_error(const net::json& frame);
  void note_item(uint64_t seq);
  void send_ack();
  void send_one();
  void write(const net::json& frame);
  void write_raw(const std::string& bytes);
  void start_behaviour();
  void schedule_think();
  void leave(bool drop, double offline_ms);
  /// Closes (or drops) the connection on purpose, if there is one.
  void end_connection(bool drop);
  void set_background(bool on);
  void count(const char* what, uint64_t n = 1);
  uint32_t choose_peer();
  bool can_send() const;
  template <class Atom, class... Ts> void after_ms(double ms, Atom a, Ts&&... xs);
};

/// Spawned once per bot by the run; starts offline (and talking, for when it is online).
caf::behavior bot_actor(caf::stateful_actor<bot_state>* self, run_context* ctx, uint32_t bot);

} // namespace tidings::bots
