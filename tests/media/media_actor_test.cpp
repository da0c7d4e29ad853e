// The media actor without a network: ranges, access rules, uploads through its HTTP side,
// grants, retention with an injected clock, and the races between them (writes held in the
// group writer so that "in flight" is a state the test controls, not a timing).

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "actors/directory.hpp"
#include "actors/inbox.hpp"
#include "actors/media.hpp"
#include "actors/media_http.hpp"
#include "media/access.hpp"
#include "media/index.hpp"
#include "media/range.hpp"
#include "media/sha256.hpp"
#include "net/codec.hpp"
#include "storage/inbox_log.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int64_t day_ms = 24LL * 3600 * 1000;

/// A node's actors (actor_fixture) with a media actor, its blob store and its HTTP side, on a
/// clock the test sets.
struct media_fixture : actor_fixture {
  std::atomic<int64_t> clock{1'000 * day_ms};
  media::options opts;
  std::unique_ptr<media::blob_store> blobs;
  media_service media;
  std::unique_ptr<media_http> http;

  explicit media_fixture(media::options o = {}) : opts(std::move(o)) {
    ctx.now = [this] { return clock.load(); };
    opts.root = dir / "media";
    blobs = std::make_unique<media::blob_store>(opts.root);
    media = sys->spawn(media_actor, &ctx, blobs.get(), nullptr, opts);
    ctx.media = media;
    http = std::make_unique<media_http>(*sys, ctx, *blobs, opts);
  }

  ~media_fixture() {
    caf::anon_send_exit(media, caf::exit_reason::user_shutdown);
    http.reset();
    media = nullptr;
    ctx.media = nullptr;
    shutdown();
  }

  /// Streams `bytes` through an upload sink in chunks; returns the answer.
  net::http_response upload(const std::string& user, const std::string& bytes,
                            std::string mime = "application/octet-stream") {
    net::http_request head;
    head.method = "POST";
    head.target = "/v1/media";
    head.content_type = std::move(mime);
    auto route = http->upload(user, head);
    if (route.refusal)
      return *route.refusal;
    REQUIRE(route.sink);
    for (std::size_t at = 0; at < bytes.size(); at += 1000) {
      if (auto refused =
              route.sink->write(bytes.data() + at, std::min<std::size_t>(1000, bytes.size() - at)))
        return *refused;
    }
    auto answer = std::make_shared<std::promise<net::http_response>>();
    route.sink->finish([answer](net::http_response res) { answer->set_value(std::move(res)); });
    route.sink.reset();
    auto future = answer->get_future();
    REQUIRE(future.wait_for(30s) == std::future_status::ready);
    return future.get();
  }

  std::string upload_ok(const std::string& user, const std::string& bytes) {
    auto res = upload(user, bytes);
    REQUIRE(res.status == 201);
    return net::json::parse(res.body)["hash"].get<std::string>();
  }

  /// Asks the media actor and waits (10 s at most) for an answer of type R, or its error.
  template <class R, class... Ts> caf::expected<R> ask(Ts... xs) {
    caf::scoped_actor self{*sys};
    caf::expected<R> out{caf::sec::request_timeout};
    self->request(media, 10s, xs...)
        .receive([&](const R& r) { out = r; }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  bool may_read(const std::string& hash, const std::string& user) {
    auto answer = ask<bool>(atom::may_read::value, hash, user);
    REQUIRE(answer);
    return *answer;
  }

  /// One retention step at the clock's time, answered once its deletions are done.
  retention_stats step() {
    caf::scoped_actor self{*sys};
    retention_stats out;
    self->request(media, 10s, atom::retain::value)
        .receive(
            [&](uint64_t examined, uint64_t deleted, bool done) {
              out = {examined, deleted, done};
            },
            [&](caf::error&) { FAIL("retention step failed"); });
    return out;
  }

  /// Retention steps until the pass ends; the blobs deleted.
  std::size_t full_pass() {
    std::size_t deleted = 0;
    for (int steps = 0; steps < 100; ++steps) {
      auto stats = step();
      deleted += stats.deleted;
      if (stats.pass_done)
        return deleted;
    }
    FAIL("a retention pass did not end");
    return deleted;
  }

  void put(storage::table t, const std::string& key) {
    storage::batch b;
    b.put(t, key, "");
    REQUIRE(store->write(b).ok());
  }

  void del(storage::table t, const std::string& key) {
    storage::batch b;
    b.del(t, key);
    REQUIRE(store->write(b).ok());
  }

  std::size_t temp_files() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(blobs->temp_dir()), fs::directory_iterator{}));
  }
};

