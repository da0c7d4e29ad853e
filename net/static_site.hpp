#pragma once
// static_site: serves the files of one folder (the web client) over HTTP GET and HEAD.
//
// Invariants: only regular files inside the root are ever served. A request path is
// percent-decoded and split into segments; any `..`, `.`, hidden (`.name`) segment, backslash
// or NUL is refused before the file system is touched, and the resolved file's real path (links
// followed) must still lie under the root's. `/` and any path ending in `/` mean `index.html`.
// Caching: every answer carries an ETag (size and modification time) and `Cache-Control:
// no-cache`, so a browser revalidates and gets `304` while the file is unchanged, and a new
// client version is picked up at the next load. Security headers (nosniff, a same-origin
// Content-Security-Policy, no referrer) go with every file.
// Concurrency: immutable after construction; serve() may run on any thread. It does a few
// small file-system calls (realpath, stat) and leaves the reading to net's file body.

#include <optional>
#include <string>
#include <string_view>

#include "net/server.hpp"

namespace tidings::net {

class static_site {
public:
  /// Serves `root`. Throws std::runtime_error if it is not a readable directory.
  explicit static_site(const std::string& root);

  /// The real path of the root folder.
  const std::string& root() const { return root_; }

  /// Answers a GET or HEAD of `request.target`: 200 with the file, 304 when `If-None-Match`
  /// names its ETag, 404 `not_found` when there is no such file (or the path is refused),
  /// 400 `bad_request` for other methods.
  http_response serve(const http_request& request) const;

  /// The file a request target names, relative to the root (`index.html` for `/`), or nothing
  /// when the path is refused (traversal, hidden files, bad escapes, not absolute).
  static std::optional<std::string> relative_path(std::string_view target);

  /// The Content-Type for a file name, from its extension (`application/octet-stream` if
  /// unknown); text types carry `charset=utf-8`.
  static std::string_view content_type_of(std::string_view name);

private:
  std::string root_;
};

} // namespace tidings::net
