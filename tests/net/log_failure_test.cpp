// Which I/O errors of the front end a connection in the ordinary way (not logged) and which
// are logged: a client resetting or vanishing is not a failure of the node.

#include <doctest/doctest.h>

#include <iostream>
#include <sstream>

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include "net/detail/log_failure.hpp"

using tidings::net::detail::log_failure;
using tidings::net::detail::ordinary_end;
namespace asio = boost::asio;
namespace beast = boost::beast;

TEST_CASE("a client resetting or vanishing is an ordinary end and is not logged") {
  for (auto ec :
       {beast::error_code{asio::error::connection_reset},
        beast::error_code{asio::error::not_connected},
        beast::error_code{asio::error::connection_aborted},
        beast::error_code{asio::error::broken_pipe}, beast::error_code{asio::error::shut_down},
        beast::error_code{asio::error::operation_aborted}, beast::error_code{asio::error::eof},
        beast::error_code{beast::http::error::end_of_stream},
        beast::error_code{beast::websocket::error::closed}}) {
    CAPTURE(ec.message());
    CHECK(ordinary_end(ec));
  }
  std::ostringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  log_failure(asio::error::not_connected, "websocket read");
  log_failure(asio::error::connection_reset, "websocket read");
  log_failure(asio::error::no_buffer_space, "websocket write"); // a real failure
  std::cerr.rdbuf(old);
  CHECK(captured.str() == "tidings: net: websocket write: " +
                              beast::error_code{asio::error::no_buffer_space}.message() + "\n");
}

TEST_CASE("real failures stay visible") {
  CHECK_FALSE(ordinary_end(asio::error::no_buffer_space));
  CHECK_FALSE(ordinary_end(asio::error::bad_descriptor));
  CHECK_FALSE(ordinary_end(asio::error::access_denied));
  CHECK_FALSE(ordinary_end(beast::http::error::bad_version));
}