/// Retention after 30 days, and blobs that are already older than that.
struct retention_fixture : media_fixture {
  retention_fixture() : media_fixture{with_retention()} {}

  static media::options with_retention() {
    media::options opts;
    opts.retention_ms = 30 * day_ms;
    return opts;
  }

  /// Uploads `bytes` as alice, then lets 31 days pass: unused long enough, named by nothing.
  std::string old_upload(const std::string& bytes) {
    auto hash = upload_ok("alice", bytes);
    clock += 31 * day_ms;
    return hash;
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

/// Waits (10 s at most) until `done()` holds.
template <class F> bool eventually(F done) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms))
    if (done())
      return true;
  return done();
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
  media_fixture f;
  auto bytes = random_bytes(300'000, 1);
  auto res = f.upload("alice", bytes, "image/png");
  REQUIRE(res.status == 201);
  auto reply = net::json::parse(res.body);
  auto hash = reply["hash"].get<std::string>();
  CHECK(hash == sha256_of(bytes));
  CHECK(reply["size"] == bytes.size());
  CHECK(reply["mime"] == "image/png");
  CHECK(fs::file_size(f.blobs->path_of(hash)) == bytes.size());
  CHECK(f.blobs->path_of(hash) == f.dir / "media" / hash.substr(0, 2) / hash.substr(2, 2) / hash);
  CHECK(f.temp_files() == 0);
  CHECK(media::exists(*f.store, hash));
  CHECK(f.may_read(hash, "alice"));
  CHECK_FALSE(f.may_read(hash, "bob"));
  auto rec = media::read_record(*f.store, hash);
  REQUIRE(rec);
  CHECK(rec->uploader == "alice");
  CHECK(rec->mime == "image/png");
  CHECK(rec->created == f.clock);

  // The same bytes again, from someone else: same hash, one file, both may read.
  CHECK(f.upload_ok("bob", bytes) == hash);
  CHECK(f.may_read(hash, "bob"));
  CHECK(media::read_record(*f.store, hash)->uploader == "alice");
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(f.dir / "media"))
    files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
  CHECK(f.http->uploads_in_progress() == 0);
  // A download gets the first upload's type and size.
  auto blob = f.ask<media_blob>(atom::blob_info::value, hash, std::string{"bob"});
  REQUIRE(blob);
  CHECK(blob->size == bytes.size());
  CHECK(blob->mime == "image/png");
  CHECK(f.ask<media_blob>(atom::blob_info::value, hash, std::string{"carol"}).error() ==
        make_error(errc::forbidden));
  CHECK(
      f.ask<media_blob>(atom::blob_info::value, std::string(64, 'a'), std::string{"bob"}).error() ==
      make_error(errc::not_found));
}

