#include "client/detail/tls.hpp"

#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <openssl/ssl.h>

namespace tidings::client::detail {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> tls_context(const endpoint& ep) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression);
  boost::system::error_code ec;
  if (ep.ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(ep.ca_file, ec);
  if (ec)
    throw std::runtime_error("cannot load the CA file '" + ep.ca_file + "': " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

void start_tls(net::maybe_tls_stream& stream, ssl::context& ctx, const endpoint& ep) {
  stream.start_tls(ctx);
  auto& tls = stream.tls_stream();
  boost::system::error_code ec;
  boost::asio::ip::make_address(ep.host, ec);
  if (ec) // a host name, not an address: tell the server which one (SNI)
    SSL_set_tlsext_host_name(tls.native_handle(), ep.host.c_str());
  tls.set_verify_callback(ssl::host_name_verification(ep.host));
}

} // namespace tidings::client::detail
