#pragma once
// The HTTP API's requests as pure functions (PROTOCOL.md sections 2 and 8): the request head as
// the server reads it, which endpoint a request is for, and the body of account requests.
//
// The server (net/detail/http_session.*) and the gateway (actors/gateway.*) use these, and the
// fuzz targets (fuzz/) feed them arbitrary bytes. No I/O, no shared state, nothing throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/server.hpp"

namespace tidings::net {

/// Longest request head (request line and headers) the server reads; longer: 400.
constexpr std::size_t max_header_bytes = 16 * 1024;

/// Parses `bytes` as one HTTP/1.1 request the way the server reads it (Beast's parser, the
/// same header limit, the same fields taken into `http_request`), with a buffered body of at
/// most `body_limit` bytes. Nothing (and a reason in `error`) if the request is malformed,
/// incomplete, or its body is too large. For tests and fuzzing: the server reads from a socket.
std::optional<http_request> parse_http_request(std::string_view bytes, std::size_t body_limit,
                                               std::string* error);

/// The path of a request target: everything before the first '?'.
std::string_view path_of(std::string_view target);

/// Where a request goes.
enum class http_endpoint : uint8_t {
  healthz,        ///< GET or HEAD /healthz
  readyz,         ///< GET or HEAD /readyz
  metrics,        ///< /metrics
  accounts,       ///< /v1/accounts, /v1/sessions, /v1/devices[/ID] (the accounts service checks
                  ///< the method)
  media_upload,   ///< POST /v1/media (its body is streamed: route_body)
  media_download, ///< GET or HEAD /v1/media/HASH
  refused,        ///< a known path with a method it does not take: 400 with `message`
  not_found,      ///< 404
};

struct http_route {
  http_endpoint endpoint = http_endpoint::not_found;
  std::string path;    ///< the target's path
  std::string hash;    ///< media_download: what follows /v1/media/ (not checked yet)
  std::string message; ///< refused: the message of the 400 answer
};

/// The endpoint of a request, from its method and target alone.
http_route route_of(std::string_view method, std::string_view target);

/// The body of `POST /v1/accounts` and `POST /v1/sessions`.
struct credentials {
  std::string user;                  ///< a valid user name
  std::string password;              ///< 8-256 bytes
  std::optional<std::string> device; ///< a login's device name (1-64, no control characters)
};

/// Parses `{"user","password"}` (and an optional `"device"`); nothing (and the 400 answer's message
/// in `error`) otherwise.
std::optional<credentials> read_credentials(std::string_view body, std::string* error);

/// The `user` string of an account request's JSON body, if it has one (not checked), else "".
std::string user_named_in(std::string_view body);

} // namespace tidings::net
