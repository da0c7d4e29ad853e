#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "storage/db.hpp"
#include "storage/inbox_log.hpp"

using namespace tidings::storage;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidings-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::vector<std::string> items(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back("item-" + std::to_string(i));
  return out;
}

} // namespace

TEST_CASE("an inbox keeps items in seq order and survives a reopen") {
  temp_dir dir;
  {
    auto store = db::open({dir.path.string(), true});
    inbox_log inbox{*store, "bob"};
    CHECK(inbox.next_seq() == 1);
    batch b;
    std::vector<uint64_t> seqs;
    REQUIRE(inbox.append(items(0, 10), b, &seqs).ok());
    CHECK(seqs.front() == 1);
    CHECK(seqs.back() == 10);
    inbox_log other{*store, "bobby"}; // a user whose name extends bob's shares no items
    CHECK(other.size() == 0);
  }
  auto store = db::open({dir.path.string(), true});
  inbox_log inbox{*store, "bob"};
  CHECK(inbox.first_seq() == 1);
  CHECK(inbox.next_seq() == 11);
  auto got = inbox.read(4, 3);
  REQUIRE(got.size() == 3);
  CHECK(got[0].seq == 4);
  CHECK(got[0].item == "item-3");
  CHECK(got[2].seq == 6);
}

TEST_CASE("an acked range is never read again and its seqs are never reused") {
  temp_dir dir;
  {
    auto store = db::open({dir.path.string(), true});
    inbox_log inbox{*store, "alice"};
    batch b;
    REQUIRE(inbox.append(items(0, 5), b).ok());
    batch none;
    REQUIRE(inbox.remove_upto(5, none).ok());
    CHECK(inbox.size() == 0);
    CHECK(inbox.read(0, 100).empty());
  }
  auto store = db::open({dir.path.string(), true});
  inbox_log inbox{*store, "alice"};
  CHECK(inbox.read(0, 100).empty());
  CHECK(inbox.next_seq() == 6);
  batch b;
  std::vector<uint64_t> seqs;
  REQUIRE(inbox.append(items(5, 6), b, &seqs).ok());
  CHECK(seqs == std::vector<uint64_t>{6});
  batch none;
  REQUIRE(inbox.remove_upto(1000, none).ok()); // an ack past the end removes only what exists
  CHECK(inbox.next_seq() == 7);
}

TEST_CASE("a partial ack keeps the rest in order") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), false});
  inbox_log inbox{*store, "carol"};
  batch b;
  REQUIRE(inbox.append(items(0, 300), b).ok());
  batch none;
  REQUIRE(inbox.remove_upto(120, none).ok());
  auto rest = inbox.read(0, 1000);
  REQUIRE(rest.size() == 180);
  CHECK(rest.front().seq == 121);
  for (std::size_t i = 1; i < rest.size(); ++i)
    CHECK(rest[i].seq == rest[i - 1].seq + 1);
}

TEST_CASE("extra changes commit in the same batch as the items") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), true});
  inbox_log inbox{*store, "dave"};
  batch b;
  b.put(table::dedupe, std::string("erin\0c1", 7), "record");
  REQUIRE(inbox.append(items(0, 1), b).ok());
  CHECK(store->get(table::dedupe, std::string("erin\0c1", 7)) == std::string("record"));
}
