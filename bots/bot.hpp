#pragma once
// bot actor: one simulated user with one real WebSocket session speaking the Tidings protocol.
// The session's life, the conductor's commands and the behaviour timers are bot_lifecycle's
// (lifecycle.hpp); this is the wire.
//
// Owns: its unanswered sends (resent with the same cid after a reconnect: the node
// deduplicates), its inbox position (highest seq seen, highest acked) and its background state.
// Every event that counts goes to the collector, stamped with the run clock: frame arrival
// times are taken on the I/O thread, so queueing in this actor's mailbox is not measured as
// node latency. Frames are written by bots/frames.hpp (msgpack directly, no json object).
// Invariants: a send is reported to the collector before its frame is written; an ack only
// covers items received on the same session; `read` only names messages already acknowledged
// (the node reports nothing otherwise).
// Never blocks.

#include <cstdint>
#include <map>
#include <string>

#include <caf/all.hpp>

#include "bots/lifecycle.hpp"
#include "net/codec.hpp"
#include "net/frame_doc.hpp"

namespace tidings::bots {

struct bot_state : bot_lifecycle<bot_state> {
  static inline const char* name = "bot";
  static constexpr const char* refused = "the node refused this bot's token";
  static constexpr const char* refused_now = "unauthorized";

  struct pending_send {
    std::string frame; ///< encoded once, resent unchanged
    uint32_t to = 0;
    bool media = false;
    bool in_flight = false; ///< written on the current connection, no answer yet
  };

  bool background = false;

  // sending
  std::map<uint32_t, pending_send> pending;
  std::string cid_buf;  ///< reused by send_one: the cid and
  std::string body_buf; ///< the body of the message being written

  // receiving
  uint64_t acked_upto = 0;      ///< highest seq ever acknowledged (to classify repeats)
  uint64_t session_highest = 0; ///< highest seq received on the current session
  uint64_t session_acked = 0;   ///< highest seq acknowledged on the current session
  bool ack_scheduled = false;
  uint32_t unacked = 0;

  // timers
  void on_ack_due();
  void on_read_due(uint32_t g, const std::string& from, const std::string& mid);
  void on_bg_toggle(uint64_t e);
  void on_resend(uint32_t number);

private:
  friend struct bot_lifecycle<bot_state>;

  // bot_lifecycle's hooks
  void reset_session();
  void start_login();
  void read_frame(const std::string& data, bool binary, int64_t t);
  void finish_session(bool) {}
  void session_closed(uint16_t code);
  void session_live();
  void start_background();
  void on_drain();
  bool quiet() const { return background; }
  std::size_t outstanding() const { return pending.size(); }
  void send_one();
  void send_ping();

  void on_welcome(int64_t t);
  void on_msg(net::value_ref frame, int64_t t);
  void on_receipt(net::value_ref frame, int64_t t);
  void on_sent(net::value_ref frame, int64_t t);
  void on_error(const net::json& frame);
  void note_item(uint64_t seq);
  void send_ack();
  void set_background(bool on);
  /// Writes one frame of bots/frames.hpp: `write(frames::ack, upto)`.
  template <class Frame, class... Ts> void write(Frame frame, const Ts&... fields) {
    std::string out;
    frame(out, ctx->plan->enc, fields...);
    transmit(std::move(out), binary());
  }
  bool binary() const { return ctx->plan->enc == net::encoding::msgpack; }
};

/// Spawned once per bot by the run; starts offline (and talking, for when it is online).
caf::behavior bot_actor(caf::stateful_actor<bot_state>* self, run_context* ctx, uint32_t bot);

} // namespace tidings::bots
