#pragma once
// Reading and checking fields of decoded values (WebSocket frames, HTTP bodies: a
// `net/frame_doc.hpp` view). Every check yields a message for the `bad_request` answer; none
// throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/frame_doc.hpp"

namespace tidings::net {

/// `user`: 3-32 characters of [a-z0-9_.-].
bool valid_user(std::string_view user);

/// Number of code points of valid UTF-8 text.
std::size_t utf8_length(std::string_view text);

/// Collects the first problem found while reading a frame.
class field_reader {
public:
  explicit field_reader(value_ref frame) : frame_(frame) {}

  /// The value of `key`, or nullopt if absent or null (an error if `required`).
  std::optional<value_ref> find(const char* key, bool required);
  /// A string of `min`..`max` code points; nullopt if absent (an error if `required`).
  std::optional<std::string> text(const char* key, std::size_t min, std::size_t max,
                                  bool required = true);
  /// A string whose size in bytes is within `min`..`max`.
  std::optional<std::string> bytes(const char* key, std::size_t min, std::size_t max,
                                   bool required = true);
  std::optional<uint64_t> uint(const char* key, bool required = true);
  std::optional<bool> boolean(const char* key, bool required = true);
  std::optional<std::string> user(const char* key, bool required = true);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string message) {
    if (error_.empty())
      error_ = std::move(message);
  }

private:
  std::optional<std::string_view> string_field(const char* key, bool required);
  std::optional<std::string> sized(const char* key, std::size_t min, std::size_t max, bool required,
                                   bool count_code_points);
  value_ref frame_;
  std::string error_;
};

} // namespace tidings::net
