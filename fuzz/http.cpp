// Fuzz target `http`: the bytes are one HTTP request as a client sends it. It is read as the
// node reads it (Beast's parser and limits, net::parse_http_request), routed (net::route_of),
// then given to the pure parts of its endpoint: the JSON body of /v1/accounts and /v1/sessions,
// the upload checks of POST /v1/media, and the hash, If-None-Match and Range handling of
// GET /v1/media/HASH.

#include <string>
#include <string_view>

#include "fuzz/targets.hpp"
#include "media/http.hpp"
#include "media/sha256.hpp"
#include "net/fields.hpp"
#include "net/http_api.hpp"

namespace tidings::fuzz {

namespace {

constexpr std::size_t body_limit = 64 * 1024; // the node's http_body_limit
constexpr uint64_t media_limit = 64 * 1024 * 1024;

void check_download(const std::string& hash, const net::http_request& request) {
  if (!media::is_hash(hash))
    return; // answered 404 before any file name is made of it
  require(hash.size() == 64 && hash.find_first_not_of("0123456789abcdef") == std::string::npos,
          "a hash that names a file is 64 lowercase hex digits (no path traversal)");
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{1} << 62}) {
    auto res = media::blob_response(hash, size, "image/png", "/blobs/" + hash, request);
    switch (res.status) {
    case 200:
      require(res.file && res.file->offset == 0 && res.file->length == size,
              "200 sends the whole blob");
      break;
    case 206:
      require(res.file && res.file->length > 0 && res.file->offset < size &&
                  res.file->length <= size - res.file->offset,
              "206 sends a non-empty range inside the blob");
      break;
    case 304:
    case 416:
      require(!res.file, "304 and 416 send no file");
      break;
    default:
      require(false, "a blob answer is 200, 206, 304 or 416");
    }
  }
}

} // namespace

int http(const uint8_t* data, std::size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  std::string error;
  auto request = net::parse_http_request(bytes, body_limit, &error);
  if (!request) {
    require(!error.empty(), "a refused request says why");
    return 0;
  }
  require(request->body.size() <= body_limit, "a buffered body is within the limit");
  auto route = net::route_of(request->method, request->target);
  switch (route.endpoint) {
  case net::http_endpoint::accounts: {
    std::string why;
    if (auto cred = net::read_credentials(request->body, &why))
      require(net::valid_user(cred->user) && cred->password.size() >= 8 &&
                  cred->password.size() <= 256,
              "credentials are checked");
    else
      require(!why.empty(), "refused credentials say why");
    (void)net::user_named_in(request->body);
    break;
  }
  case net::http_endpoint::media_upload: {
    auto refusal = media::refuse_upload(*request, media_limit);
    require(refusal || media::valid_mime(request->content_type),
            "an upload starts only with a valid Content-Type");
    break;
  }
  case net::http_endpoint::media_download:
    check_download(route.hash, *request);
    break;
  case net::http_endpoint::refused:
    require(!route.message.empty(), "a refusal has a message");
    break;
  default:
    break;
  }
  return 0;
}

} // namespace tidings::fuzz
