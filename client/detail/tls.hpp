#pragma once
// TLS for the blocking clients (`https://`, `wss://`): a client context that verifies the
// node's certificate against the endpoint's CA file (or the system's CAs), and the set-up of
// one connection (SNI, host name check). Internal to client/ and bots/.

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "client/endpoint.hpp"
#include "net/tls_stream.hpp"

namespace tidings::client::detail {

/// A TLS 1.2+ client context that requires a certificate chain ending in `ep.ca_file`'s CAs
/// (the system's default CAs if `ep.ca_file` is empty). Throws std::runtime_error if the CA
/// file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> tls_context(const endpoint& ep);

/// Switches `stream` (connected) to TLS for `ep.host`: SNI for host names, and the
/// certificate must name the host (DNS name or IP address). The handshake is the caller's.
void start_tls(net::maybe_tls_stream& stream, boost::asio::ssl::context& ctx, const endpoint& ep);

} // namespace tidings::client::detail
