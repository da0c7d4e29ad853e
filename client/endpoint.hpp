#pragma once
// Where a Tidings node listens, as given on command lines ("http://HOST:PORT").
//
// Only plain-text transports exist in protocol version 1, so "http" and "ws" are the accepted
// schemes and both name the same port (HTTP and WebSocket share it). Parsing is strict: anything
// that is not scheme://HOST[:PORT][/] is rejected with std::invalid_argument.

#include <cstdint>
#include <string>
#include <string_view>

namespace tidings::client {

/// A node's address: a host name or IP literal (IPv6 without brackets) and a TCP port.
struct endpoint {
  std::string host;
  uint16_t port = 0;
};

/// Parses "http://HOST:PORT" or "ws://HOST:PORT" (a trailing "/" is allowed, the port defaults
/// to 80, IPv6 literals go in brackets). Throws std::invalid_argument on anything else.
endpoint parse_url(std::string_view url);

/// "HOST:PORT" as sent in a Host header ("[::1]:8080" for IPv6 literals).
std::string host_header(const endpoint& ep);

/// "http://HOST:PORT", the form parse_url() accepts.
std::string to_url(const endpoint& ep);

} // namespace tidings::client
