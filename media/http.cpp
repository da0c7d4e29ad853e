#include "media/http.hpp"

#include "media/range.hpp"
#include "net/codec.hpp"

namespace tidings::media {

bool valid_mime(std::string_view mime) {
  if (mime.empty() || mime.size() > 127)
    return false;
  for (char c : mime)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

std::optional<net::http_response> refuse_upload(const net::http_request& head, uint64_t max_bytes) {
  if (!valid_mime(head.content_type))
    return net::error_response(400, "bad_request",
                               "Content-Type is required (1-127 printable characters)");
  if (head.content_length && *head.content_length > max_bytes)
    return too_large(max_bytes);
  return std::nullopt;
}

net::http_response too_large(uint64_t max_bytes) {
  return net::error_response(413, "too_large",
                             "media larger than " + std::to_string(max_bytes) + " bytes");
}

net::http_response upload_created(const std::string& hash, uint64_t size, const std::string& mime) {
  return {201,
          "application/json",
          net::json{{"hash", hash}, {"size", size}, {"mime", mime}}.dump(),
          {}};
}

net::http_response blob_response(std::string_view hash, uint64_t size, const std::string& mime,
                                 const std::filesystem::path& file,
                                 const net::http_request& request) {
  auto etag = "\"" + std::string{hash} + "\"";
  net::http_response res;
  res.content_type = mime;
  res.headers = {{"ETag", etag},
                 {"Cache-Control", "private, max-age=31536000, immutable"},
                 {"Accept-Ranges", "bytes"}};
  if (!request.if_none_match.empty() && etag_matches(request.if_none_match, etag)) {
    res.status = 304;
    return res;
  }
  auto range = parse_range(request.range, size);
  auto size_text = std::to_string(size);
  if (range.kind == range_answer::unsatisfiable) {
    auto refused = net::error_response(416, "bad_request", "range not satisfiable");
    refused.headers = {{"Content-Range", "bytes */" + size_text}, {"Accept-Ranges", "bytes"}};
    return refused;
  }
  if (range.kind == range_answer::partial) {
    res.status = 206;
    res.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                                  std::to_string(range.offset + range.length - 1) +
                                                  "/" + size_text);
  }
  res.file = net::file_range{file.string(), range.offset, range.length};
  return res;
}

} // namespace tidings::media
