// The media service without a network: ranges, access rules, uploads and retention, driven
// directly (retention with explicit times: no clock, no sleeping).

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <random>

#include <stdlib.h>

#include "media/access.hpp"
#include "media/index.hpp"
#include "media/range.hpp"
#include "media/service.hpp"
#include "media/sha256.hpp"
#include "net/codec.hpp"

using namespace tidings;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int64_t day_ms = 24LL * 3600 * 1000;

/// A fresh database and media service in a temporary directory, removed afterwards.
struct service_fixture {
  fs::path dir;
  std::unique_ptr<storage::db> db;
  std::unique_ptr<media::service> svc;
  int64_t clock = 1'000 * day_ms; ///< the service's time (ms), set by the test

  explicit service_fixture(media::options opts = {}) {
    auto pattern = (fs::temp_directory_path() / "tidings-media-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    db = storage::db::open({(dir / "db").string(), false});
    opts.root = dir / "media";
    opts.now = [this] { return clock; };
    svc = std::make_unique<media::service>(*db, opts);
  }

  ~service_fixture() {
    svc.reset();
    db.reset();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

  /// Streams `bytes` through an upload sink in chunks; returns the answer.
  net::http_response upload(const std::string& user, const std::string& bytes,
                            std::string mime = "application/octet-stream") {
    net::http_request head;
    head.method = "POST";
    head.target = "/v1/media";
    head.content_type = std::move(mime);
    auto route = svc->upload(user, head);
    if (route.refusal)
      return *route.refusal;
    REQUIRE(route.sink);
    for (std::size_t at = 0; at < bytes.size(); at += 1000) {
      if (auto refused =
              route.sink->write(bytes.data() + at, std::min<std::size_t>(1000, bytes.size() - at)))
        return *refused;
    }
    std::promise<net::http_response> answer;
    route.sink->finish([&](net::http_response res) { answer.set_value(std::move(res)); });
    route.sink.reset();
    auto future = answer.get_future();
    REQUIRE(future.wait_for(30s) == std::future_status::ready);
    return future.get();
  }

  std::string upload_ok(const std::string& user, const std::string& bytes) {
    auto res = upload(user, bytes);
    REQUIRE(res.status == 201);
    return net::json::parse(res.body)["hash"].get<std::string>();
  }

  void put(storage::table t, const std::string& key) {
    storage::batch b;
    b.put(t, key, "");
    REQUIRE(db->write(b).ok());
  }

  void del(storage::table t, const std::string& key) {
    storage::batch b;
    b.del(t, key);
    REQUIRE(db->write(b).ok());
  }

  std::size_t temp_files() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(svc->store().temp_dir()), fs::directory_iterator{}));
  }
};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng{seed};
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

std::string sha256_of(const std::string& bytes) {
  media::sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

} // namespace

TEST_CASE("range headers are answered as RFC 9110 says") {
  using media::parse_range;
  using media::range_answer;
  auto check = [](std::string_view header, uint64_t size, range_answer::kind_t kind,
                  uint64_t offset, uint64_t length) {
    auto r = parse_range(header, size);
    CHECK(r.kind == kind);
    CHECK(r.offset == offset);
    CHECK(r.length == length);
  };
  check("", 100, range_answer::whole, 0, 100);
  check("bytes=0-9", 100, range_answer::partial, 0, 10);
  check("bytes=90-", 100, range_answer::partial, 90, 10);
  check("bytes=-10", 100, range_answer::partial, 90, 10);
  check("bytes=-1000", 100, range_answer::partial, 0, 100);
  check("bytes=50-1000", 100, range_answer::partial, 50, 50);
  check("bytes=99-99", 100, range_answer::partial, 99, 1);
  check("bytes=100-", 100, range_answer::unsatisfiable, 0, 0);
  check("bytes=100-200", 100, range_answer::unsatisfiable, 0, 0);
  check("bytes=-0", 100, range_answer::unsatisfiable, 0, 0);
  check("bytes=0-", 0, range_answer::unsatisfiable, 0, 0);
  // Not understood, so ignored: the whole blob.
  check("bytes=9-1", 100, range_answer::whole, 0, 100);
  check("bytes=0-1,5-6", 100, range_answer::whole, 0, 100);
  check("items=0-1", 100, range_answer::whole, 0, 100);
  check("bytes=a-b", 100, range_answer::whole, 0, 100);
  check("bytes=-", 100, range_answer::whole, 0, 100);

  CHECK(media::etag_matches("\"abc\"", "\"abc\""));
  CHECK(media::etag_matches("W/\"abc\"", "\"abc\""));
  CHECK(media::etag_matches("\"x\", \"abc\"", "\"abc\""));
  CHECK(media::etag_matches("*", "\"abc\""));
  CHECK_FALSE(media::etag_matches("\"abd\"", "\"abc\""));
  CHECK_FALSE(media::etag_matches("abc", "\"abc\""));
}

