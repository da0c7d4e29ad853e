#include "net/http_api.hpp"

#include <algorithm>
#include <limits>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/codec.hpp"
#include "net/detail/request_head.hpp"
#include "net/fields.hpp"

namespace tidings::net {

namespace {

constexpr std::string_view media_path = "/v1/media";
constexpr std::string_view media_prefix = "/v1/media/";

/// Feeds `bytes` from `*used` on to `parser` until `done(parser)`, the input ends, or the parser
/// takes no more; false (and the reason in `error`) if the bytes are malformed.
template <class Parser, class Done>
bool feed(Parser& parser, Done done, std::string_view bytes, std::size_t* used,
          std::string* error) {
  namespace http = detail::http;
  while (!done(parser) && *used < bytes.size()) {
    detail::beast::error_code ec;
    auto n = parser.put(detail::asio::buffer(bytes.data() + *used, bytes.size() - *used), ec);
    *used += n;
    if (ec && ec != http::error::need_more) {
      *error = ec.message();
      return false;
    }
    if (n == 0)
      break;
  }
  return true;
}

} // namespace

namespace detail {

http_request request_head(const http::request_parser<http::empty_body>& head) {
  const auto& req = head.get();
  http_request out;
  out.method = std::string{req.method_string()};
  out.target = std::string{req.target()};
  out.bearer = bearer_of(req[http::field::authorization]);
  out.content_type = std::string{req[http::field::content_type]};
  out.range = std::string{req[http::field::range]};
  out.if_none_match = std::string{req[http::field::if_none_match]};
  if (auto length = head.content_length())
    out.content_length = *length;
  return out;
}

} // namespace detail

http_response error_response(unsigned status, std::string_view code, std::string_view message) {
  json body{{"error", code}, {"message", message}};
  // The message may quote client bytes: invalid UTF-8 is replaced, never thrown.
  return {status,
          "application/json",
          body.dump(-1, ' ', false, json::error_handler_t::replace),
          {},
          std::nullopt};
}

http_response overloaded_response(std::string_view message, int64_t retry_ms) {
  json body{{"error", "overloaded"}, {"message", message}, {"retry_ms", retry_ms}};
  return {503,
          "application/json",
          body.dump(),
          {{"Retry-After", std::to_string((std::max<int64_t>(retry_ms, 1) + 999) / 1000)}},
          std::nullopt};
}

std::optional<http_request> parse_http_request(std::string_view bytes, std::size_t body_limit,
                                               std::string* error) {
  namespace http = detail::http;
  std::string ignored;
  if (error == nullptr)
    error = &ignored;
  http::request_parser<http::empty_body> head;
  head.header_limit(max_header_bytes);
  head.body_limit(std::numeric_limits<uint64_t>::max());
  std::size_t used = 0;
  if (!feed(
          head, [](const auto& p) { return p.is_header_done(); }, bytes, &used, error))
    return std::nullopt;
  if (!head.is_header_done()) {
    *error = "incomplete request head";
    return std::nullopt;
  }
  auto request = detail::request_head(head);
  if (request.content_length && *request.content_length > body_limit) {
    *error = "request body too large";
    return std::nullopt;
  }
  http::request_parser<http::string_body> full{std::move(head)};
  full.body_limit(body_limit);
  full.eager(true);
  if (!feed(
          full, [](const auto& p) { return p.is_done(); }, bytes, &used, error))
    return std::nullopt;
  if (!full.is_done()) {
    *error = "incomplete request body";
    return std::nullopt;
  }
  request.body = std::move(full.get().body());
  return request;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

http_route route_of(std::string_view method, std::string_view target) {
  http_route route;
  auto path = path_of(target);
  route.path = std::string{path};
  auto refuse = [&route](const char* message) {
    route.endpoint = http_endpoint::refused;
    route.message = message;
    return route;
  };
  if (path == "/healthz") {
    if (method != "GET" && method != "HEAD")
      return refuse("use GET");
    route.endpoint = http_endpoint::healthz;
  } else if (path == "/readyz") {
    if (method != "GET" && method != "HEAD")
      return refuse("use GET");
    route.endpoint = http_endpoint::readyz;
  } else if (path == "/metrics") {
    route.endpoint = http_endpoint::metrics;
  } else if (path == "/v1/accounts" || path == "/v1/sessions" || path == "/v1/devices" ||
             path.substr(0, 12) == "/v1/devices/") {
    route.endpoint = http_endpoint::accounts;
  } else if (path == media_path) {
    if (method != "POST")
      return refuse("use POST");
    route.endpoint = http_endpoint::media_upload;
  } else if (path.substr(0, media_prefix.size()) == media_prefix) {
    if (method != "GET" && method != "HEAD")
      return refuse("use GET or HEAD");
    route.endpoint = http_endpoint::media_download;
    route.hash = std::string{path.substr(media_prefix.size())};
  }
  return route;
}

std::optional<credentials> read_credentials(std::string_view body, std::string* error) {
  std::string why;
  auto value = decode(body, encoding::json, &why);
  if (!value) {
    *error = "body must be a JSON object: " + why;
    return std::nullopt;
  }
  frame_doc doc;
  doc.assign(std::move(*value));
  field_reader r{doc.root()};
  auto user = r.user("user");
  auto password = r.bytes("password", 8, 256);
  auto device = r.text("device", 1, 64, false);
  if (r.ok() && device && std::any_of(device->begin(), device->end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
      }))
    r.fail("device: control characters are not allowed");
  if (!r.ok()) {
    *error = r.error();
    return std::nullopt;
  }
  return credentials{std::move(*user), std::move(*password), std::move(device)};
}

std::string user_named_in(std::string_view body) {
  auto value = decode(body, encoding::json, nullptr);
  if (!value)
    return {};
  auto it = value->find("user");
  if (it == value->end() || !it->is_string())
    return {};
  return it->get<std::string>();
}

} // namespace tidings::net
