#include "net/static_site.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <sys/stat.h>

namespace tidings::net {

namespace {

namespace fs = std::filesystem;

/// Same-origin only: scripts, styles, sockets and fetches from the node itself; images may also
/// be blob: URLs (downloaded media) and data: URLs (thumbnails).
constexpr std::string_view content_security_policy =
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Percent-decodes one path segment; nothing on a bad escape.
std::optional<std::string> decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return std::nullopt;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// True if `path` is `root` or lies inside it (both real paths).
bool inside(const std::string& path, const std::string& root) {
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

} // namespace

static_site::static_site(const std::string& root) {
  std::error_code ec;
  auto real = fs::canonical(root, ec);
  if (ec || !fs::is_directory(real, ec))
    throw std::runtime_error("web.dir: " + root + " is not a readable directory");
  root_ = real.string();
}

std::optional<std::string> static_site::relative_path(std::string_view target) {
  auto path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path.front() != '/')
    return std::nullopt;
  std::string out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos)
      end = path.size();
    auto raw = path.substr(start, end - start);
    start = end + 1;
    if (raw.empty())
      continue; // `//` and the trailing slash
    auto segment = decode(raw);
    if (!segment || segment->empty() || segment->front() == '.' ||
        segment->find_first_of(std::string_view{"/\\\0", 3}) != std::string::npos)
      return std::nullopt;
    if (!out.empty())
      out += '/';
    out += *segment;
  }
  if (path.back() == '/')
    out += out.empty() ? "index.html" : "/index.html";
  return out;
}

std::string_view static_site::content_type_of(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".wasm", "application/wasm"},
      {".xml", "application/xml"},
  }};
  auto slash = name.rfind('/');
  auto base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  for (const auto& [ext, type] : types)
    if (ends_with(base, ext) && base.size() > ext.size())
      return type;
  return "application/octet-stream";
}

http_response static_site::serve(const http_request& request) const {
  if (request.method != "GET" && request.method != "HEAD")
    return error_response(400, "bad_request", "use GET or HEAD");
  auto rel = relative_path(request.target);
  if (!rel)
    return error_response(404, "not_found", "no such file");
  std::error_code ec;
  auto real = fs::canonical(fs::path{root_} / *rel, ec).string();
  struct stat st {};
  if (ec || !inside(real, root_) || ::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return error_response(404, "not_found", "no such file");

  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                    static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  http_response res;
  res.content_type = std::string{content_type_of(*rel)};
  res.headers = {{"ETag", etag},
                 {"Cache-Control", "no-cache"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"}};
  if (ends_with(*rel, ".html"))
    res.headers.emplace_back("Content-Security-Policy", std::string{content_security_policy});
  if (request.if_none_match == etag || request.if_none_match == "*") {
    res.status = 304;
    return res;
  }
  res.file = file_range{real, 0, static_cast<uint64_t>(st.st_size)};
  return res;
}

} // namespace tidings::net
