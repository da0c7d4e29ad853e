#pragma once
// xmpp_bot actor: one simulated user on an XMPP server, over WebSocket (RFC 7395); the XMPP
// counterpart of bot_actor (bot.hpp), driven by the same conductor commands and reporting the
// same events to the same collector, so both servers are measured alike: the session's life,
// the commands and the behaviour timers are bot_lifecycle's (lifecycle.hpp), this is the wire.
// Protocol: xmpp.hpp.
//
// Owns: its stream's state (the login steps, the stream-management counters: stanzas written
// since <enable/> and stanzas received), its unacknowledged messages (in the order written,
// with the stanza number each must be acknowledged by) and the receipts it owes.
// Mapping to the collector's figures: `sent` = the server's <a h/> covering the message;
// `received` = a <message> of this run arriving (its id is the mid); `delivered` = an XEP-0184
// <received/> back at the sender; `read` = an XEP-0333 <displayed/>. Receipts and the answer
// to the server's <r/> go out `ack_delay_ms` after the first one was owed (at once after 64),
// as a Tidings bot's ack does. XMPP has no deduplication without stream resumption, so sends
// the server never acknowledged are not resent after a reconnect: they are reported as failed
// ("unacked_at_close") instead of risking a duplicate.
// Not supported (counted, never sent): media messages (`media_skipped`), background state
// (`state_skipped`). Never blocks.
//
// register_xmpp_users() registers the run's users in band (XEP-0077) before the run, a few at a
// time, each on a short connection of its own; a user that already exists counts as reused.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bots/lifecycle.hpp"
#include "bots/users.hpp"
#include "bots/xmpp.hpp"

namespace tidings::bots {

namespace atom {
using regtimeout = caf::atom_constant<caf::atom("regtimeout")>; ///< registrar: a step took too long
using regnext = caf::atom_constant<caf::atom("regnext")>;       ///< registrar: next user
} // namespace atom

struct xmpp_bot_state : bot_lifecycle<xmpp_bot_state> {
  static inline const char* name = "xmpp_bot";
  static constexpr const char* refused = "the server refused this bot's login";
  static constexpr const char* refused_now = "login refused";

  /// Where the login is while the link is `login`: each step waits for the server's answer to
  /// the previous one.
  enum class login_step : uint8_t {
    opened,   ///< <open/> written, waiting for the features
    auth,     ///< SASL PLAIN written
    reopened, ///< the stream restarted after SASL, waiting for the features
    binding,  ///< bind, session, <enable/> and <presence/> written, waiting for <enabled/>
  };

  struct unacked {
    uint64_t stanza = 0; ///< acknowledged once the server's h reaches this
    uint32_t number = 0;
  };

  std::string jid_suffix; ///< "@DOMAIN"
  login_step step = login_step::opened;
  std::deque<unacked> in_flight; ///< messages written on this stream, not yet acknowledged
  uint64_t out_stanzas = 0;      ///< stanzas written since <enable/> on this stream
  uint64_t in_stanzas = 0;       ///< stanzas received on this stream
  bool sm_counting = false;      ///< <enable/> written: stanzas written count towards h
  bool offers_session = false;   ///< the server listed <session/> among its features
  bool ack_requested = false;    ///< the server sent <r/>: answer at the next flush
  std::vector<std::pair<std::string, std::string>> receipts_due; ///< (to, message id)
  bool flush_scheduled = false;

  void init(caf::event_based_actor* s, run_context* c, uint32_t bot);

  // timers
  /// Receipts owed and the answer to <r/> go out (the XMPP counterpart of an ack).
  void on_ack_due();
  void on_read_due(uint32_t g, const std::string& to, const std::string& id);

private:
  friend struct bot_lifecycle<xmpp_bot_state>;

  // bot_lifecycle's hooks
  void reset_session();
  void start_login();
  void read_frame(const std::string& data, bool binary, int64_t t);
  void finish_session(bool was_live);
  void session_closed(uint16_t code);
  void session_live() {}
  void start_background();
  void on_drain() {}
  bool quiet() const { return false; }
  std::size_t outstanding() const { return in_flight.size(); }
  void send_one();
  void send_ping();

  bool logging_in(login_step s) const { return state == link::login && step == s; }
  void on_features(const xml_element& e);
  void on_stanza(const xml_element& e, int64_t t);
  void on_message(const xml_element& e, int64_t t);
  void on_acked(uint64_t h, int64_t t);
  void fail_unacked(const char* code);
  void schedule_flush();
  void flush(); ///< write_owed() while the link is live
  /// Writes the receipts owed and the answer to the server's <r/>.
  void write_owed();
  void write(std::string frame, bool stanza);
  /// "RUNID.N.BOT": the cid (as in the body) made unique in the run, since XMPP has no
  /// server-assigned ids; it is the message's mid for the collector.
  std::string message_id(uint32_t number) const;
};

caf::behavior xmpp_bot_actor(caf::stateful_actor<xmpp_bot_state>* self, run_context* ctx,
                             uint32_t bot);

/// Names `prep.count` users ("PREFIX-RUNID-N") and registers them in band on the XMPP server
/// `net` talks to, `prep.parallel` at a time. Blocks the caller (not an actor thread) until
/// all are done; throws std::runtime_error naming the first user that could not be registered.
/// `prep.users_file` and media are not used.
prepared_users register_xmpp_users(caf::actor_system& sys, network& net, const xmpp_options& opts,
                                   const prepare_options& prep);

} // namespace tidings::bots
