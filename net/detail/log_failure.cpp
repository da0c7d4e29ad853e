#include "net/detail/log_failure.hpp"

#include <iostream>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

namespace tidings::net::detail {

bool ordinary_end(beast::error_code ec) {
  // not_connected: a read after the peer's reset was already reported (to a write, or to the
  // reactor's error check) finds the socket closed; connection_aborted and shut_down: the
  // same ends seen from accept and from a write after our own shutdown.
  return ec == asio::error::operation_aborted || ec == asio::error::eof ||
         ec == http::error::end_of_stream || ec == websocket::error::closed ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == asio::error::connection_aborted ||
         ec == asio::error::shut_down || ec == beast::error::timeout ||
         ec == asio::ssl::error::stream_truncated;
}

void log_failure(beast::error_code ec, const char* what) {
  if (!ec || ordinary_end(ec))
    return;
  std::string line = "tidings: net: ";
  line += what;
  line += ": ";
  line += ec.message();
  line += '\n';
  std::cerr << line << std::flush;
}

} // namespace tidings::net::detail
