#pragma once
// The Beast front: one TCP port serving HTTP/1.1 and WebSocket (`GET /v1/ws`).
//
// A thin I/O shim. It owns sockets, parsing, timeouts and bounded write queues, and hands
// everything else to an `application` through plain callbacks: it knows nothing of actors,
// storage or the meaning of frames.
// Concurrency: Beast runs on its own thread pool; each connection runs on its own strand.
// `ws_peer` and the `http_reply` callback may be called from any thread: they post onto
// the connection's strand. `application` callbacks run on Beast threads and must not block.
// Limits: connections in total and per source address (past them: 503 `overloaded`, closed);
// a request header must arrive within `header_timeout`; frames over `frame_limit` close the
// connection with 1009 (Beast does it); a
// peer whose write queue exceeds `write_queue_frames` or `write_queue_bytes` is a slow
// consumer and is closed with 4004 (its unacknowledged inbox items are pushed again later).
// HTTP bodies are buffered up to `http_body_limit`, unless the application streams them into a
// `body_sink` (uploads); a response may stream a byte range of a file (downloads). Either way
// a connection holds at most one chunk (`stream_chunk` bytes) of the body in memory.
// A request refused before its body was read gets its answer, then the rest of the body is
// read and discarded (for at most `http_timeout`) before the connection closes, so a client
// that writes its whole body before reading still sees the answer instead of a reset.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidings::net {

struct http_request {
  std::string method;
  std::string target; ///< path and query as sent
  std::string bearer; ///< the token of an `Authorization: Bearer` header, or empty
  std::string remote; ///< the peer's IP address (the TCP connection's, not a forwarded one)
  std::string content_type;
  std::string body;
  std::string range;                      ///< the Range header, or empty
  std::string if_none_match;              ///< the If-None-Match header, or empty
  std::optional<uint64_t> content_length; ///< declared body size (none if chunked or absent)
};

/// A byte range of a file, sent as a response body straight from disk.
struct file_range {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// If set, the body is this range of a file, read in chunks while it is sent (`body` is
  /// ignored). If the file cannot be opened or is shorter, the answer is 404 not_found.
  std::optional<file_range> file = std::nullopt;
};

/// `{"error":CODE,"message":TEXT}` with `status`: the protocol's HTTP error body.
http_response error_response(unsigned status, std::string_view code, std::string_view message);

/// `503 {"error":"overloaded","message":TEXT,"retry_ms":N}` with `Retry-After` (N in whole
/// seconds, rounded up): the answer to a request refused for load.
http_response overloaded_response(std::string_view message, int64_t retry_ms);

/// Completes one HTTP request. Call exactly once, from any thread.
using http_reply = std::function<void(http_response)>;

/// Receives one request body in chunks as they arrive, instead of it being buffered (uploads).
/// Its calls run one at a time on the connection's strand (a Beast thread), so each must be
/// short. Destroyed without finish() when the request does not complete (connection lost,
/// timeout, malformed body, server shutdown): it must then discard what it received.
class body_sink {
public:
  virtual ~body_sink() = default;
  /// The next bytes of the body. Returning a response ends the request with it at once (the
  /// rest of the body is discarded and the connection closes); the sink is then destroyed.
  virtual std::optional<http_response> write(const char* data, std::size_t size) = 0;
  /// The whole body has arrived. Call `reply` exactly once, from any thread.
  virtual void finish(http_reply reply) = 0;
};

/// How to read the body of a request whose header has arrived: stream it into `sink`, answer
/// at once with `refusal` without reading it, or (neither set) buffer it for handle_http.
struct body_route {
  std::unique_ptr<body_sink> sink;
  std::optional<http_response> refusal;
};

/// Hands over a body_route decided asynchronously. Call exactly once, from any thread.
using body_decision = std::function<void(body_route)>;

/// One WebSocket connection, as the application sees it. Thread-safe.
class ws_peer {
public:
  virtual ~ws_peer() = default;
  /// Queues one frame (binary = msgpack, text = JSON).
  virtual void send(std::string frame, bool binary) = 0;
  /// Sends a close frame after the queued frames; the connection then ends.
  virtual void close(uint16_t code, std::string reason) = 0;
  /// The application has finished with one frame it was given (`ws_handler::on_frame`). The
  /// connection reads at most `read_credits` frames ahead of these calls, then pauses
  /// reading (TCP backpressure reaches the client) until the application catches up.
  virtual void frame_done() = 0;
  /// The session is logged in (welcomed): it no longer counts against `max_pending_auth`.
  /// Idempotent; the end of the connection frees its place anyway.
  virtual void admitted() {}
};

