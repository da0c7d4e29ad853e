#pragma once
// network: the I/O side of a bot run. One io_context on a small thread pool, and the node's
// address resolved once; every bot's WebSocket connection (GET /v1/ws, or the XMPP server's
// endpoint) runs on it.
//
// A thin shim in the shape of net/server.cpp's sessions, client side: a connection owns its
// socket, its read loop and a bounded write queue, and reports to a `connection_events`
// object through plain callbacks. It knows nothing of actors or of the meaning of frames.
// Concurrency: each connection runs on its own strand; `ws_connection` methods may be called
// from any thread (they post onto the strand). Callbacks run on an I/O thread, one at a time
// per connection, and must not block.
// Lifetime: a connection lives while I/O is pending or someone holds it. `on_closed` is called
// exactly once, whoever ends the connection, unless the network is stopped first: stop()
// abandons whatever is still open without further callbacks.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/endpoint.hpp"

namespace tidings::bots {

/// Close code reported when a connection ended without a close frame (or never opened).
constexpr uint16_t close_abnormal = 1006;

/// What one connection reports. Called on the connection's strand.
class connection_events {
public:
  virtual ~connection_events() = default;
  /// The WebSocket handshake succeeded.
  virtual void on_open() = 0;
  /// One message; `arrival_ns` is the run clock when the read completed.
  virtual void on_frame(std::string data, bool binary, int64_t arrival_ns) = 0;
  /// The connection has ended (or failed to open: `opened` false). `code` is the peer's close
  /// code, close_abnormal if there was none; `reason` the close reason or the error text.
  virtual void on_closed(uint16_t code, std::string reason, bool opened) = 0;
  /// The node answered the upgrade with an HTTP error carrying the protocol's error body
  /// (`503 {"error":"overloaded","retry_ms":N}`): its code and retry_ms (-1 if none). Called
  /// just before on_closed (`opened` false).
  virtual void on_refused(std::string code, int64_t retry_ms) {
    (void)code;
    (void)retry_ms;
  }
};

/// One client WebSocket connection. Thread-safe.
class ws_connection {
public:
  virtual ~ws_connection() = default;
  /// Queues one frame (binary = msgpack, text = JSON). Ignored once closing.
  virtual void send(std::string frame, bool binary) = 0;
  /// Sends a close frame after the queued frames; the connection then ends.
  virtual void close(uint16_t code) = 0;
  /// Breaks the TCP connection at once, without a close handshake (a phone losing its network).
  virtual void drop() = 0;
};

struct network_options {
  std::size_t threads = 2;
  std::chrono::milliseconds connect_timeout{10'000};
  std::size_t write_queue_frames = 4096; ///< a bot that queues more is closed (1008)
  std::size_t max_message_bytes = 16u << 20;
  std::string target = "/v1/ws"; ///< the WebSocket endpoint's path
  std::string subprotocol;       ///< sent as Sec-WebSocket-Protocol unless empty
  /// Local addresses the connections are bound to, in turn (empty: the system chooses). Many
  /// loopback sources (127.0.0.2, 127.0.0.3, ...) spread the connections over more ports.
  std::vector<std::string> sources;
};

class network {
public:
  /// Resolves `node` and parses `opts.sources` (throws std::runtime_error if it cannot) and
  /// starts the I/O threads.
  /// `now_ns` is the run clock used to stamp arriving frames.
  network(const client::endpoint& node, network_options opts, int64_t (*now_ns)());
  ~network();
  network(const network&) = delete;
  network& operator=(const network&) = delete;

  /// Starts connecting; the outcome arrives at `events`.
  std::shared_ptr<ws_connection> open(std::unique_ptr<connection_events> events);

  /// Stops the I/O threads and destroys every pending handler (and its events object).
  /// Idempotent; called by the destructor.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tidings::bots
