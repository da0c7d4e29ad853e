#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "storage/db.hpp"
#include "storage/group_writer.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings::storage;
using tidings::test::temp_dir;

TEST_CASE("the group writer reports each batch durable in submission order, merging writers") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), true});
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::mutex mtx;
  std::vector<std::pair<int, int>> completed; // (thread, index) in callback order
  std::atomic<int> visible_before_done{0};
  {
    group_writer writer{*store, {}};
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t)
      submitters.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          batch b;
          auto key = std::to_string(t) + "/" + std::to_string(i);
          b.put(table::dedupe, key, "v");
          writer.submit(std::move(b), [&, t, i, key](const status& st) {
            if (!st.ok() || !store->get(table::dedupe, key).found())
              ++visible_before_done; // must never happen: done means written and readable
            std::lock_guard<std::mutex> guard{mtx};
            completed.emplace_back(t, i);
          });
        }
      });
    for (auto& s : submitters)
      s.join();
    auto stats = writer.stats();
    CHECK(stats.batches <= threads * per_thread);
  } // the destructor writes what is still queued
  CHECK(visible_before_done == 0);
  REQUIRE(completed.size() == threads * per_thread);
  std::vector<int> last(threads, -1);
  for (auto [t, i] : completed) {
    CHECK(i == last[t] + 1); // each submitter's batches complete in its order
    last[t] = i;
  }
}

TEST_CASE("a group writer merges what waits into fewer writes and refuses after stop") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), true});
  group_writer writer{*store, {std::chrono::microseconds(20'000), 16'384}};
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) {
    batch b;
    b.put(table::dedupe, "k" + std::to_string(i), "v");
    writer.submit(std::move(b), [&](const status& st) {
      if (st.ok())
        ++done;
    });
  }
  writer.stop();
  CHECK(done == 200);
  // Every batch waited at most for one interval: far fewer writes than batches.
  CHECK(writer.stats().writes < 50);
  CHECK(writer.stats().batches == 200);
  bool refused = false;
  batch late;
  late.put(table::dedupe, "late", "v");
  writer.submit(std::move(late), [&](const status& st) { refused = !st.ok(); });
  CHECK(refused);
  CHECK_FALSE(store->get(table::dedupe, "late").found());
}

TEST_CASE("a write carries only its own ops, after a small group, a large one or a refused one") {
  // Each writing thread reuses one RocksDB batch between groups (storage/db.cpp). Were anything
  // of an earlier group left in it, the next write from that thread would put back keys that
  // another thread deleted meanwhile.
  temp_dir dir;
  bool fail = false;
  db_options opts{dir.path.string(), false};
  opts.write_fault = [&fail] { return fail; };
  auto store = db::open(opts);
  auto delete_elsewhere = [&](const std::string& key) {
    std::thread other{[&] {
      batch d;
      d.del(table::dedupe, key);
      REQUIRE(store->write(d).ok());
    }};
    other.join();
  };
  auto write_one = [&](const std::string& key) {
    batch b;
    b.put(table::dedupe, key, "1");
    return store->write(b).ok();
  };
  REQUIRE(write_one("small"));
  delete_elsewhere("small");
  REQUIRE(write_one("next"));
  CHECK_FALSE(store->get(table::dedupe, "small").found());

  batch big;
  std::string value(64 * 1024, 'v');
  big.reserve(100, 100 * (value.size() + 8));
  for (int i = 0; i < 100; ++i) // 6.4 MiB: more than a thread keeps between groups
    big.put(table::dedupe, "big/" + std::to_string(i), value);
  REQUIRE(store->write(big).ok());
  delete_elsewhere("big/0");
  REQUIRE(write_one("after-big"));
  CHECK_FALSE(store->get(table::dedupe, "big/0").found());
  CHECK(store->get(table::dedupe, "big/99").found());

  fail = true;
  CHECK_FALSE(write_one("refused"));
  fail = false;
  REQUIRE(write_one("after-refused"));
  CHECK(store->get(table::dedupe, "after-refused").found());
  CHECK_FALSE(store->get(table::dedupe, "refused").found());
}
