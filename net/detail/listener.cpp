#include "net/detail/listener.hpp"

#include <memory>
#include <random>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "net/detail/http_session.hpp"
#include "net/detail/log_failure.hpp"
#include "net/detail/server_impl.hpp"

namespace tidings::net::detail {

listener::listener(server::impl& srv)
    : srv_(srv), acceptor_(asio::make_strand(srv.ioc)), pause_(acceptor_.get_executor()) {}

uint16_t listener::open(const tcp::endpoint& ep) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint().port();
}

void listener::run() {
  do_accept();
}

void listener::close() {
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    pause_.cancel();
  });
}

void listener::do_accept() {
  acceptor_.async_accept(
      asio::make_strand(srv_.ioc),
      [this](beast::error_code ec, strand_socket socket) { on_accept(ec, std::move(socket)); });
}

namespace {

/// A connection past the limits: answered `503 overloaded` at once (plaintext only: a TLS
/// handshake is not worth its CPU then), its request read and dropped for a moment so the
/// client sees the answer rather than a reset, then closed. Bounded: 2 s, 4 KiB buffer.
class refused_connection : public std::enable_shared_from_this<refused_connection> {
public:
  explicit refused_connection(strand_socket&& socket) : stream_(std::move(socket)) {}

  void run() {
    thread_local std::minstd_rand rng{std::random_device{}()};
    auto res = overloaded_response("too many connections, retry",
                                   1000 + static_cast<int64_t>(rng() % 1000));
    answer_ =
        "HTTP/1.1 503 Service Unavailable\r\nServer: tidings\r\nContent-Type: " + res.content_type;
    for (const auto& [name, value] : res.headers)
      answer_ += "\r\n" + name + ": " + value;
    answer_ += "\r\nConnection: close\r\nContent-Length: " + std::to_string(res.body.size()) +
               "\r\n\r\n" + res.body;
    stream_.expires_after(std::chrono::seconds(2));
    asio::async_write(stream_, asio::buffer(answer_),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec)
                          return;
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->drain();
                      });
  }

private:
  void drain() {
    stream_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec)
                                self->drain();
                            });
  }

  maybe_tls_stream::tcp_layer stream_;
  std::string answer_;
  char buffer_[4096];
};

} // namespace

void listener::start(strand_socket socket) {
  beast::error_code ignored;
  auto address = socket.remote_endpoint(ignored).address().to_string();
  if (auto slot = srv_.admit(address)) {
    // Frames go out as soon as they are written: with Nagle, a frame written while the
    // previous one is unacknowledged waits for the peer's delayed ACK (≈ 40 ms on Linux).
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<http_session>(std::move(socket), srv_, std::move(*slot))->run();
  } else if (srv_.tls)
    socket.close(ignored);
  else
    std::make_shared<refused_connection>(std::move(socket))->run();
}

void listener::on_accept(beast::error_code ec, strand_socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    return pause_after(ec);
  }
  start(std::move(socket));
  // More connections waiting in the backlog are taken now, a batch at a time: each
  // asynchronous accept completes behind everything already queued on the I/O threads, so
  // under a reconnect storm (thousands of reads and closes queued) one per pass would let
  // the backlog fill and clients time out. The acceptor is non-blocking: an empty backlog
  // answers would_block at once.
  beast::error_code more;
  acceptor_.non_blocking(true, more);
  for (std::size_t i = 0; !more && i < accept_batch; ++i) {
    auto next = acceptor_.accept(asio::make_strand(srv_.ioc), more);
    if (!more)
      start(std::move(next));
  }
  if (more && more != asio::error::would_block && more != asio::error::try_again)
    return pause_after(more);
  do_accept();
}

void listener::pause_after(beast::error_code ec) {
  // Out of descriptors or similar: keep serving the connections we have, and try again in a
  // moment (the connection waiting in the backlog stays there; retrying at once would fail the
  // same way, as fast as the CPU allows).
  log_failure(ec, "accept");
  pause_.expires_after(error_pause);
  pause_.async_wait([this](beast::error_code waited) {
    if (!waited && acceptor_.is_open())
      do_accept();
  });
}

} // namespace tidings::net::detail
