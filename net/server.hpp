#pragma once
// The Beast front: one TCP port serving HTTP/1.1 and WebSocket (`GET /v1/ws`).
//
// A thin I/O shim. It owns sockets, parsing, timeouts and bounded write queues, and hands
// everything else to an `application` through plain callbacks: it knows nothing of actors,
// storage or the meaning of frames.
// Concurrency: Beast runs on its own thread pool; each connection runs on its own strand.
// `ws_peer` and the `http_reply` callback may be called from any thread: they post onto
// the connection's strand. `application` callbacks run on Beast threads and must not block.
// Limits: frames over `frame_limit` close the connection with 1009 (Beast does it); a
// peer whose write queue exceeds `write_queue_frames` or `write_queue_bytes` is a slow
// consumer and is closed with 4004 (its unacknowledged inbox items are pushed again later).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tidings::net {

struct http_request {
  std::string method;
  std::string target; ///< path and query as sent
  std::string bearer; ///< the token of an `Authorization: Bearer` header, or empty
  std::string content_type;
  std::string body;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Completes one HTTP request. Call exactly once, from any thread.
using http_reply = std::function<void(http_response)>;

/// One WebSocket connection, as the application sees it. Thread-safe.
class ws_peer {
public:
  virtual ~ws_peer() = default;
  /// Queues one frame (binary = msgpack, text = JSON).
  virtual void send(std::string frame, bool binary) = 0;
  /// Sends a close frame after the queued frames; the connection then ends.
  virtual void close(uint16_t code, std::string reason) = 0;
};

/// The application's end of one WebSocket connection.
class ws_handler {
public:
  virtual ~ws_handler() = default;
  virtual void on_frame(std::string data, bool binary) = 0;
  /// Called exactly once when the connection has ended, whoever ended it.
  virtual void on_close() = 0;
};

class application {
public:
  virtual ~application() = default;
  /// A WebSocket upgrade succeeded; `bearer` is the token of its Authorization header,
  /// `target` the request target (path and query).
  virtual std::unique_ptr<ws_handler> open_ws(std::shared_ptr<ws_peer> peer, std::string bearer,
                                              std::string target) = 0;
  virtual void handle_http(http_request request, http_reply reply) = 0;
};

struct server_options {
  std::string bind = "0.0.0.0";
  uint16_t port = 8080; ///< 0 picks a free port
  std::size_t threads = 2;
  std::size_t frame_limit = 128 * 1024;
  std::size_t http_body_limit = 64 * 1024;
  std::size_t write_queue_frames = 1024;
  std::size_t write_queue_bytes = 8 * 1024 * 1024;
  std::chrono::seconds http_timeout{30};
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

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tidings::net
