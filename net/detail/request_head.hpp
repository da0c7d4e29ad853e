#pragma once
// The fields of a parsed request head that the application sees. Internal: used by the HTTP
// session (net/detail/http_session.cpp) and net::parse_http_request (net/http_api.cpp).

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "net/detail/beast.hpp"
#include "net/server.hpp"

namespace tidings::net::detail {

/// The request as handed to the application, `body` still empty.
http_request request_head(const http::request_parser<http::empty_body>& head);

} // namespace tidings::net::detail
