#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "storage/db.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings::storage;
using tidings::test::temp_dir;

namespace {

std::size_t sst_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".sst")
      ++n;
  return n;
}

/// Writes `bytes` of values into the inbox table, then waits (bounded) for a level-0 file:
/// RocksDB flushes a full memtable in the background. Returns the SST files seen.
std::size_t files_after_writing(const db_options& opts, std::size_t bytes) {
  auto store = db::open(opts);
  const std::string value(1000, 'x');
  for (std::size_t i = 0, written = 0; written < bytes; ++i, written += value.size()) {
    batch b;
    b.put(table::inbox, be64(i), value);
    REQUIRE(store->write(b).ok());
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto n = sst_files(opts.path);
  while (n == 0 && std::chrono::steady_clock::now() < deadline && opts.memtable_bytes > 0) {
    batch b; // each write gives a scheduled flush a chance to finish; bounded by the deadline
    b.put(table::dedupe, "poll", "");
    REQUIRE(store->write(b).ok());
    n = sst_files(opts.path);
  }
  return n;
}

} // namespace

TEST_CASE("memtable_bytes sets the size at which a table's memtable is flushed") {
  // 3 MiB written: a 1 MiB memtable has been flushed to level-0 files; RocksDB's default
  // (64 MiB) holds it all in memory.
  temp_dir small_dir, default_dir;
  db_options small{small_dir.path.string(), false};
  small.memtable_bytes = std::size_t{1} << 20;
  CHECK(files_after_writing(small, 3u << 20) >= 1);
  db_options plain{default_dir.path.string(), false};
  CHECK(files_after_writing(plain, 3u << 20) == 0);
}
