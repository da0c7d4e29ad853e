#pragma once
// Every atom and message type the load-test actors exchange, and their CAF type-ID block.
//
// The bots never share an actor system with the server's actors, but their block starts well
// above the server's (`tidings`) so the two could be registered side by side. Messages stay in
// one process: the event structs carry an inspect() only because CAF requires it.
// Register on every actor_system_config with `register_bot_types(cfg)`.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace tidings::bots {

// Atoms: at most 10 characters, none of CAF's own.
namespace atom {
// connection -> bot (each carries the connection's generation)
using wsopen = caf::atom_constant<caf::atom("wsopen")>;
using wsframe = caf::atom_constant<caf::atom("wsframe")>;
using wsclosed = caf::atom_constant<caf::atom("wsclosed")>;
using wsrefused = caf::atom_constant<caf::atom("wsrefused")>; ///< the upgrade was refused
// conductor -> bot
using online = caf::atom_constant<caf::atom("online")>;   ///< go online; answers once live
using offline = caf::atom_constant<caf::atom("offline")>; ///< go offline (close or drop)
using speak = caf::atom_constant<caf::atom("speak")>;     ///< start sending
using silence = caf::atom_constant<caf::atom("silence")>; ///< stop sending
using bounce = caf::atom_constant<caf::atom("bounce")>;   ///< lose the connection, come back
using drain = caf::atom_constant<caf::atom("drain")>;     ///< stop all activity, stay online
// bot -> itself (timers)
using think = caf::atom_constant<caf::atom("think")>;
using ackdue = caf::atom_constant<caf::atom("ackdue")>;
using readdue = caf::atom_constant<caf::atom("readdue")>;
using bgtoggle = caf::atom_constant<caf::atom("bgtoggle")>;
using away = caf::atom_constant<caf::atom("away")>;
using comeback = caf::atom_constant<caf::atom("comeback")>;
using resend = caf::atom_constant<caf::atom("resend")>;
using keepalive = caf::atom_constant<caf::atom("keepalive")>;
// bot -> collector
using ev_send = caf::atom_constant<caf::atom("ev_send")>;
using ev_sent = caf::atom_constant<caf::atom("ev_sent")>;
using ev_fail = caf::atom_constant<caf::atom("ev_fail")>;
using ev_recv = caf::atom_constant<caf::atom("ev_recv")>;
using ev_rcpt = caf::atom_constant<caf::atom("ev_rcpt")>;
using ev_stale = caf::atom_constant<caf::atom("ev_stale")>;
using ev_error = caf::atom_constant<caf::atom("ev_error")>;
using ev_conn = caf::atom_constant<caf::atom("ev_conn")>;
using ev_close = caf::atom_constant<caf::atom("ev_close")>;
using ev_refuse = caf::atom_constant<caf::atom("ev_refuse")>; ///< a connection refused (code)
using ev_count = caf::atom_constant<caf::atom("ev_count")>;
// conductor -> collector
using phase = caf::atom_constant<caf::atom("phase")>;
using outstand = caf::atom_constant<caf::atom("outstand")>;
using report = caf::atom_constant<caf::atom("report")>;
// main -> conductor, and the conductor's own timer
using run = caf::atom_constant<caf::atom("run")>;
using step = caf::atom_constant<caf::atom("step")>;
using interrupt = caf::atom_constant<caf::atom("interrupt")>;
using advance = caf::atom_constant<caf::atom("advance")>; ///< end an until_signal hold
// collector's own timer
using sample = caf::atom_constant<caf::atom("sample")>;
} // namespace atom

/// A `msg` item a bot received (one per frame, repeats included).
struct received_event {
  uint64_t key = 0; ///< message_key of the message (from the body)
  uint32_t at = 0;  ///< the receiving bot
  std::string mid;
  int64_t t = 0;          ///< arrival on the run clock (ns)
  uint32_t session = 0;   ///< the receiver's connection generation
  bool after_ack = false; ///< its seq was already covered by an ack this bot sent
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, received_event& x) {
  return f(caf::meta::type_name("received_event"), x.key, x.at, x.mid, x.t, x.session, x.after_ack);
}

/// A `receipt` item a bot received.
struct receipt_event {
  uint32_t at = 0; ///< the bot that got the receipt (the messages' sender)
  int64_t by = -1; ///< the bot that delivered/read them, -1 if not a bot of this run
  bool read = false;
  std::vector<std::string> mids;
  int64_t t = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, receipt_event& x) {
  return f(caf::meta::type_name("receipt_event"), x.at, x.by, x.read, x.mids, x.t);
}

/// Registers the type-ID block on a config.
void register_bot_types(caf::actor_system_config& cfg);

} // namespace tidings::bots

CAF_BEGIN_TYPE_ID_BLOCK(tidings_bots, caf::first_custom_type_id + 100)
CAF_ADD_TYPE_ID(tidings_bots, (std::vector<std::string>))
CAF_ADD_TYPE_ID(tidings_bots, (tidings::bots::received_event))
CAF_ADD_TYPE_ID(tidings_bots, (tidings::bots::receipt_event))
CAF_END_TYPE_ID_BLOCK(tidings_bots)