TEST_CASE("an upload is stored once under its hash and the uploader may read it") {
  service_fixture f;
  auto bytes = random_bytes(300'000, 1);
  auto res = f.upload("alice", bytes, "image/png");
  REQUIRE(res.status == 201);
  auto reply = net::json::parse(res.body);
  auto hash = reply["hash"].get<std::string>();
  CHECK(hash == sha256_of(bytes));
  CHECK(reply["size"] == bytes.size());
  CHECK(reply["mime"] == "image/png");
  CHECK(fs::file_size(f.svc->store().path_of(hash)) == bytes.size());
  CHECK(f.svc->store().path_of(hash) ==
        f.dir / "media" / hash.substr(0, 2) / hash.substr(2, 2) / hash);
  CHECK(f.temp_files() == 0);
  CHECK(media::exists(*f.db, hash));
  CHECK(media::may_read(*f.db, hash, "alice") == storage::answer::yes);
  CHECK(media::may_read(*f.db, hash, "bob") == storage::answer::no);
  auto rec = media::read_record(*f.db, hash);
  REQUIRE(rec);
  CHECK(rec->uploader == "alice");
  CHECK(rec->mime == "image/png");
  CHECK(rec->created == f.clock);

  // The same bytes again, from someone else: same hash, one file, both may read.
  CHECK(f.upload_ok("bob", bytes) == hash);
  CHECK(media::may_read(*f.db, hash, "bob") == storage::answer::yes);
  CHECK(media::read_record(*f.db, hash)->uploader == "alice");
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(f.dir / "media"))
    files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
  CHECK(f.svc->uploads_in_progress() == 0);
}

