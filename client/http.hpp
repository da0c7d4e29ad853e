#pragma once
// Blocking HTTP/1.1 calls against a Tidings node (accounts, sessions, media, health).
//
// Each call opens its own TCP connection, sends one request with "Connection: close", reads one
// response and closes: simple and stateless, meant for tools and tests, not for throughput. A call
// runs a private io_context on the calling thread and gives up at its deadline (the whole
// exchange: resolve, connect, write and read), so it never blocks longer than `timeout`.
// Response bodies up to max_response_body bytes are read into memory.
//
// Transport failures (refused, reset, timeout, malformed response) throw std::runtime_error; an
// HTTP error status is not a transport failure and comes back as a normal http_response. The
// convenience calls (register_user, login, logout) instead throw api_error unless the protocol's
// success status comes back.

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "client/endpoint.hpp"
#include "net/codec.hpp"

namespace tidings::client {

using json = net::json;
using namespace std::chrono_literals;

/// Largest response body http_call() reads (media downloads included).
constexpr uint64_t max_response_body = 256ull << 20;

/// One HTTP response.
struct http_response {
  unsigned status = 0;
  std::string body;
  /// Header fields with lowercase names; repeated fields are joined with ", ".
  std::map<std::string, std::string> headers;

  /// The body parsed as JSON, or a null json if it is empty or not valid JSON.
  json json_body() const;
  /// The value of header `lowercase_name`, or "" if absent.
  std::string header(const std::string& lowercase_name) const;
};

/// A call that did not get its protocol success status. `code` and `message` come from the
/// protocol's error body {"error": CODE, "message": TEXT} (empty if the body was not one).
class api_error : public std::runtime_error {
public:
  api_error(std::string what, unsigned status, std::string code, std::string message,
            std::string body);

  unsigned status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& body() const noexcept { return body_; }

private:
  unsigned status_;
  std::string code_;
  std::string message_;
  std::string body_;
};

/// Sends one request and returns the response, whatever its status. `content_type` is set when
/// there is a body (or the method is POST, PUT or PATCH); `bearer`, if not empty, becomes
/// "Authorization: Bearer BEARER"; `extra_headers` are added last and override earlier fields.
/// HEAD responses are read without a body. Throws std::runtime_error on transport failure or
/// when `timeout` passes.
http_response http_call(const endpoint& ep, std::string_view method, std::string_view target,
                        std::string body = {}, std::string content_type = "application/json",
                        std::string bearer = {}, std::chrono::milliseconds timeout = 10s,
                        std::map<std::string, std::string> extra_headers = {});

/// POST /v1/accounts; throws api_error unless 201.
void register_user(const endpoint& ep, const std::string& user, const std::string& password);

/// POST /v1/sessions and returns the token; throws api_error unless 200 with a token. A
/// `device` name makes the token one of that device (docs/PROTOCOL.md, "Devices").
std::string login(const endpoint& ep, const std::string& user, const std::string& password,
                  const std::string& device = {});

/// DELETE /v1/sessions (revokes `token`); throws api_error unless 204.
void logout(const endpoint& ep, const std::string& token);

/// Throws api_error for `res` (a failed `what`, e.g. "POST /v1/accounts").
[[noreturn]] void throw_api_error(std::string_view what, const http_response& res);

} // namespace tidings::client
