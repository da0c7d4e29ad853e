#pragma once
// session actor: one per WebSocket connection.
//
// Owns: the connection's protocol state (auth, encoding, rate limit, bad-frame count,
// idle timer, in-flight sends) and the link to the user's inbox. Receives raw frames from
// the Beast shim (`atom::frame`), has `net/frames.hpp` parse and check them into typed
// requests and build the replies, and answers through the `ws_peer` (which never blocks).
// Invariants: nothing but `auth` is accepted before `welcome`; every reply carries the
// request's `id` and uses the request's encoding; frames the server starts use the auth
// frame's encoding; `sent` is only ever a reply to a durable store.
// Never blocks. At auth it awaits the registry of the user's home (the token check), so
// frames sent right behind `auth` are handled after `welcome`.

#include <memory>
#include <string>
#include <string_view>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/deadlines.hpp"
#include "actors/errors.hpp"
#include "net/frames.hpp"
#include "net/server.hpp"

namespace tidings {

struct session_state {
  static inline const char* name = "session";
  /// Activity is reported to the lastseen shard at most this often.
  static constexpr int64_t touch_interval_ms = 1000;

  enum class phase { awaiting_auth, authenticating, live, closing };

  caf::event_based_actor* self = nullptr;
  const node_context* ctx = nullptr;
  std::shared_ptr<net::ws_peer> peer;
  phase state = phase::awaiting_auth;
  std::string user;
  std::string token_in_use; ///< the token the session authenticated with (watched for revocation)
  std::string token_key;    ///< hex; names this session's device to the inbox
  uint32_t device = 0;      ///< this session's device (0: the unnamed one)
  bool copies = false;      ///< the user has other named devices: each send is copied to them
  /// Whether the inbox has told this session its device yet (`devices`, sent with the attach):
  /// until then sends wait in `held_sends`, so that none misses its `sent_copy`.
  bool devices_known = false;
  std::vector<std::pair<deliver_request, net::reply_to>> held_sends;
  /// Deadlines of the requests on the message path (sends, reads, asks): checked on `tick`.
  deadlines replies;
  net::encoding enc = net::encoding::json; ///< for frames the server starts
  attached_inbox inbox;
  uint64_t forwarded_upto = 0; ///< highest seq sent to the client on this connection
  bool foreground = true;      ///< the app is in the foreground (drives last seen)
  int64_t opened = 0;
  int64_t last_frame = 0;
  std::size_t bad_frames = 0;
  std::size_t inflight = 0;
  std::size_t inflight_via_handoff = 0; ///< of those, routed to this node's handoff
  int64_t touched_at = 0;               ///< when activity was last reported to the lastseen shard
  double tokens = 0;
  int64_t tokens_at = 0;
  std::string close_reason; ///< why this server closed the connection ("": it did not)

  void init(caf::event_based_actor* s, const node_context* c, std::shared_ptr<net::ws_peer> p,
            std::string bearer, net::encoding header_encoding);
  void on_frame(const std::string& data, bool binary);
  void on_push(uint64_t seq, const std::string& item);
  /// Makes `handle` this session's inbox (monitored), if it is not already.
  void adopt_inbox(attached_inbox handle);
  void on_replaced();
  /// The session's token was revoked: `unauthorized` (`why`), then close 4001.
  void on_revoked(const std::string& why = "token revoked");
  /// The inbox tells this session its device and whether its sends are copied.
  void on_devices(uint32_t id, bool copy_sends);
  /// Too many devices online (close 4005), or this device was removed (close 4001).
  void on_device_limit();
  void on_device_removed();
  void on_inbox_down();
  void on_presence(const std::string& user, bool online, int64_t last_seen);
  /// The connection ended with `code` (net's on_close): counted and logged, then the actor quits.
  void on_closed(uint16_t code);
  void tick();
  void schedule_tick();

private:
  /// One method per client request, called with the parsed frame (`net/frames.hpp`).
  void handle(net::bad_request r);
  void handle(net::auth_missing r);
  void handle(net::auth_request r);
  void handle(net::ping_request r);
  void handle(net::send_request r);
  void handle(net::ack_request r);
  void handle(net::read_request r);
  void handle(net::state_request r);
  void handle(net::profile_get_request r);
  void handle(net::profile_set_request r);
  void handle(net::presence_get_request r);
  void handle(net::presence_sub_request r);
  void handle(net::list_get_request r);
  void handle(net::list_change_request r);

  void authenticate(const std::string& token, const net::reply_to& to);
  void attach();
  /// Sends a checked message to the directory; `sent` or the error goes back to the client.
  void deliver(deliver_request d, const net::reply_to& to);
  /// Reports user-initiated activity to the lastseen service (foreground sessions only).
  void touch();
  /// Replies `{"type":"ok"}` to a frame with an id whose type has no reply of its own.
  void ok(const net::reply_to& to);
  /// Sends a request whose error becomes an error frame; `on_value(to, results...)` builds the
  /// reply frame.
  template <class Handle, class... Ts, class F>
  void ask(const Handle& dest, const net::reply_to& to, F on_value, Ts&&... xs);
  bool take_token(int64_t now, int64_t* retry_ms);

  /// Where frames the server starts go: no id, the auth frame's encoding.
  net::reply_to unprompted() const { return {{}, enc}; }
  void send_frame(std::string frame, net::encoding frame_enc);
  /// The error answer to a request whose actor answered `err` (`retry_ms` if unavailable).
  void send_failure(const caf::error& err, const net::reply_to& to);
  void send_error(errc code, std::string_view message, const net::reply_to& to,
                  int64_t retry_ms = -1);
  void bad_request(std::string_view message, const net::reply_to& to);
  void close(uint16_t code, std::string reason);
};

/// Spawned by the gateway for each upgraded connection.
caf::behavior session_actor(caf::stateful_actor<session_state>* self, const node_context* ctx,
                            std::shared_ptr<net::ws_peer> peer, std::string bearer,
                            net::encoding header_encoding);

} // namespace tidings
