#pragma once
// Where a Tidings node listens, as given on command lines ("http://HOST:PORT").
//
// "http" and "ws" name a plaintext port, "https" and "wss" a TLS one (a node with
// --net.tls-certificate, or a proxy terminating TLS); HTTP and WebSocket share the port. Parsing
// is strict: anything that is not scheme://HOST[:PORT][/] is rejected with
// std::invalid_argument.

#include <cstdint>
#include <string>
#include <string_view>

namespace tidings::client {

/// A node's address: a host name or IP literal (IPv6 without brackets) and a TCP port.
struct endpoint {
  std::string host;
  uint16_t port = 0;
  bool tls = false;    ///< speak TLS (https://, wss://) and verify the node's certificate
  std::string ca_file; ///< PEM CA certificate(s) to verify it with; empty: the system's CAs
};

/// Parses "http://HOST:PORT", "ws://HOST:PORT", "https://…" or "wss://…" (a trailing "/" is
/// allowed, the port defaults to 80 or 443, IPv6 literals go in brackets). Throws
/// std::invalid_argument on anything else.
endpoint parse_url(std::string_view url);

/// "HOST:PORT" as sent in a Host header ("[::1]:8080" for IPv6 literals).
std::string host_header(const endpoint& ep);

/// "http://HOST:PORT" ("https://…" with TLS), the form parse_url() accepts.
std::string to_url(const endpoint& ep);

} // namespace tidings::client
