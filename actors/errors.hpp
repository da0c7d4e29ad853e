#pragma once
// The protocol's error codes (PROTOCOL.md section 3) and close codes.

#include <cstdint>
#include <string_view>

namespace tidings {

/// Error codes of `error` frames and HTTP error bodies, one to one.
enum class errc : uint8_t {
  bad_request = 1,
  unauthorized,
  forbidden,
  not_found,
  too_large,
  rate_limited,
  overloaded,
  unavailable,
  internal,
  user_exists,
};

constexpr std::string_view to_string(errc e) {
  switch (e) {
  case errc::bad_request:
    return "bad_request";
  case errc::unauthorized:
    return "unauthorized";
  case errc::forbidden:
    return "forbidden";
  case errc::not_found:
    return "not_found";
  case errc::too_large:
    return "too_large";
  case errc::rate_limited:
    return "rate_limited";
  case errc::overloaded:
    return "overloaded";
  case errc::unavailable:
    return "unavailable";
  case errc::internal:
    return "internal";
  case errc::user_exists:
    return "user_exists";
  }
  return "internal";
}

/// WebSocket close codes.
namespace close_code {
constexpr uint16_t going_away = 1001;
constexpr uint16_t too_big = 1009;
constexpr uint16_t internal = 1011;
constexpr uint16_t unauthorized = 4001;
constexpr uint16_t replaced = 4002;
constexpr uint16_t policy = 4003;
constexpr uint16_t slow_consumer = 4004;
constexpr uint16_t too_many_devices = 4005; ///< the user's device limit (--limits.devices)
} // namespace close_code

} // namespace tidings
