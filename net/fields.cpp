#include "net/fields.hpp"

namespace tidings::net {

bool valid_user(std::string_view user) {
  if (user.size() < 3 || user.size() > 32)
    return false;
  for (char c : user)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++n;
  return n;
}

std::optional<value_ref> field_reader::find(const char* key, bool required) {
  auto v = frame_.find(key);
  if (!v || v->is_null()) {
    if (required)
      fail(std::string{"missing field '"} + key + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string_view> field_reader::string_field(const char* key, bool required) {
  auto v = find(key, required);
  if (!v)
    return std::nullopt;
  if (!v->is_string()) {
    fail(std::string{"field '"} + key + "' must be a string");
    return std::nullopt;
  }
  return v->str();
}

std::optional<std::string> field_reader::sized(const char* key, std::size_t min, std::size_t max,
                                               bool required, bool count_code_points) {
  auto s = string_field(key, required);
  if (!s)
    return std::nullopt;
  auto len = count_code_points ? utf8_length(*s) : s->size();
  if (len < min || len > max) {
    fail(std::string{"field '"} + key + "' must have " + std::to_string(min) + " to " +
         std::to_string(max) + (count_code_points ? " characters" : " bytes"));
    return std::nullopt;
  }
  return std::string{*s};
}

std::optional<std::string> field_reader::text(const char* key, std::size_t min, std::size_t max,
                                              bool required) {
  return sized(key, min, max, required, true);
}

std::optional<std::string> field_reader::bytes(const char* key, std::size_t min, std::size_t max,
                                               bool required) {
  return sized(key, min, max, required, false);
}

std::optional<uint64_t> field_reader::uint(const char* key, bool required) {
  auto v = find(key, required);
  if (!v)
    return std::nullopt;
  if (v->is_unsigned())
    return v->unsigned_value();
  fail(std::string{"field '"} + key + "' must be an unsigned integer");
  return std::nullopt;
}

std::optional<bool> field_reader::boolean(const char* key, bool required) {
  auto v = find(key, required);
  if (!v)
    return std::nullopt;
  if (!v->is_bool()) {
    fail(std::string{"field '"} + key + "' must be a boolean");
    return std::nullopt;
  }
  return v->boolean();
}

std::optional<std::string> field_reader::user(const char* key, bool required) {
  auto u = text(key, 0, 64, required);
  if (u && !valid_user(*u)) {
    fail(std::string{"field '"} + key + "' is not a valid user name");
    return std::nullopt;
  }
  return u;
}

} // namespace tidings::net
