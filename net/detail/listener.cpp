#include "net/detail/listener.hpp"

#include <memory>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "net/detail/http_session.hpp"
#include "net/detail/log_failure.hpp"
#include "net/detail/server_impl.hpp"

namespace tidings::net::detail {

listener::listener(server::impl& srv) : srv_(srv), acceptor_(asio::make_strand(srv.ioc)) {}

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
  });
}

void listener::do_accept() {
  acceptor_.async_accept(
      asio::make_strand(srv_.ioc),
      [this](beast::error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    // Out of descriptors or similar: keep serving the connections we have.
    log_failure(ec, "accept");
  } else {
    std::make_shared<http_session>(std::move(socket), srv_)->run();
  }
  do_accept();
}

} // namespace tidings::net::detail
