#pragma once
// What the net/detail sources share about Beast: the namespace aliases and the bearer token.
// Internal: included only from net/*.cpp and net/detail/*.

#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

namespace boost::beast::http {}      // namespace boost::beast::http
namespace boost::beast::websocket {} // namespace boost::beast::websocket

namespace tidings::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

/// The token of an `Authorization: Bearer` header value, or empty.
inline std::string bearer_of(std::string_view header) {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() > prefix.size() && header.substr(0, prefix.size()) == prefix)
    return std::string{header.substr(prefix.size())};
  return {};
}

} // namespace tidings::net::detail
