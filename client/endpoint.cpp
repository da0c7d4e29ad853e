#include "client/endpoint.hpp"

#include <stdexcept>

namespace tidings::client {

namespace {

[[noreturn]] void bad_url(std::string_view url, std::string_view why) {
  throw std::invalid_argument("invalid URL '" + std::string{url} + "': " + std::string{why} +
                              " (expected http://HOST:PORT)");
}

uint16_t parse_port(std::string_view url, std::string_view text) {
  if (text.empty() || text.size() > 5)
    bad_url(url, "bad port");
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      bad_url(url, "bad port");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535)
    bad_url(url, "port out of range");
  return static_cast<uint16_t>(value);
}

} // namespace

endpoint parse_url(std::string_view url) {
  auto rest = url;
  bool tls = false;
  if (auto pos = rest.find("://"); pos != std::string_view::npos) {
    auto scheme = rest.substr(0, pos);
    tls = scheme == "https" || scheme == "wss";
    if (scheme != "http" && scheme != "ws" && !tls)
      bad_url(url, "unknown scheme");
    rest.remove_prefix(pos + 3);
  } else {
    bad_url(url, "missing scheme");
  }
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    bad_url(url, "paths, queries and credentials are not allowed");
  endpoint ep;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      bad_url(url, "unterminated IPv6 literal");
    ep.host = std::string{rest.substr(1, close - 1)};
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        bad_url(url, "junk after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty())
        bad_url(url, "bad port");
    }
  } else {
    auto colon = rest.find(':');
    ep.host = std::string{rest.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty())
        bad_url(url, "bad port");
    }
  }
  if (ep.host.empty())
    bad_url(url, "missing host");
  ep.tls = tls;
  ep.port = port_text.empty() ? static_cast<uint16_t>(tls ? 443 : 80) : parse_port(url, port_text);
  return ep;
}

std::string host_header(const endpoint& ep) {
  auto port = std::to_string(ep.port);
  if (ep.host.find(':') != std::string::npos)
    return "[" + ep.host + "]:" + port;
  return ep.host + ":" + port;
}

std::string to_url(const endpoint& ep) {
  return (ep.tls ? "https://" : "http://") + host_header(ep);
}

} // namespace tidings::client
