#pragma once
// HTTP conditional and range requests on immutable blobs (RFC 9110 sections 13.1.2 and 14).
//
// Only what a media download needs: one range of unit `bytes` (`A-B`, `A-`, `-N`), and
// If-None-Match against the blob's one strong ETag. A header this does not understand (other
// units, several ranges, bad syntax) is ignored, as the RFC allows: the whole blob is sent.

#include <cstdint>
#include <string_view>

namespace tidings::media {

struct range_answer {
  enum kind_t { whole, partial, unsatisfiable };
  kind_t kind = whole;
  uint64_t offset = 0; ///< first byte sent
  uint64_t length = 0; ///< bytes sent
};

/// What to send of a blob of `size` bytes for the Range header `header` ("" if absent).
range_answer parse_range(std::string_view header, uint64_t size);

/// True if an If-None-Match header value matches `etag` (given with its quotes): `*`, or a
/// listed tag equal to it by the weak comparison.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

} // namespace tidings::media
