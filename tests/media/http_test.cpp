// Media over HTTP against a real node: uploads, downloads, ranges, limits, access, memory.

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "client/http.hpp"
#include "media/sha256.hpp"
#include "tests/media/media_fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

namespace {

constexpr uint64_t mib = 1024 * 1024;

std::string sha256_of(const std::string& bytes) {
  media::sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

/// VmRSS or VmHWM of a process in KiB.
uint64_t proc_kib(int pid, const std::string& field) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stoull(line.substr(field.size() + 1));
  return 0;
}

std::map<std::string, std::string> range_header(const std::string& value) {
  return {{"Range", value}};
}

} // namespace

TEST_CASE("a multi MiB upload downloads again with the same hash and the documented headers") {
  media_node m;
  auto [node, ep, alice, dir] = std::tie(m.node, m.ep, m.alice, m.dir);
  auto file = dir.random_file("photo.jpg", 5 * mib + 123, 1);
  auto expected = client::file_sha256(file);

  auto reply = client::upload_media(ep, alice.token, file, "image/jpeg");
  CHECK(reply["hash"] == expected);
  CHECK(reply["size"] == 5 * mib + 123);
  CHECK(reply["mime"] == "image/jpeg");
  auto hash = reply["hash"].get<std::string>();
  CHECK(fs::exists(node.data_dir() / "media" / hash.substr(0, 2) / hash.substr(2, 2) / hash));

  media::sha256 streamed;
  auto got =
      client::http_download(ep, "/v1/media/" + hash, alice.token, 0,
                            [&](const char* data, std::size_t n) { streamed.update(data, n); });
  CHECK(got.response.status == 200);
  CHECK(got.received == 5 * mib + 123);
  CHECK(streamed.hex_digest() == expected);
  auto& h = got.response;
  CHECK(h.header("content-type") == "image/jpeg");
  CHECK(h.header("content-length") == std::to_string(5 * mib + 123));
  CHECK(h.header("etag") == "\"" + hash + "\"");
  CHECK(h.header("cache-control") == "private, max-age=31536000, immutable");
  CHECK(h.header("accept-ranges") == "bytes");

  // Uploads and downloads need a valid token.
  CHECK(http_call(ep, "GET", "/v1/media/" + hash).status == 401);
  CHECK(http_call(ep, "GET", "/v1/media/" + hash, {}, {}, "not-a-token").status == 401);
  CHECK(client::http_upload(ep, "/v1/media", file, "image/jpeg", "").status == 401);
  CHECK(node.stop() == 0);
}

TEST_CASE("an interrupted download resumes with a range request") {
  media_node m;
  auto hash = m.upload("video.mp4", 3 * mib, 2, "video/mp4");
  std::ifstream in{m.last_file, std::ios::binary};
  std::string whole{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};

  // The first 1 MiB + 7 bytes arrived before the connection broke; fetch the rest.
  uint64_t have = mib + 7;
  unsigned status = 0;
  auto rest = download_all(m.ep, hash, m.alice.token, have, &status);
  CHECK(status == 206);
  CHECK(rest.size() == whole.size() - have);
  CHECK(sha256_of(whole.substr(0, have) + rest) == hash);

  auto res = m.get(hash, m.alice.token, range_header("bytes=" + std::to_string(have) + "-"));
  CHECK(res.status == 206);
  CHECK(res.header("content-range") == "bytes " + std::to_string(have) + "-" +
                                           std::to_string(whole.size() - 1) + "/" +
                                           std::to_string(whole.size()));
  res = m.get(hash, m.alice.token, range_header("bytes=10-19"));
  CHECK(res.status == 206);
  CHECK(res.body == whole.substr(10, 10));
  CHECK(res.header("content-range") == "bytes 10-19/" + std::to_string(whole.size()));
  CHECK(res.header("content-length") == "10");
  res = m.get(hash, m.alice.token, range_header("bytes=-5"));
  CHECK(res.status == 206);
  CHECK(res.body == whole.substr(whole.size() - 5));
}

