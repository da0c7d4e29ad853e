#pragma once
// Blocking WebSocket client for one Tidings session (GET /v1/ws), for tools and tests.
//
// A ws_client owns one connection and a private io_context. Every public call runs that context
// on the calling thread until its own condition holds or its deadline passes; no thread is
// started and nothing happens between calls. While connected, exactly one read is pending:
// frames that arrive during send(), request() or close() are decoded and queued, and receive()
// hands them out in arrival order, so pushed inbox items are never lost. Beast answers the
// server's WebSocket pings whenever the context runs.
//
// Each frame is decoded by its own opcode (text = JSON, binary = MessagePack); the constructor's
// encoding only chooses how this client sends. Messages up to max_message_bytes are accepted.
//
// A close started by the server ends the pending read with websocket::error::closed; its code is
// kept for close_code() (1005 if the close frame carried none). A connection that drops without a
// close handshake reports 1006. After either, receive() returns what is still queued, then
// nullopt, and closed() is true.
//
// Not thread-safe: use one ws_client from one thread at a time. Movable, not copyable.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "client/endpoint.hpp"
#include "net/codec.hpp"

namespace tidings::client {

using json = net::json;
using namespace std::chrono_literals;

/// Largest WebSocket message the client accepts from the server.
constexpr std::size_t max_message_bytes = 16u << 20;

/// Close code reported when the connection ended without a close frame.
constexpr uint16_t close_abnormal = 1006;

class ws_client {
public:
  /// A client for the node at `ep` that sends frames in `enc`. Does not connect yet.
  explicit ws_client(endpoint ep, net::encoding enc = net::encoding::json);
  ~ws_client();
  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Connects and performs the WebSocket handshake for GET /v1/ws. A non-empty `bearer_token`
  /// is sent as "Authorization: Bearer TOKEN" on the upgrade request. Throws
  /// std::runtime_error on failure (including the HTTP status if the upgrade was refused) or
  /// when `timeout` passes. May be called only once per ws_client.
  void connect(std::string bearer_token = {}, std::chrono::milliseconds timeout = 10s);

  /// Encodes `frame` in this client's encoding and sends it (text frame for JSON, binary for
  /// MessagePack). Throws std::runtime_error if the connection is closed or the write fails.
  void send(const json& frame);

  /// Sends `bytes` unchanged as one binary or text message (for malformed-input tests).
  void send_raw(std::string bytes, bool binary);

  /// Returns the next frame, waiting at most `timeout`; nullopt on timeout or once the
  /// connection is closed and the queue is empty. Throws std::runtime_error if the server sent
  /// a frame that does not decode.
  std::optional<json> receive(std::chrono::milliseconds timeout);

  /// Sends {"type":"auth","token":T,"foreground":F} and returns the next frame (normally
  /// `welcome` or an `error`). Throws std::runtime_error if none arrives within `timeout`.
  json auth(const std::string& token, bool foreground = true,
            std::chrono::milliseconds timeout = 10s);

  /// Sets a fresh integer "id" on `frame`, sends it and returns the first frame carrying that
  /// id (a reply or an error). Other frames arriving meanwhile stay queued for receive().
  /// Throws std::runtime_error on timeout or if the connection closes first.
  json request(json frame, std::chrono::milliseconds timeout = 10s);

  /// Starts the close handshake with `code` and waits (bounded) for it to finish; afterwards
  /// closed() is true. Does nothing if already closed or never connected.
  void close(uint16_t code = 1000);

  /// Closes the TCP connection without a close handshake (the server sees an abnormal end,
  /// as when a phone loses its network). The destructor does the same for an open client.
  void drop();

  /// True once the connection has ended (closed by either side or dropped).
  bool closed() const;

  /// The close code the server sent (or echoed after close()); close_abnormal if the
  /// connection dropped; 0 while open.
  uint16_t close_code() const;

  /// The close reason text the server sent, if any.
  std::string close_reason() const;

  /// Frames received but not yet returned by receive().
  std::size_t queued() const;

  /// The socket's file descriptor while the connection is open (-1 otherwise), for waiting on
  /// it with poll() beside other input. Bytes may already sit in the client's buffers: call
  /// receive(0ms) until it returns nullopt before waiting, and again once the descriptor is
  /// readable. Never read from or write to it directly.
  int native_handle();

  /// The node this client talks to.
  const endpoint& remote() const;

  /// The encoding send() uses.
  net::encoding encoding() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tidings::client
