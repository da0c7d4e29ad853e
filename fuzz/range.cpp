// Fuzz target `range`: the first 8 bytes are a blob size, the rest is split at the first
// newline into a Range header value and an If-None-Match header value.

#include <cstring>
#include <string_view>

#include "fuzz/targets.hpp"
#include "media/range.hpp"

namespace tidings::fuzz {

int range(const uint8_t* data, std::size_t size) {
  using media::range_answer;
  if (size < 8)
    return 0;
  uint64_t blob = 0;
  std::memcpy(&blob, data, 8);
  std::string_view rest{reinterpret_cast<const char*>(data + 8), size - 8};
  auto newline = rest.find('\n');
  auto header = rest.substr(0, newline);
  auto if_none_match = newline == std::string_view::npos ? "" : rest.substr(newline + 1);

  auto answer = media::parse_range(header, blob);
  switch (answer.kind) {
  case range_answer::whole:
    require(answer.offset == 0 && answer.length == blob, "whole: the whole blob");
    break;
  case range_answer::partial:
    require(answer.length > 0 && answer.offset < blob && answer.length <= blob - answer.offset,
            "partial: a non-empty range inside the blob");
    break;
  case range_answer::unsatisfiable:
    require(answer.length == 0, "unsatisfiable: nothing sent");
    break;
  }
  constexpr std::string_view etag = "\"0123abcd\"";
  if (media::etag_matches(if_none_match, etag))
    require(if_none_match.find('*') != std::string_view::npos ||
                if_none_match.find(etag) != std::string_view::npos,
            "a matching If-None-Match names the tag or *");
  return 0;
}

} // namespace tidings::fuzz
