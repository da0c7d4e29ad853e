#include <doctest/doctest.h>

#include "actors/presence_book.hpp"

using tidings::presence_book;

namespace {

int64_t last_seen(const presence_book& book, const std::string& user) {
  const auto* e = book.find(user);
  REQUIRE(e != nullptr);
  return e->last_seen;
}

bool online(const presence_book& book, const std::string& user) {
  return book.find(user)->online;
}

} // namespace

TEST_CASE("a foreground session makes the user online and sets last seen") {
  presence_book book;
  CHECK(book.set_state("bob", "s1", true, 1000));
  CHECK(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 1000);
}

TEST_CASE("a background session is not online and never moves last seen") {
  presence_book book;
  book.load("bob", 500);
  CHECK_FALSE(book.set_state("bob", "s1", false, 1000));
  CHECK_FALSE(online(book, "bob"));
  book.touch("bob", "s1", 2000); // anything a background session does
  CHECK(last_seen(book, "bob") == 500);
  CHECK_FALSE(book.end("bob", "s1", 3000)); // the end of a background session
  CHECK(last_seen(book, "bob") == 500);
}

TEST_CASE("user activity in the foreground moves last seen and heartbeats keep it fresh") {
  presence_book book;
  book.set_state("bob", "s1", true, 1000);
  book.touch("bob", "s1", 1500); // send, read, ping, profile_set
  CHECK(last_seen(book, "bob") == 1500);
  book.touch("bob", "s1", 61500); // a foreground heartbeat a minute later
  CHECK(last_seen(book, "bob") == 61500);
}

TEST_CASE("going to the background ends foreground use at that moment") {
  presence_book book;
  book.set_state("bob", "s1", true, 1000);
  CHECK(book.set_state("bob", "s1", false, 4000));
  CHECK_FALSE(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 4000);
  book.touch("bob", "s1", 9000); // background now: ignored
  CHECK(last_seen(book, "bob") == 4000);
  CHECK(book.set_state("bob", "s1", true, 10000)); // back to the front
  CHECK(last_seen(book, "bob") == 10000);
}

TEST_CASE("the end of a foreground session sets last seen and goes offline") {
  presence_book book;
  book.set_state("bob", "s1", true, 1000);
  CHECK(book.end("bob", "s1", 7000));
  CHECK_FALSE(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 7000);
}

TEST_CASE("an ended session's late events are ignored") {
  presence_book book;
  book.set_state("bob", "old", true, 1000);
  CHECK(book.end("bob", "old", 2000));
  book.touch("bob", "old", 3000);
  CHECK_FALSE(book.end("bob", "old", 4000));
  CHECK_FALSE(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 2000);
}

TEST_CASE("with several devices the user is online while any is in the foreground") {
  presence_book book;
  CHECK(book.set_state("bob", "phone", true, 1000));
  CHECK_FALSE(book.set_state("bob", "laptop", true, 2000)); // online already
  CHECK_FALSE(book.set_state("bob", "phone", false, 3000)); // the laptop is still in front
  CHECK(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 3000);
  CHECK(book.end("bob", "laptop", 5000)); // the last foreground device goes
  CHECK_FALSE(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 5000);
}

TEST_CASE("a background device never moves last seen, a foreground one does") {
  presence_book book;
  book.set_state("bob", "phone", false, 1000); // in the pocket, receiving
  book.set_state("bob", "laptop", true, 2000);
  book.touch("bob", "phone", 3000);  // ignored: background
  book.touch("bob", "laptop", 2500); // activity on the laptop
  CHECK(last_seen(book, "bob") == 2500);
  CHECK_FALSE(book.end("bob", "phone", 9000)); // a background session ending: nothing moves
  CHECK(online(book, "bob"));
  CHECK(last_seen(book, "bob") == 2500);
  book.touch("bob", "laptop", 10000);
  CHECK(last_seen(book, "bob") == 10000);
}

TEST_CASE("last seen is persisted at most once per interval but at once at session end") {
  presence_book book;
  book.set_state("bob", "s1", true, 0);
  auto first = book.due(0, 60000);
  REQUIRE(first.size() == 1); // never persisted before: due
  for (int64_t t = 1000; t < 60000; t += 1000) {
    book.touch("bob", "s1", t); // a heartbeat every second
    CHECK(book.due(t, 60000).empty());
  }
  auto later = book.due(60000, 60000);
  REQUIRE(later.size() == 1);
  CHECK(later[0].second == 59000);
  book.touch("bob", "s1", 61000);
  book.end("bob", "s1", 62000);
  auto at_end = book.due(62000, 60000);
  REQUIRE(at_end.size() == 1);
  CHECK(at_end[0].second == 62000);
  CHECK(book.due(63000, 60000).empty());
}

TEST_CASE("a value loaded from storage never overrides a newer one in memory") {
  presence_book book;
  book.set_state("bob", "s1", true, 5000);
  book.load("bob", 3000);
  CHECK(last_seen(book, "bob") == 5000);
  book.evict_idle();
  CHECK(book.known("bob")); // online users stay
  book.end("bob", "s1", 6000);
  book.due(6000, 60000);
  book.evict_idle();
  CHECK_FALSE(book.known("bob"));
}