TEST_CASE("an unsatisfiable range is answered with 416 and the size") {
  media_node m;
  auto hash = m.upload("doc.pdf", 1000, 3, "application/pdf");
  for (auto range : {"bytes=1000-", "bytes=5000-6000", "bytes=-0"}) {
    auto res = m.get(hash, m.alice.token, range_header(range));
    CHECK(res.status == 416);
    CHECK(res.header("content-range") == "bytes */1000");
  }
  // A resumed download that already has everything gets the same answer.
  unsigned status = 0;
  download_all(m.ep, hash, m.alice.token, 1000, &status);
  CHECK(status == 416);
}

TEST_CASE("HEAD answers the headers of GET without a body and a matching ETag gets 304") {
  media_node m;
  auto hash = m.upload("song.mp3", 2 * mib, 4, "audio/mpeg");
  auto head = m.get(hash, m.alice.token, {}, "HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("content-length") == std::to_string(2 * mib));
  CHECK(head.header("content-type") == "audio/mpeg");
  CHECK(head.header("etag") == "\"" + hash + "\"");
  CHECK(head.header("accept-ranges") == "bytes");
  auto ranged = m.get(hash, m.alice.token, range_header("bytes=0-99"), "HEAD");
  CHECK(ranged.status == 206);
  CHECK(ranged.header("content-length") == "100");
  CHECK(m.get(std::string(64, '0'), m.alice.token, {}, "HEAD").status == 404);

  auto cached = m.get(hash, m.alice.token, {{"If-None-Match", "\"" + hash + "\""}});
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(cached.header("etag") == "\"" + hash + "\"");
  auto other = m.get(hash, m.alice.token, {{"If-None-Match", "\"something-else\""}});
  CHECK(other.status == 200);
  CHECK(other.body.size() == 2 * mib);
}

TEST_CASE("a user who may not read a hash gets 403 and an unknown hash is 404") {
  media_node m;
  auto mallory = make_user(m.ep, "mallory");
  auto hash = m.upload("secret.png", 10'000, 5, "image/png");
  auto res = m.get(hash, mallory.token);
  CHECK(res.status == 403);
  CHECK(res.json_body()["error"] == "forbidden");
  CHECK(m.get(hash, mallory.token, {}, "HEAD").status == 403);
  CHECK(m.get(hash, mallory.token, range_header("bytes=0-9")).status == 403);
  auto unknown = m.get(std::string(64, 'f'), mallory.token);
  CHECK(unknown.status == 404);
  CHECK(unknown.json_body()["error"] == "not_found");
  CHECK(m.get("not-a-hash", mallory.token).status == 404);
  // Uploading the same bytes proves having them: then mallory may read them too.
  auto again = client::upload_media(m.ep, mallory.token, m.last_file, "image/png");
  CHECK(again["hash"] == hash);
  CHECK(m.get(hash, mallory.token).status == 200);
}

TEST_CASE("an upload over the limit is refused with 413 and leaves no file behind") {
  media_node m{{"--media.max-bytes=1048576"}};
  auto big = m.dir.random_file("big.bin", 3 * mib, 6);
  auto res = client::http_upload(m.ep, "/v1/media", big, "application/octet-stream", m.alice.token);
  CHECK(res.status == 413);
  CHECK(res.json_body()["error"] == "too_large");
  // Over the limit by one byte.
  auto res2 = http_call(m.ep, "POST", "/v1/media", std::string(mib + 1, 'x'),
                        "application/octet-stream", m.alice.token);
  CHECK(res2.status == 413);
  auto media_dir = m.node.data_dir() / "media";
  CHECK(files_under(media_dir).empty());
  // The node still serves; exactly the limit is accepted; no Content-Type is a bad request.
  auto ok =
      http_call(m.ep, "POST", "/v1/media", std::string(mib, 'x'), "text/plain", m.alice.token);
  CHECK(ok.status == 201);
  auto no_type = http_call(m.ep, "POST", "/v1/media", "abc", "", m.alice.token);
  CHECK(no_type.status == 400);
  CHECK(no_type.json_body()["error"] == "bad_request");
  CHECK(files_under(media_dir / "tmp").empty());
  CHECK(files_under(media_dir).size() == 1);
}

TEST_CASE("concurrent uploads of the same bytes store one copy under one hash") {
  node_process node{media_args()};
  node.start();
  auto ep = node.ep();
  scratch_dir dir;
  auto file = dir.random_file("same.bin", 4 * mib, 7);
  auto expected = client::file_sha256(file);
  constexpr int uploaders = 4;
  std::vector<test_user> users;
  for (int i = 0; i < uploaders; ++i)
    users.push_back(make_user(ep, "same"));
  std::vector<std::string> hashes(uploaders);
  std::vector<std::string> errors(uploaders);
  std::vector<std::thread> threads;
  for (int i = 0; i < uploaders; ++i)
    threads.emplace_back([&, i] {
      try {
        hashes[i] = client::upload_media(ep, users[i].token, file, "application/zip")["hash"];
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < uploaders; ++i) {
    CHECK(errors[i] == "");
    CHECK(hashes[i] == expected);
    unsigned status = 0;
    CHECK(sha256_of(download_all(ep, expected, users[i].token, 0, &status)) == expected);
    CHECK(status == 200);
  }
  auto stored = files_under(node.data_dir() / "media");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].filename() == expected);
}

TEST_CASE("uploading 60 MiB grows the memory of the node by a few MiB at most") {
  media_node m;
  auto [node, ep, alice, dir] = std::tie(m.node, m.ep, m.alice, m.dir);
  const uint64_t size = 60 * mib;
  auto file = dir.random_file("big.mov", size, 8);
  // Warm up: one small upload and download, so lazily allocated buffers exist already.
  auto small = dir.random_file("small.bin", 300'000, 9);
  auto warm = client::upload_media(ep, alice.token, small, "video/quicktime")["hash"];
  download_all(ep, warm, alice.token);
  // Start the peak (VmHWM) afresh: "5" to clear_refs resets it to the current RSS.
  std::ofstream{"/proc/" + std::to_string(node.pid()) + "/clear_refs"} << "5";
  auto rss_before = proc_kib(node.pid(), "VmRSS");
  auto hwm_before = proc_kib(node.pid(), "VmHWM");

  auto t0 = std::chrono::steady_clock::now();
  auto reply = client::upload_media(ep, alice.token, file, "video/quicktime");
  auto t1 = std::chrono::steady_clock::now();
  auto hash = reply["hash"].get<std::string>();
  media::sha256 check;
  auto got = client::http_download(ep, "/v1/media/" + hash, alice.token, 0,
                                   [&](const char* data, std::size_t n) { check.update(data, n); });
  auto t2 = std::chrono::steady_clock::now();
  CHECK(got.received == size);
  CHECK(check.hex_digest() == hash);

  auto rss_after = proc_kib(node.pid(), "VmRSS");
  auto hwm_after = proc_kib(node.pid(), "VmHWM");
  // The peak during the transfers, above the resident size before them.
  auto peak_growth_kib = hwm_after > rss_before ? hwm_after - rss_before : 0;
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  MESSAGE("node RSS before " << rss_before << " KiB, after " << rss_after << " KiB, peak "
                             << hwm_after << " KiB (peak before " << hwm_before << " KiB); upload "
                             << 60 / seconds(t1 - t0) << " MiB/s, download "
                             << 60 / seconds(t2 - t1) << " MiB/s");
  CHECK(peak_growth_kib < 8 * 1024);
  CHECK(rss_after < rss_before + 8 * 1024);
}
