// The server: start (bind, I/O threads), shutdown (close every WebSocket with 1001 within a
// grace period, then stop) and the set of open connections. The connections themselves live
// in net/detail/: listener, http_session, ws_session.

#include "net/server.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/detail/server_impl.hpp"
#include "net/detail/ws_session.hpp"

namespace tidings::net {

namespace asio = detail::asio;
namespace websocket = detail::websocket;
using detail::tcp;
using detail::ws_session;

void server::impl::add(const std::shared_ptr<ws_session>& s) {
  std::lock_guard<std::mutex> guard{mtx};
  sessions.insert(s);
}

void server::impl::remove(const std::shared_ptr<ws_session>& s) {
  std::lock_guard<std::mutex> guard{mtx};
  sessions.erase(s);
  cv.notify_all();
}

server::server(server_options opts, application& app)
    : impl_(std::make_unique<impl>(std::move(opts), app)) {}

server::~server() {
  shutdown(std::chrono::milliseconds{0});
}

uint16_t server::start() {
  uint16_t port = 0;
  try {
    auto address = asio::ip::make_address(impl_->opts.bind);
    port = impl_->listener.open(tcp::endpoint{address, impl_->opts.port});
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + impl_->opts.bind + ":" +
                             std::to_string(impl_->opts.port) +
                             " (--bind, --port): " + e.code().message());
  }
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->listener.run();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->opts.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return port;
}

void server::shutdown(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<ws_session>> open;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopping && impl_->threads.empty())
      return;
    impl_->stopping = true;
    open.assign(impl_->sessions.begin(), impl_->sessions.end());
  }
  impl_->listener.close();
  for (auto& s : open)
    s->close(static_cast<uint16_t>(websocket::close_code::going_away), "shutting down");
  open.clear();
  {
    std::unique_lock<std::mutex> lock{impl_->mtx};
    impl_->cv.wait_for(lock, grace, [this] { return impl_->sessions.empty(); });
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
  // Connections still open after the grace period end here; their handlers learn of it.
  std::set<std::shared_ptr<ws_session>> rest;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    rest = impl_->sessions;
  }
  for (auto& s : rest)
    s->abandon();
}

std::size_t server::connections() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->sessions.size();
}

} // namespace tidings::net
