#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "net/static_site.hpp"
#include "tests/support/temp_dir.hpp"

using tidings::net::http_request;
using tidings::net::static_site;

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream{path} << text;
}

http_request get(std::string target) {
  http_request req;
  req.method = "GET";
  req.target = std::move(target);
  return req;
}

std::string header(const tidings::net::http_response& res, const std::string& name) {
  for (const auto& [key, value] : res.headers)
    if (key == name)
      return value;
  return {};
}

} // namespace

TEST_CASE("a request path maps to a file under the root, index.html for a folder") {
  CHECK(static_site::relative_path("/") == "index.html");
  CHECK(static_site::relative_path("/app.js") == "app.js");
  CHECK(static_site::relative_path("/app.js?v=3#top") == "app.js");
  CHECK(static_site::relative_path("/icons/tick.svg") == "icons/tick.svg");
  CHECK(static_site::relative_path("/icons/") == "icons/index.html");
  CHECK(static_site::relative_path("//icons//tick.svg") == "icons/tick.svg");
  CHECK(static_site::relative_path("/my%20file.txt") == "my file.txt");
}

TEST_CASE("paths that could leave the root or reach hidden files are refused") {
  for (const char* bad :
       {"", "app.js", "/..", "/../etc/passwd", "/a/../../b", "/%2e%2e/etc/passwd", "/%2E%2E/x",
        "/a/%2e%2e%2fb", "/a%2f..%2f..%2fb", "/.git/config", "/.env", "/a/./b", "/a\\..\\b",
        "/a%5c..%5cb", "/a%00.html", "/bad%zz", "/bad%4", "/bad%"}) {
    CAPTURE(bad);
    CHECK_FALSE(static_site::relative_path(bad).has_value());
  }
}

TEST_CASE("files are served with the content type of their extension") {
  CHECK(static_site::content_type_of("index.html") == "text/html; charset=utf-8");
  CHECK(static_site::content_type_of("js/app.js") == "text/javascript; charset=utf-8");
  CHECK(static_site::content_type_of("m.mjs") == "text/javascript; charset=utf-8");
  CHECK(static_site::content_type_of("style.css") == "text/css; charset=utf-8");
  CHECK(static_site::content_type_of("icon.svg") == "image/svg+xml");
  CHECK(static_site::content_type_of("shot.png") == "image/png");
  CHECK(static_site::content_type_of("manifest.webmanifest") == "application/manifest+json");
  CHECK(static_site::content_type_of("LICENSE") == "application/octet-stream");
  CHECK(static_site::content_type_of(".js") == "application/octet-stream");
  CHECK(static_site::content_type_of("dir.js/file") == "application/octet-stream");
}

TEST_CASE("a static site serves its files with caching headers and 304 on a matching ETag") {
  tidings::test::temp_dir dir;
  write_file(dir.path / "web" / "index.html", "<!doctype html><title>t</title>");
  write_file(dir.path / "web" / "js" / "app.js", "export {};");
  write_file(dir.path / "secret.txt", "outside");
  static_site site{(dir.path / "web").string()};

  auto index = site.serve(get("/"));
  CHECK(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  REQUIRE(index.file.has_value());
  CHECK(index.file->length == 31);
  CHECK(index.file->path == site.root() + "/index.html");
  CHECK(header(index, "Cache-Control") == "no-cache");
  CHECK(header(index, "X-Content-Type-Options") == "nosniff");
  CHECK(header(index, "Content-Security-Policy").find("default-src 'self'") == 0);
  auto etag = header(index, "ETag");
  CHECK(etag.size() > 2);

  auto again = get("/index.html");
  again.if_none_match = etag;
  auto cached = site.serve(again);
  CHECK(cached.status == 304);
  CHECK_FALSE(cached.file.has_value());

  auto js = site.serve(get("/js/app.js"));
  CHECK(js.status == 200);
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(header(js, "ETag") != etag);

  auto head = get("/js/app.js");
  head.method = "HEAD";
  CHECK(site.serve(head).status == 200);
  auto post = get("/js/app.js");
  post.method = "POST";
  CHECK(site.serve(post).status == 400);

  CHECK(site.serve(get("/missing.js")).status == 404);
  CHECK(site.serve(get("/js")).status == 404); // a folder, not a file
  CHECK(site.serve(get("/../secret.txt")).status == 404);
  CHECK(site.serve(get("/%2e%2e/secret.txt")).status == 404);
}

TEST_CASE("a link inside the site that points outside it is not followed") {
  tidings::test::temp_dir dir;
  write_file(dir.path / "web" / "index.html", "x");
  write_file(dir.path / "secret.txt", "outside");
  std::filesystem::create_symlink(dir.path / "secret.txt", dir.path / "web" / "leak.txt");
  static_site site{(dir.path / "web").string()};
  CHECK(site.serve(get("/leak.txt")).status == 404);
  CHECK(site.serve(get("/index.html")).status == 200);
}

TEST_CASE("a static site refuses a root that is not a folder") {
  tidings::test::temp_dir dir;
  CHECK_THROWS(static_site{(dir.path / "nope").string()});
}
