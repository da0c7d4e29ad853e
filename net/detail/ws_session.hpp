#pragma once
// One WebSocket connection (`GET /v1/ws`), from the handshake to the end, and `ws_peer_impl`,
// the application's handle on it.
// Concurrency: all I/O and state run on the connection's strand; send, close and frame_done
// may be called from any thread (they post to the strand, frame_done only when reads paused).
// Limits: frames over `frame_limit` end the connection with 1009 (Beast); at most
// `read_credits` frames are handed over ahead of frame_done, then reads pause; a write queue
// over `write_queue_frames` or `write_queue_bytes` is dropped and closed with 4004.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/detail/beast.hpp"
#include "net/detail/server_impl.hpp"
#include "net/server.hpp"
#include "net/tls_stream.hpp"

namespace tidings::net::detail {

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  /// Takes over the connection (plaintext or TLS) and its slot from the HTTP session, and the
  /// place it took in `srv.admission` (given back when welcomed or at the end).
  ws_session(maybe_tls_stream&& stream, server::impl& srv, connection_slot slot);
  ~ws_session();

  /// Answers the upgrade request `req` (its header already read), then reads frames.
  void run(http::request<http::string_body> req);
  /// Queues one frame. Any thread.
  void send(std::string frame, bool binary);
  /// Closes after the queued frames. Any thread.
  void close(uint16_t code, std::string reason);
  /// The application is done with one frame. Any thread; costs one atomic decrement, and only
  /// a paused connection is woken (through its strand).
  void frame_done();
  /// Ends the session after the I/O threads have stopped (no handler will run again).
  void abandon();
  /// The application welcomed the session: its admission place is free. Any thread.
  void admitted();

private:
  struct outgoing {
    std::string data;
    bool binary;
  };

  void on_accept(beast::error_code ec);
  /// Reads one message: its first bytes (a small read, what an idle connection waits with),
  /// then, if it is longer, the rest (on_read_start); on_read hands it over.
  void do_read();
  void on_read_start(beast::error_code ec, std::size_t n);
  void on_read(beast::error_code ec, std::size_t);
  void enqueue(std::string frame, bool binary);
  void do_write();
  void on_write(beast::error_code ec, std::size_t);
  void request_close(uint16_t code, std::string reason);
  void do_close();
  /// Tells the handler (once) and leaves the server's set of open connections.
  void finish();

  websocket::stream<maybe_tls_stream> ws_;
  server::impl& srv_;
  connection_slot slot_;
  /// The upgrade request, kept only until the handshake is answered.
  std::unique_ptr<http::request<http::string_body>> req_;
  /// The message being read: what an idle connection holds is the small first read's request
  /// (`first_read_bytes`); a longer message's buffer is released once it is handed over.
  beast::flat_buffer buffer_;
  std::unique_ptr<ws_handler> handler_;
  /// Frames waiting to be written. A list, not a deque: an empty std::deque still holds ≈ 600
  /// bytes (its map and first node), and most connections have nothing queued most of the time.
  std::list<outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  uint16_t close_code_ = 0; ///< with close_text_, what this side closes with
  std::string close_text_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool registered_ = false;
  std::atomic<std::size_t> unprocessed_{0}; ///< frames handed to the handler, not yet done
  std::atomic<bool> paused_{false};         ///< reading waits for frame_done
  std::atomic<bool> pending_{true};         ///< holds a place in srv_.admission
};

/// The application's handle on a connection; does not keep the connection alive.
class ws_peer_impl : public ws_peer {
public:
  explicit ws_peer_impl(std::weak_ptr<ws_session> s) : session_(std::move(s)) {}
  void send(std::string frame, bool binary) override;
  void close(uint16_t code, std::string reason) override;
  void frame_done() override;
  void admitted() override;

private:
  std::weak_ptr<ws_session> session_;
};

} // namespace tidings::net::detail