/// The application's end of one WebSocket connection.
class ws_handler {
public:
  virtual ~ws_handler() = default;
  virtual void on_frame(std::string data, bool binary) = 0;
  /// Called exactly once when the connection has ended, whoever ended it. `code`: the close
  /// code this server sent (the application's, 4004 for a slow consumer, 1001 at shutdown),
  /// else the client's, else 1006 (the connection was lost without a close frame).
  virtual void on_close(uint16_t code) = 0;
};

class application {
public:
  virtual ~application() = default;
  /// A WebSocket upgrade succeeded; `bearer` is the token of its Authorization header,
  /// `target` the request target (path and query).
  virtual std::unique_ptr<ws_handler> open_ws(std::shared_ptr<ws_peer> peer, std::string bearer,
                                              std::string target) = 0;
  /// Answers a request whose body (at most `http_body_limit` bytes) was read into memory.
  /// For HEAD, net sends only the header of the response (with its Content-Length).
  virtual void handle_http(http_request request, http_reply reply) = 0;
  /// Decides, from the header of a request (`body` still empty), how its body is read. Runs on
  /// a Beast thread; must not block. The default buffers every body.
  virtual body_route route_body(const http_request& head) {
    (void)head;
    return {};
  }
  /// The same decision, given later: call `decide` exactly once, from any thread (nothing of
  /// the connection is read meanwhile). For decisions that need an answer from elsewhere (a
  /// token kept by another node). Runs on a Beast thread; the default calls route_body().
  virtual void route_body_async(const http_request& head, body_decision decide) {
    decide(route_body(head));
  }
};

struct server_options {
  std::string bind = "0.0.0.0";
  uint16_t port = 8080; ///< 0 picks a free port
  std::size_t threads = 2;
  std::size_t frame_limit = 128 * 1024;
  std::size_t http_body_limit = 64 * 1024;
  std::size_t stream_chunk = 64 * 1024; ///< bytes per read or write of a streamed body
  std::size_t read_credits = 16;        ///< frames handed over but not yet done, before reads pause
  std::atomic<uint64_t>* reads_paused = nullptr; ///< if set: counts pauses for want of credits
  std::size_t write_queue_frames = 1024;
  std::size_t write_queue_bytes = 8 * 1024 * 1024;
  std::chrono::seconds http_timeout{30};
  /// A request's whole header (and, with TLS, the handshake before it) must arrive within
  /// this, however slowly it trickles; an idle keep-alive connection waits this long at most.
  std::chrono::milliseconds header_timeout{10'000};
  /// Open TCP connections (HTTP and WebSocket) at once, in total and per source address; a
  /// connection past either gets `503 overloaded` (with a jittered `Retry-After`/`retry_ms`;
  /// over TLS: closed at once) and is closed. 0: no limit.
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_address = 0;
  std::atomic<uint64_t>* connections_refused = nullptr; ///< if set: counts refused connections
  /// WebSocket sessions at once between their upgrade request and their welcome
  /// (ws_peer::admitted) or end; an upgrade past it gets `503 overloaded` with a `retry_ms`
  /// spreading the refused clients over the time the node needs for them
  /// (net/detail/admission.hpp) and is closed. Plain HTTP requests are not counted. 0: no limit.
  std::size_t max_pending_auth = 8192;
  std::atomic<int64_t>* pending_auth = nullptr;      ///< if set: holds the pending count (gauge)
  std::atomic<uint64_t>* upgrades_refused = nullptr; ///< if set: counts upgrades refused past it
  /// With both set, every connection speaks TLS (`https://`, `wss://`): PEM certificate chain
  /// and private key (encrypted with `tls_passphrase`, if set). start() throws if they do not
  /// load.
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_passphrase;
};

class server {
public:
  server(server_options opts, application& app);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the I/O threads; returns the bound port. Throws if it cannot bind.
  uint16_t start();
  /// Stops accepting, closes every WebSocket with 1001, waits up to `grace` for the
  /// closes to go out, then stops the I/O threads. Idempotent.
  void shutdown(std::chrono::milliseconds grace);
  /// Number of open WebSocket connections.
  std::size_t connections() const;
  /// Number of open TCP connections (HTTP and WebSocket), as counted against max_connections.
  std::size_t open_connections() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tidings::net
