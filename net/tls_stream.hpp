#pragma once
// maybe_tls_stream: one TCP connection that speaks plaintext, or TLS once start_tls() was
// called (OpenSSL through Asio's ssl::stream), behind the one AsyncStream interface Beast's HTTP
// and WebSocket code reads and writes. The server's connections and the blocking clients use
// it, so the same code serves `http://`/`ws://` and `https://`/`wss://`.
//
// The TCP layer is a `beast::basic_stream` (its expiry gives every operation a deadline, TLS
// records included) on a concrete strand executor, not `beast::tcp_stream`'s type-erased
// `any_io_executor`: wrapping a strand in it allocates on every copy Beast makes per operation
// (≈ 60 allocations per delivered message in the node, docs/BENCHMARKS.md), kept at a stable
// address, so the TLS layer's reference to it survives a move of the whole stream (an HTTP
// connection handing itself over to a WebSocket session). `next_layer()` is the tcp_stream:
// `beast::get_lowest_layer` reaches it through a WebSocket stream, for timeouts and closing the
// socket. Not thread-safe (like any Asio stream).

#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace tidings::net {

/// The executor of every connection: a strand of the I/O context.
using strand_executor = boost::asio::strand<boost::asio::io_context::executor_type>;
/// A TCP socket on its connection's strand (what the listener accepts).
using strand_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, strand_executor>;

class maybe_tls_stream {
public:
  using tcp_layer = boost::beast::basic_stream<boost::asio::ip::tcp, strand_executor>;
  using tls_layer = boost::asio::ssl::stream<tcp_layer&>;
  using executor_type = tcp_layer::executor_type;

  /// Constructs the TCP layer from `arg`: a connected socket, an io_context or an executor.
  template <class Arg,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<Arg>, maybe_tls_stream>>>
  explicit maybe_tls_stream(Arg&& arg)
      : tcp_(std::make_unique<tcp_layer>(std::forward<Arg>(arg))) {}
  maybe_tls_stream(maybe_tls_stream&&) = default;
  maybe_tls_stream& operator=(maybe_tls_stream&&) = default;

  executor_type get_executor() noexcept { return tcp_->get_executor(); }
  tcp_layer& next_layer() noexcept { return *tcp_; }
  strand_socket& socket() noexcept { return tcp_->socket(); }

  /// From now on reads and writes go through TLS (the handshake is the caller's next step).
  void start_tls(boost::asio::ssl::context& ctx) { tls_ = std::make_unique<tls_layer>(*tcp_, ctx); }
  bool tls() const noexcept { return tls_ != nullptr; }
  tls_layer& tls_stream() noexcept { return *tls_; }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_)
      return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    return tcp_->async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_)
      return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    return tcp_->async_write_some(buffers, std::forward<Handler>(handler));
  }

private:
  std::unique_ptr<tcp_layer> tcp_;
  std::unique_ptr<tls_layer> tls_;
};

/// WebSocket close handshakes end the transport: TLS close_notify, or the TCP shutdown.
template <class Handler>
void async_teardown(boost::beast::role_type role, maybe_tls_stream& s, Handler&& handler) {
  if (s.tls())
    boost::beast::async_teardown(role, s.tls_stream(), std::forward<Handler>(handler));
  else
    boost::beast::async_teardown(role, s.next_layer(), std::forward<Handler>(handler));
}

inline void teardown(boost::beast::role_type role, maybe_tls_stream& s,
                     boost::beast::error_code& ec) {
  if (s.tls())
    boost::beast::teardown(role, s.tls_stream(), ec);
  else
    boost::beast::teardown(role, s.next_layer(), ec);
}

} // namespace tidings::net
