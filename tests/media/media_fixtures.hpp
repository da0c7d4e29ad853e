#pragma once
// Shared set-up of the media tests that run a real node: test-friendly node arguments,
// temporary files of random bytes, and looks into the node's media directory.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <stdlib.h>

#include "client/http.hpp"
#include "client/media.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/sessions.hpp"

namespace tidings::test {

namespace fs = std::filesystem;

/// Node arguments for media tests: no rate limit in the way, cheap password hashing.
inline std::vector<std::string> media_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--limits.rate=1000000", "--limits.burst=1000000",
                                "--auth.argon2-ops=1", "--auth.argon2-mem-kib=8192"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// A temporary directory for a test's own files, removed at the end.
struct scratch_dir {
  fs::path path;

  scratch_dir() {
    auto pattern = (fs::temp_directory_path() / "tidings-media-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }

  /// A file of `size` pseudo-random bytes (from `seed`), written in chunks.
  std::string random_file(const std::string& name, uint64_t size, unsigned seed) const {
    auto file = (path / name).string();
    std::ofstream out{file, std::ios::binary};
    std::mt19937_64 rng{seed};
    std::vector<uint64_t> block(8192);
    for (uint64_t left = size; left > 0;) {
      for (auto& word : block)
        word = rng();
      auto n = std::min<uint64_t>(left, block.size() * sizeof(uint64_t));
      out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
      left -= n;
    }
    return file;
  }
};

/// Regular files under `dir`, recursively (the blob store and its tmp/ folder).
inline std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file())
      out.push_back(it->path());
  return out;
}

/// A whole download into memory (tests only: small blobs).
inline std::string download_all(const client::endpoint& ep, const std::string& hash,
                                const std::string& token, uint64_t offset = 0,
                                unsigned* status = nullptr) {
  std::string body;
  auto result =
      client::http_download(ep, "/v1/media/" + hash, token, offset,
                            [&](const char* data, std::size_t n) { body.append(data, n); });
  if (status != nullptr)
    *status = result.response.status;
  return body;
}

/// A running node with one user (alice) and a scratch directory: how most media tests start.
struct media_node {
  node_process node;
  client::endpoint ep;
  test_user alice;
  scratch_dir dir;
  std::string last_file; ///< the file of the last upload()

  explicit media_node(std::vector<std::string> more = {}) : node{media_args(std::move(more))} {
    node.start();
    ep = node.ep();
    alice = make_user(ep, "alice");
  }

  /// Writes a random file (see scratch_dir::random_file), uploads it as alice, returns its hash.
  std::string upload(const std::string& name, uint64_t size, unsigned seed,
                     const std::string& mime) {
    last_file = dir.random_file(name, size, seed);
    return client::upload_media(ep, alice.token, last_file, mime)["hash"].get<std::string>();
  }

  /// `method` /v1/media/HASH with `token` and extra request headers, body read into memory.
  client::http_response get(const std::string& hash, const std::string& token,
                            std::map<std::string, std::string> headers = {},
                            const std::string& method = "GET") const {
    return client::http_call(ep, method, "/v1/media/" + hash, {}, {}, token, 10s,
                             std::move(headers));
  }
};

} // namespace tidings::test
