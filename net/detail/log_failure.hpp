#pragma once
// One line on std::cerr for an I/O error of the front, unless it is an ordinary end of a
// connection. Thread-safe: each line is written with one call.

#include "net/detail/beast.hpp"

namespace tidings::net::detail {

/// True for the errors that end a connection in the ordinary way: operation_aborted, eof
/// (TCP or HTTP end of stream), a closed WebSocket, a reset, aborted, broken or no longer
/// connected socket, a shut down one, a timeout. Clients end connections so all the time (a
/// phone losing its network, a load test's bots exiting): these are not logged.
bool ordinary_end(beast::error_code ec);

/// Writes `tidings: net: <what>: <message>` to std::cerr unless `ordinary_end(ec)`.
void log_failure(beast::error_code ec, const char* what);

} // namespace tidings::net::detail
