#include "media/range.hpp"

#include <optional>

namespace tidings::media {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// A decimal number without sign; nullopt if empty, not all digits, or too large.
std::optional<uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

} // namespace

range_answer parse_range(std::string_view header, uint64_t size) {
  const range_answer whole{range_answer::whole, 0, size};
  const range_answer unsatisfiable{range_answer::unsatisfiable, 0, 0};
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.substr(0, unit.size()) != unit)
    return whole;
  auto spec = trim(header.substr(unit.size()));
  auto dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos)
    return whole;
  auto first_text = trim(spec.substr(0, dash));
  auto last_text = trim(spec.substr(dash + 1));
  if (first_text.empty()) { // -N: the last N bytes
    auto n = number(last_text);
    if (!n)
      return whole;
    if (*n == 0 || size == 0)
      return unsatisfiable;
    auto length = *n < size ? *n : size;
    return {range_answer::partial, size - length, length};
  }
  auto first = number(first_text);
  if (!first)
    return whole;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    auto given = number(last_text);
    if (!given || *given < *first)
      return whole;
    if (*given < last)
      last = *given;
  }
  if (*first >= size)
    return unsatisfiable;
  return {range_answer::partial, *first, last - *first + 1};
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  auto rest = trim(if_none_match);
  if (rest == "*")
    return true;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto tag = trim(rest.substr(0, comma));
    if (tag.substr(0, 2) == "W/")
      tag.remove_prefix(2);
    if (tag == etag)
      return true;
    if (comma == std::string_view::npos)
      break;
    rest = rest.substr(comma + 1);
  }
  return false;
}

} // namespace tidings::media
