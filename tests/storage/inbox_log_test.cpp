#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "storage/db.hpp"
#include "storage/inbox_log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings::storage;
using tidings::test::temp_dir;

namespace {

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
  CHECK(store->get(table::dedupe, std::string("erin\0c1", 7)).value() == "record");
}

TEST_CASE("opening an inbox does not step over the tombstones of its acknowledged items") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), false});
  {
    inbox_log inbox{*store, "carol"};
    batch none;
    REQUIRE(inbox.append(items(0, 3000), none).ok());
    batch extra;
    REQUIRE(inbox.remove_upto(2990, extra).ok());
  }
  std::vector<inbox_entry> got;
  auto cost = measure_reads([&] {
    inbox_log inbox{*store, "carol"};
    REQUIRE(inbox.loaded().ok());
    CHECK(inbox.first_seq() == 2991);
    CHECK(inbox.next_seq() == 3001);
    got = inbox.read(inbox.first_seq(), 100);
  });
  CHECK(cost.tombstones_skipped == 0);
  REQUIRE(got.size() == 10);
  CHECK(got.front().seq == 2991);
}

TEST_CASE("an inbox written before first seqs were kept still finds its first item") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), false});
  {
    inbox_log inbox{*store, "dave"};
    batch none;
    REQUIRE(inbox.append(items(0, 5), none).ok());
    batch old; // as an older version left it: the next seq only, item 1 deleted
    old.del(table::inbox_meta, inbox_log::first_key("dave"));
    old.del(table::inbox, inbox_log::item_key("dave", 1));
    REQUIRE(store->write(old).ok());
  }
  // The one scan of an old inbox steps over the deleted item: the instrument sees tombstones.
  auto cost = measure_reads([&] {
    inbox_log inbox{*store, "dave"};
    CHECK(inbox.first_seq() == 2);
    CHECK(inbox.next_seq() == 6);
  });
  CHECK(cost.tombstones_skipped == 1);
}

TEST_CASE("a failed read of the inbox counters leaves the log unusable, not empty") {
  temp_dir dir;
  db_options opts{dir.path.string(), false};
  bool fail = false;
  opts.read_fault = [&fail](table t, std::string_view) { return fail && t == table::inbox_meta; };
  auto store = db::open(opts);
  {
    inbox_log inbox{*store, "erin"};
    batch none;
    REQUIRE(inbox.append(items(0, 2), none).ok());
  }
  fail = true;
  inbox_log inbox{*store, "erin"};
  CHECK_FALSE(inbox.loaded().ok());
  fail = false;
  inbox_log again{*store, "erin"};
  CHECK(again.loaded().ok());
  CHECK(again.next_seq() == 3);
  auto failing = [&] {
    fail = true;
    return store->get(table::inbox_meta, "erin");
  }();
  CHECK(failing.failed());
  CHECK_FALSE(failing.found());
}

TEST_CASE("the next seq survives a reopen whether items remain, all were acked, or writes failed") {
  temp_dir dir;
  auto store = db::open({dir.path.string(), false});
  {
    inbox_log inbox{*store, "fay"};
    batch none;
    REQUIRE(inbox.append(items(0, 5), none).ok()); // seqs 1..5; no counter written
  }
  {
    inbox_log inbox{*store, "fay"};
    CHECK(inbox.next_seq() == 6); // from the last item
    CHECK(inbox.first_seq() == 1);
    batch extra;
    REQUIRE(inbox.remove_upto(5, extra).ok()); // emptied: the removal records first = 6
    // ...and no counter of its own: the first seq bounds the next one.
    CHECK_FALSE(store->get(table::inbox_meta, "fay").found());
    batch b;
    inbox.stage_append(items(5, 7), b); // seqs 6, 7 reserved, their write lost
  }
  {
    inbox_log inbox{*store, "fay"};
    CHECK(inbox.next_seq() == 6); // 6 and 7 were never written: no one saw them
    CHECK(inbox.first_seq() == 6);
    CHECK(inbox.size() == 0);
    batch b;
    REQUIRE(inbox.append(items(7, 8), b).ok()); // seq 6
    batch c;
    auto first = inbox.stage_remove(6, c); // an ack of 6 staged...
    batch d;
    auto later = inbox.stage_append(items(8, 9), d); // ...while seq 7 is appended
    CHECK(later.front() == 7);
    REQUIRE(store->write(c).ok());
    inbox.removed(first);
    REQUIRE(store->write(d).ok());
  }
  inbox_log inbox{*store, "fay"};
  CHECK(inbox.first_seq() == 7);
  CHECK(inbox.next_seq() == 8);
  auto got = inbox.read(1, 10);
  REQUIRE(got.size() == 1);
  CHECK(got.front().seq == 7);
}
