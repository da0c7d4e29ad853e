#pragma once
// The accept loop of the one port. Each accepted connection gets its own strand and starts as
// an `http_session`, which reads request headers and hands a WebSocket upgrade of `/v1/ws` to a
// `ws_session` (any request of a keep-alive connection may be the upgrade).
// Concurrency: the acceptor runs on its own strand; close() may be called from any thread.
// Each completed asynchronous accept also takes up to `accept_batch` more connections waiting
// in the backlog (non-blocking), so accepting keeps pace while the I/O threads are busy.
// Limits: an accept error other than shutdown (out of descriptors, say) is logged and the loop
// goes on serving the connections it has.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <boost/asio/steady_timer.hpp>

#include "net/detail/beast.hpp"
#include "net/server.hpp"
#include "net/tls_stream.hpp"

namespace tidings::net::detail {

class listener {
public:
  /// `srv.ioc` must already exist; the listener lives as long as `srv`.
  explicit listener(server::impl& srv);
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// Opens, binds and listens on `ep`; returns the bound port. Throws if it cannot bind.
  uint16_t open(const tcp::endpoint& ep);
  /// Starts accepting (the first accept is queued on the acceptor's strand).
  void run();
  /// Stops accepting. Callable from any thread; idempotent.
  void close();

private:
  void do_accept();
  void on_accept(beast::error_code ec, strand_socket socket);
  /// Logs an accept error and accepts again after `error_pause`.
  void pause_after(beast::error_code ec);
  /// An accepted connection: admitted (an http_session) or refused (503 overloaded).
  void start(strand_socket socket);

  /// Connections taken from the backlog after each asynchronous accept, at most.
  static constexpr std::size_t accept_batch = 64;

  server::impl& srv_;
  tcp::acceptor acceptor_;
  /// After an accept error (out of descriptors, say): the next accept waits `error_pause`, so
  /// a full descriptor table is not a busy loop of failing accepts.
  asio::steady_timer pause_;
  static constexpr std::chrono::milliseconds error_pause{100};
};

} // namespace tidings::net::detail
