#pragma once
// What every client source shares about Beast: the namespace aliases and the User-Agent.
// Internal: included only from client/*.cpp.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

namespace tidings::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

namespace detail {

/// The User-Agent of every request the client sends.
constexpr const char* user_agent = "tidings-client/0.1";

} // namespace detail

} // namespace tidings::client
