// The server: start (bind, I/O threads), shutdown (close every WebSocket with 1001 within a
// grace period, then stop) and the set of open connections. The connections themselves live
// in net/detail/: listener, http_session, ws_session.

#include "net/server.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <openssl/ssl.h>

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

namespace detail {

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    release();
    srv_ = std::exchange(other.srv_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

void connection_slot::release() {
  if (auto* srv = std::exchange(srv_, nullptr))
    srv->release(address_);
}

} // namespace detail

std::optional<detail::connection_slot> server::impl::admit(const std::string& address) {
  std::lock_guard<std::mutex> guard{conn_mtx};
  auto& mine = per_address[address];
  if ((opts.max_connections != 0 && open >= opts.max_connections) ||
      (opts.max_connections_per_address != 0 && mine >= opts.max_connections_per_address)) {
    if (mine == 0)
      per_address.erase(address);
    if (opts.connections_refused != nullptr)
      opts.connections_refused->fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  ++open;
  ++mine;
  return detail::connection_slot{this, address};
}

void server::impl::release(const std::string& address) {
  std::lock_guard<std::mutex> guard{conn_mtx};
  --open;
  if (auto it = per_address.find(address); it != per_address.end() && --it->second == 0)
    per_address.erase(it);
}

void server::impl::load_tls() {
  namespace ssl = asio::ssl;
  if (opts.tls_certificate.empty() && opts.tls_key.empty())
    return;
  if (opts.tls_certificate.empty() || opts.tls_key.empty())
    throw std::runtime_error("TLS needs both net.tls-certificate and net.tls-key");
  tls.emplace(ssl::context::tls_server);
  // TLS 1.2 and 1.3 only, no renegotiation, no compression.
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_options(tls->native_handle(), SSL_OP_NO_RENEGOTIATION);
  tls->set_password_callback(
      [pass = opts.tls_passphrase](std::size_t, ssl::context::password_purpose) { return pass; });
  boost::system::error_code ec;
  tls->use_certificate_chain_file(opts.tls_certificate, ec);
  if (ec)
    throw std::runtime_error("net.tls-certificate: " + opts.tls_certificate +
                             " holds no PEM certificate: " + ec.message());
  tls->use_private_key_file(opts.tls_key, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("net.tls-key: " + opts.tls_key +
                             " holds no PEM private key matching net.tls-certificate (or "
                             "net.tls-passphrase does not open it): " +
                             ec.message());
  if (SSL_CTX_check_private_key(tls->native_handle()) != 1)
    throw std::runtime_error("net.tls-key: " + opts.tls_key + " is not the key of " +
                             opts.tls_certificate);
}

server::server(server_options opts, application& app)
    : impl_(std::make_unique<impl>(std::move(opts), app)) {}

server::~server() {
  shutdown(std::chrono::milliseconds{0});
}

uint16_t server::start() {
  impl_->load_tls();
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

std::size_t server::open_connections() const {
  std::lock_guard<std::mutex> guard{impl_->conn_mtx};
  return impl_->open;
}

} // namespace tidings::net