TEST_CASE("an upload over the limit is refused and leaves no temporary file") {
  media::options opts;
  opts.max_bytes = 10'000;
  media_fixture f{opts};
  // Declared too large: refused before a byte is read.
  net::http_request head;
  head.method = "POST";
  head.content_type = "image/png";
  head.content_length = 10'001;
  auto route = f.http->upload("alice", head);
  REQUIRE(route.refusal);
  CHECK(route.refusal->status == 413);
  CHECK(net::json::parse(route.refusal->body)["error"] == "too_large");
  // Streamed without a length (chunked): refused when the limit is passed.
  auto res = f.upload("alice", random_bytes(10'001, 2));
  CHECK(res.status == 413);
  CHECK(net::json::parse(res.body)["error"] == "too_large");
  CHECK(f.temp_files() == 0);
  CHECK(f.http->uploads_in_progress() == 0);
  // Exactly the limit is fine.
  CHECK(f.upload("alice", random_bytes(10'000, 3)).status == 201);
  // No Content-Type: 400.
  CHECK(f.upload("alice", "x", "").status == 400);
}

TEST_CASE("who may read follows uploads and grants and avatars of owners who did not block") {
  media_fixture f;
  for (auto user : {"dave", "frank"})
    f.add_account(user);
  auto hash = f.upload_ok("alice", random_bytes(1000, 4));
  CHECK_FALSE(f.may_read(hash, "bob"));
  CHECK(f.ask<bool>(atom::grant::value, hash, std::string{"bob"}, uint64_t{0}) == true);
  CHECK(f.may_read(hash, "bob"));
  CHECK_FALSE(f.may_read(hash, "carol"));

  // Only a user who may read it takes it as an avatar.
  auto take = [&](const char* owner, bool on) {
    return f.ask<bool>(atom::avatar::value, hash, std::string{owner}, on);
  };
  CHECK(take("dave", true) == false);
  CHECK_FALSE(f.may_read(hash, "carol"));
  REQUIRE(f.ask<bool>(atom::grant::value, hash, std::string{"dave"}, uint64_t{0}));
  CHECK(take("dave", true) == true);
  // An avatar is visible to anyone its owner has not blocked (asked of the owner's shard).
  CHECK(f.may_read(hash, "carol"));
  f.put(storage::table::blocks, media::pair_key("dave", "carol"));
  CHECK_FALSE(f.may_read(hash, "carol"));
  CHECK(f.ask<media_blob>(atom::blob_info::value, hash, std::string{"carol"}).error() ==
        make_error(errc::forbidden));
  CHECK(f.may_read(hash, "erin"));
  CHECK(f.ask<media_blob>(atom::blob_info::value, hash, std::string{"erin"}));
  CHECK(f.may_read(hash, "dave")); // owners see their own avatar
  // A second owner with the same avatar who did not block carol shows it again.
  REQUIRE(f.ask<bool>(atom::grant::value, hash, std::string{"frank"}, uint64_t{0}));
  CHECK(take("frank", true) == true);
  CHECK(f.may_read(hash, "carol"));
  // Both leave it: it is nobody's avatar any more.
  CHECK(take("frank", false) == true);
  CHECK(take("dave", false) == true);
  CHECK_FALSE(f.may_read(hash, "erin"));
  CHECK_FALSE(media::any_with_prefix(*f.store, storage::table::avatars, hash));

  auto unknown = std::string(64, 'a');
  CHECK_FALSE(media::exists(*f.store, unknown));
  CHECK_FALSE(f.may_read(unknown, "alice"));
  CHECK(f.ask<bool>(atom::grant::value, unknown, std::string{"bob"}, uint64_t{0}).error() ==
        make_error(errc::not_found));
  CHECK(f.ask<bool>(atom::avatar::value, unknown, std::string{"bob"}, true) == false);
  // The media tables' part of the rules as a function of the stored data.
  CHECK(media::is_reader(*f.store, hash, "bob") == storage::answer::yes);
  CHECK(media::is_reader(*f.store, unknown, "alice") == storage::answer::no);
  // A failed read is not a refusal.
  f.fail_reads(storage::table::media_readers);
  CHECK(f.ask<bool>(atom::may_read::value, hash, std::string{"bob"}).error() ==
        make_error(errc::unavailable));
}

TEST_CASE("a grant that cannot be written is an error and grants nothing") {
  media_fixture f;
  auto hash = f.upload_ok("alice", random_bytes(1000, 5));
  f.fail_next_writes(1);
  CHECK(f.ask<bool>(atom::grant::value, hash, std::string{"bob"}, uint64_t{0}).error() ==
        make_error(errc::unavailable));
  CHECK_FALSE(f.may_read(hash, "bob"));
  CHECK(f.ask<bool>(atom::grant::value, hash, std::string{"bob"}, uint64_t{0}) == true);
  CHECK(f.may_read(hash, "bob"));
}

TEST_CASE("retention keeps avatars and pending media and recent blobs and deletes the rest") {
  media::options opts;
  opts.retention_ms = 30 * day_ms;
  opts.retention_batch = 2; // several steps per pass
  media_fixture f{opts};
  // Claims are checked with the recipients' inboxes, through the directory.
  auto directory = f.sys->spawn(directory_actor, &f.ctx);
  f.ctx.directory = directory;
  f.add_account("bob");
  f.add_account("carol");
  {
    // bob's inbox holds items 1..7 (unacknowledged); carol's holds nothing.
    storage::inbox_log log{*f.store, "bob"};
    storage::batch b;
    log.stage_append(std::vector<std::string>(7, "item"), b);
    REQUIRE(f.store->write(b).ok());
  }
  auto avatar = f.upload_ok("alice", random_bytes(1000, 10));
  auto pending = f.upload_ok("alice", random_bytes(1000, 11));
  auto old = f.upload_ok("alice", random_bytes(1000, 12));
  auto acked = f.upload_ok("alice", random_bytes(1000, 14));
  auto start = f.clock.load();
  f.clock += 20 * day_ms;
  auto recent = f.upload_ok("bob", random_bytes(1000, 13));
  REQUIRE(f.ask<bool>(atom::grant::value, old, std::string{"bob"}, uint64_t{0}));
  REQUIRE(f.ask<bool>(atom::avatar::value, avatar, std::string{"alice"}, true) == true);
  // Media messages: bob's item 7 and carol's item 3 name `pending`; carol's item 1 `acked`.
  REQUIRE(f.ask<bool>(atom::grant::value, pending, std::string{"bob"}, uint64_t{7}));
  REQUIRE(f.ask<bool>(atom::grant::value, pending, std::string{"carol"}, uint64_t{3}));
  REQUIRE(f.ask<bool>(atom::grant::value, acked, std::string{"carol"}, uint64_t{1}));
  f.clock = start + 20 * day_ms;

  // Day 49: nothing is old enough.
  f.clock = start + 49 * day_ms;
  CHECK(f.full_pass() == 0);
  // Day 51: `old` and `acked` were used 31 days ago; carol's inbox no longer holds item 1, so
  // nothing names `acked`; the others stay (bob still holds item 7 of `pending`).
  f.clock = start + 51 * day_ms;
  CHECK(f.full_pass() == 3); // old, acked, recent (uploaded on day 20 too)
  for (auto& gone : {old, acked, recent}) {
    CHECK_FALSE(media::exists(*f.store, gone));
    CHECK_FALSE(f.blobs->contains(gone));
  }
  CHECK_FALSE(f.may_read(old, "bob")); // grants went with it
  for (auto& kept : {avatar, pending}) {
    CHECK(media::exists(*f.store, kept));
    CHECK(f.blobs->contains(kept));
  }
  // carol's claim on `pending` was found acknowledged and removed; bob's stays.
  auto claims = media::claims(*f.store, pending, 10);
  REQUIRE(claims.value);
  REQUIRE(claims.value->size() == 1);
  CHECK(claims.value->front().recipient == "bob");
  CHECK(claims.value->front().seq == 7);
  // The avatar is left: it may go.
  REQUIRE(f.ask<bool>(atom::avatar::value, avatar, std::string{"alice"}, false));
  CHECK(f.full_pass() == 1);
  CHECK_FALSE(f.blobs->contains(avatar));
  CHECK(f.blobs->contains(pending));
  f.stop({directory});
}

TEST_CASE("retention is off by default and a download keeps a blob alive") {
  {
    media_fixture f;
    auto hash = f.upload_ok("alice", random_bytes(1000, 20));
    f.clock += 10'000 * day_ms;
    CHECK(f.step().deleted == 0);
    CHECK(media::exists(*f.store, hash));
  }
  media::options opts;
  opts.retention_ms = 30 * day_ms;
  opts.used_refresh_ms = 0; // every download counts
  media_fixture f{opts};
  auto hash = f.upload_ok("alice", random_bytes(1000, 21));
  f.clock += 25 * day_ms;
  auto now = f.clock.load();
  REQUIRE(f.ask<media_blob>(atom::blob_info::value, hash, std::string{"alice"}));
  // The refresh of `used` is written after the answer.
  CHECK(eventually([&] { return media::read_record(*f.store, hash)->used == now; }));
  f.clock = now + 29 * day_ms;
  CHECK(f.step().deleted == 0);
  f.clock = now + 31 * day_ms;
  CHECK(f.step().deleted == 1);
}

TEST_CASE("a grant in flight while retention looks at its hash keeps the blob") {
  retention_fixture f;
  auto hash = f.old_upload(random_bytes(1000, 30));
  f.hold_writes();
  caf::scoped_actor self{*f.sys};
  bool granted = false;
  auto grant =
      self->request(f.media, 10s, atom::grant::value, hash, std::string{"bob"}, uint64_t{0});
  // The grant's write is waiting in the group writer while retention examines the hash.
  auto stats = f.step();
  CHECK(stats.examined == 1);
  CHECK(stats.deleted == 0);
  f.hold_writes(false);
  grant.receive([&](bool) { granted = true; }, [&](caf::error&) {});
  CHECK(granted);
  CHECK(f.blobs->contains(hash));
  CHECK(f.may_read(hash, "bob"));
  // The grant was a use: the next pass keeps the blob too, until it is unused again.
  CHECK(f.full_pass() == 0);
  f.clock += 31 * day_ms;
  CHECK(f.full_pass() == 1);
  CHECK_FALSE(f.blobs->contains(hash));
}

TEST_CASE("a grant after retention decided to delete the blob fails and grants nothing") {
  retention_fixture f;
  auto hash = f.old_upload(random_bytes(1000, 31));
  f.hold_writes();
  caf::scoped_actor self{*f.sys};
  auto retention = self->request(f.media, 10s, atom::retain::value);
  // Retention's delete is waiting in the group writer: the blob is already gone for grants.
  CHECK(f.ask<bool>(atom::grant::value, hash, std::string{"bob"}, uint64_t{0}).error() ==
        make_error(errc::not_found));
  CHECK_FALSE(f.may_read(hash, "alice"));
  f.hold_writes(false);
  uint64_t deleted = 0;
  retention.receive([&](uint64_t, uint64_t d, bool) { deleted = d; }, [&](caf::error&) {});
  CHECK(deleted == 1);
  CHECK_FALSE(f.blobs->contains(hash));
  CHECK_FALSE(f.store->get(storage::table::media_readers, media::pair_key(hash, "bob")).found());
}

TEST_CASE("an upload of bytes that retention is deleting is stored anew") {
  retention_fixture f;
  auto bytes = random_bytes(1000, 32);
  auto hash = f.old_upload(bytes);
  f.hold_writes();
  caf::scoped_actor self{*f.sys};
  auto retention = self->request(f.media, 10s, atom::retain::value);
  CHECK_FALSE(f.may_read(hash, "alice")); // the step has run: the delete is in flight
  auto again = std::async(std::launch::async, [&] { return f.upload("bob", bytes); });
  CHECK(again.wait_for(200ms) == std::future_status::timeout); // waits for the deletion
  f.hold_writes(false);
  retention.receive([](uint64_t, uint64_t, bool) {}, [](caf::error&) {});
  auto res = again.get();
  CHECK(res.status == 201);
  CHECK(f.blobs->contains(hash));
  auto rec = media::read_record(*f.store, hash);
  REQUIRE(rec);
  CHECK(rec->uploader == "bob");
  CHECK(f.may_read(hash, "bob"));
  CHECK_FALSE(f.may_read(hash, "alice"));
}

TEST_CASE("a media message is sent only once the recipient's grant is durable") {
  media_fixture f;
  f.add_account("bob");
  auto hash = f.upload_ok("alice", random_bytes(1000, 40));
  auto content =
      net::encode(net::json{{"kind", "image"},
                            {"media", {{"hash", hash}, {"mime", "image/png"}, {"size", 1000}}}},
                  net::encoding::msgpack);
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto send = [&] {
    caf::scoped_actor self{*f.sys};
    caf::error err;
    bool sent = false;
    self->request(inbox, 10s, deliver_request{"bob", "alice", "c1", content, hash})
        .receive([&](const sent_reply&) { sent = true; }, [&](caf::error& e) { err = e; });
    return sent ? errc{} : to_errc(err);
  };
  // The grant's write fails (the one write after the send): an error, not `sent`, and nothing
  // stored that the recipient would see.
  f.fail_next_writes(1);
  CHECK(send() == errc::unavailable);
  CHECK_FALSE(f.may_read(hash, "bob"));
  CHECK(storage::inbox_log(*f.store, "bob").size() == 0);
  // The retry is stored, and by then bob may read the media it names.
  CHECK(send() == errc{});
  CHECK(f.may_read(hash, "bob"));
  CHECK(storage::inbox_log(*f.store, "bob").size() == 1);
  // The grant carries the claim of bob's item on the blob.
  auto claims = media::claims(*f.store, hash, 10);
  REQUIRE(claims.value);
  REQUIRE(claims.value->size() == 1);
  CHECK(claims.value->front().recipient == "bob");
  CHECK(claims.value->front().seq == 1);
  f.stop({inbox});
}

TEST_CASE("in a cluster the copies being fetched from other nodes are bounded: a download of "
          "one more blob is refused as overloaded, one of a blob being fetched joins it") {
  // This node is "a"; every hash the test names is homed on "b", whose gate keeps every chunk
  // request unanswered, so a fetch stays under way. (Declared first: outlives the actors.)
  cluster::view view{"a", {cluster::member{"b", "127.0.0.1", 1}}};
  media::options opts;
  opts.max_fetches = 1;
  actor_fixture f;
  opts.root = f.dir / "media";
  media::blob_store blobs{opts.root};
  media::blob_store cache{opts.root / "cache"};
  auto peer = f.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
    auto held = std::make_shared<std::vector<caf::response_promise>>();
    return {[self, held](atom::read_chunk, const std::string&, uint64_t, uint32_t) {
      held->push_back(self->make_response_promise());
      return held->back();
    }};
  });
  view.set_up("b", peer, 0);
  f.ctx.cluster = &view;
  auto hash_on_b = [&](unsigned seed) {
    for (unsigned i = seed;; ++i) {
      auto h = sha256_of(std::to_string(i));
      if (view.home(h) == "b")
        return h;
    }
  };
  auto one = hash_on_b(0);
  auto other = hash_on_b(1000);
  REQUIRE(one != other);
  auto media = f.sys->spawn(media_actor, &f.ctx, &blobs, &cache, opts);
  caf::scoped_actor self{*f.sys};
  auto first = self->request(media, 30s, atom::cached::value, one, uint64_t{1000});
  auto joined = self->request(media, 30s, atom::cached::value, one, uint64_t{1000});
  errc refused{};
  self->request(media, 10s, atom::cached::value, other, uint64_t{1000})
      .receive([](const std::string&) {}, [&](const caf::error& err) { refused = to_errc(err); });
  CHECK(refused == errc::overloaded);
  // The peer goes away: the fetch under way fails, for both of its downloads.
  caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
  int failed = 0;
  for (auto* pending : {&first, &joined})
    pending->receive([](const std::string&) {}, [&](const caf::error&) { ++failed; });
  CHECK(failed == 2);
  caf::anon_send_exit(media, caf::exit_reason::user_shutdown);
}