TEST_CASE("an upload over the limit is refused and leaves no temporary file") {
  media::options opts;
  opts.max_bytes = 10'000;
  service_fixture f{opts};
  // Declared too large: refused before a byte is read.
  net::http_request head;
  head.method = "POST";
  head.content_type = "image/png";
  head.content_length = 10'001;
  auto route = f.svc->upload("alice", head);
  REQUIRE(route.refusal);
  CHECK(route.refusal->status == 413);
  CHECK(net::json::parse(route.refusal->body)["error"] == "too_large");
  // Streamed without a length (chunked): refused when the limit is passed.
  auto res = f.upload("alice", random_bytes(10'001, 2));
  CHECK(res.status == 413);
  CHECK(net::json::parse(res.body)["error"] == "too_large");
  CHECK(f.temp_files() == 0);
  CHECK(f.svc->uploads_in_progress() == 0);
  // Exactly the limit is fine.
  CHECK(f.upload("alice", random_bytes(10'000, 3)).status == 201);
  // No Content-Type: 400.
  CHECK(f.upload("alice", "x", "").status == 400);
}

TEST_CASE("who may read follows uploads and grants and avatars of owners who did not block") {
  service_fixture f;
  auto hash = f.upload_ok("alice", random_bytes(1000, 4));
  CHECK(media::may_read(*f.db, hash, "bob") == storage::answer::no);
  storage::batch b;
  media::grant(b, hash, "bob");
  REQUIRE(f.db->write(b).ok());
  CHECK(media::may_read(*f.db, hash, "bob") == storage::answer::yes);
  CHECK(media::may_read(*f.db, hash, "carol") == storage::answer::no);

  // An avatar is visible to anyone its owner has not blocked.
  f.put(storage::table::avatars, media::pair_key(hash, "dave"));
  CHECK(media::may_read(*f.db, hash, "carol") == storage::answer::yes);
  f.put(storage::table::blocks, media::pair_key("dave", "carol"));
  CHECK(media::may_read(*f.db, hash, "carol") == storage::answer::no);
  CHECK(media::may_read(*f.db, hash, "erin") == storage::answer::yes);
  CHECK(media::may_read(*f.db, hash, "dave") ==
        storage::answer::yes); // owners see their own avatar
  // A second owner with the same avatar who did not block carol shows it again.
  f.put(storage::table::avatars, media::pair_key(hash, "frank"));
  CHECK(media::may_read(*f.db, hash, "carol") == storage::answer::yes);

  CHECK_FALSE(media::exists(*f.db, std::string(64, 'a')));
  CHECK(media::may_read(*f.db, std::string(64, 'a'), "alice") == storage::answer::no);
}

TEST_CASE("retention keeps avatars and pending media and recent blobs and deletes the rest") {
  media::options opts;
  opts.retention_ms = 30 * day_ms;
  opts.retention_batch = 2; // several steps per pass
  service_fixture f{opts};
  auto avatar = f.upload_ok("alice", random_bytes(1000, 10));
  auto pending = f.upload_ok("alice", random_bytes(1000, 11));
  auto old = f.upload_ok("alice", random_bytes(1000, 12));
  auto start = f.clock;
  f.clock += 20 * day_ms;
  auto recent = f.upload_ok("bob", random_bytes(1000, 13));
  storage::batch grants;
  media::grant(grants, old, "bob");
  REQUIRE(f.db->write(grants).ok());
  f.put(storage::table::avatars, media::pair_key(avatar, "alice"));
  f.put(storage::table::media_pending,
        media::pair_key(media::pair_key(pending, "bob"), storage::be64(7)));

  auto full_pass = [&](int64_t now) {
    std::size_t deleted = 0;
    for (int steps = 0; steps < 100; ++steps) {
      auto stats = f.svc->retention_step(now);
      deleted += stats.deleted;
      if (stats.pass_done)
        return deleted;
    }
    FAIL("a retention pass did not end");
    return deleted;
  };

  // Day 29 after the first uploads: nothing is old enough.
  CHECK(full_pass(start + 29 * day_ms) == 0);
  // Day 31: `old` was used 31 days ago and nothing refers to it; the others stay.
  CHECK(full_pass(start + 31 * day_ms) == 1);
  CHECK_FALSE(media::exists(*f.db, old));
  CHECK_FALSE(f.svc->store().contains(old));
  CHECK(media::may_read(*f.db, old, "bob") == storage::answer::no); // grants went with it
  for (auto& kept : {avatar, pending, recent}) {
    CHECK(media::exists(*f.db, kept));
    CHECK(f.svc->store().contains(kept));
  }
  // Day 51: `recent` is 31 days old too; the avatar and the pending item still hold theirs.
  CHECK(full_pass(start + 51 * day_ms) == 1);
  CHECK_FALSE(f.svc->store().contains(recent));
  // The inbox item is acknowledged and the avatar replaced: both may go.
  f.del(storage::table::media_pending,
        media::pair_key(media::pair_key(pending, "bob"), storage::be64(7)));
  f.del(storage::table::avatars, media::pair_key(avatar, "alice"));
  CHECK(full_pass(start + 51 * day_ms) == 2);
  CHECK_FALSE(f.svc->store().contains(avatar));
  CHECK_FALSE(f.svc->store().contains(pending));
  CHECK_FALSE(media::exists(*f.db, pending));
}

TEST_CASE("retention is off by default and a download keeps a blob alive") {
  {
    service_fixture f;
    auto hash = f.upload_ok("alice", random_bytes(1000, 20));
    CHECK(f.svc->retention_step(f.clock + 10'000 * day_ms).deleted == 0);
    CHECK(media::exists(*f.db, hash));
  }
  media::options opts;
  opts.retention_ms = 30 * day_ms;
  opts.used_refresh_ms = 0; // every download counts
  service_fixture f{opts};
  auto hash = f.upload_ok("alice", random_bytes(1000, 21));
  f.clock += 25 * day_ms;
  net::http_request get;
  get.method = "GET";
  CHECK(f.svc->download("alice", hash, get).status == 200);
  f.svc->stop(); // the `used` refresh runs on the pool: let it finish
  CHECK(media::read_record(*f.db, hash)->used == f.clock);
  CHECK(f.svc->retention_step(f.clock + 29 * day_ms).deleted == 0);
  CHECK(f.svc->retention_step(f.clock + 31 * day_ms).deleted == 1);
}
