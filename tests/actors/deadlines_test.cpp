// deadlines: requests whose timeouts an actor keeps itself instead of CAF's clock thread.

#include <chrono>
#include <future>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include "actors/deadlines.hpp"
#include "actors/messages.hpp"

using namespace std::chrono_literals;
using tidings::deadlines;

TEST_CASE("deadlines: what is settled never expires, what is not expires once") {
  deadlines book;
  std::vector<int> expired;
  auto a = book.start(0ms, [&] { expired.push_back(1); });
  auto b = book.start(0ms, [&] { expired.push_back(2); });
  auto c = book.start(0ms, [&] { expired.push_back(3); });
  CHECK(book.size() == 3);
  CHECK(book.settle(b));
  CHECK_FALSE(book.settle(b)); // settled twice: the second answer is dropped
  CHECK(book.size() == 2);
  CHECK(book.expire(deadlines::clock::now() + 1s) == 0);
  CHECK(expired == std::vector<int>{1, 3});
  CHECK_FALSE(book.settle(a)); // expired: its late answer is dropped
  CHECK_FALSE(book.settle(c));
  CHECK(book.expire(deadlines::clock::now() + 1s) == 0);
  CHECK(expired.size() == 2); // nothing runs twice
  CHECK(book.empty());
}

TEST_CASE("deadlines: only what is due expires; ids stay findable across compaction") {
  deadlines book;
  int expired = 0;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 1000; ++i)
    ids.push_back(book.start(1h, [&] { ++expired; }));
  // Answers out of order, most of them: the front is trimmed and the vector compacted.
  for (std::size_t i = 0; i < ids.size(); i += 2)
    CHECK(book.settle(ids[i]));
  for (std::size_t i = 1; i < 900; i += 2)
    CHECK(book.settle(ids[i]));
  CHECK(book.size() == 50);
  CHECK(book.expire() == 50); // none is due yet
  CHECK(expired == 0);
  auto late = book.start(3h, [&] { expired += 1000; });
  CHECK(book.expire(deadlines::clock::now() + 2h) == 1);
  CHECK(expired == 50);
  CHECK(book.settle(late));
  CHECK(book.empty());
}

TEST_CASE("deadlines: an expiry handler may start another request") {
  deadlines book;
  int runs = 0;
  book.start(0ms, [&] {
    ++runs;
    for (int i = 0; i < 100; ++i) // enough to reallocate the vector under the loop
      book.start(1h, [&] { runs += 1000; });
  });
  CHECK(book.expire(deadlines::clock::now() + 1s) == 100);
  CHECK(runs == 1);
}

namespace {

using clock_type = deadlines::clock;

/// Answers `int` requests with x + 1, or holds the promise of -1 until told to answer it.
struct holder_state {
  std::vector<caf::response_promise> held;
};

caf::behavior holder(caf::stateful_actor<holder_state>* self) {
  return {
      [self](int x) -> caf::result<int> {
        if (x >= 0)
          return x + 1;
        self->state.held.push_back(self->make_response_promise());
        return caf::delegated<int>{};
      },
      [self](tidings::atom::stop) {
        for (auto& rp : self->state.held)
          rp.deliver(42);
        self->state.held.clear();
      },
  };
}

/// Asks `dest` through its deadlines; reports what happened to each request to the test.
struct asker_state {
  deadlines book;
  std::vector<std::string> outcomes;
};

caf::behavior asker(caf::stateful_actor<asker_state>* self) {
  return {
      [self](caf::actor dest, int x) {
        self->state.book.request(self, dest, 30s, x)
            .then([self](int y) { self->state.outcomes.push_back("value " + std::to_string(y)); },
                  [self](const caf::error& err) {
                    self->state.outcomes.push_back(err == caf::sec::request_timeout
                                                       ? "timeout"
                                                       : "error " + caf::to_string(err));
                  });
      },
      [self](tidings::atom::timer) { self->state.book.expire(clock_type::now() + 1h); },
      [self](tidings::atom::list) { return self->state.outcomes; },
  };
}

} // namespace

TEST_CASE("deadlines: an answered request runs its handler; a lost answer times out once") {
  caf::actor_system_config cfg;
  tidings::register_types(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor me{sys};
  auto dest = sys.spawn(holder);
  auto who = sys.spawn(asker);
  auto outcomes = [&] {
    std::vector<std::string> out;
    me->request(who, 10s, tidings::atom::list::value)
        .receive([&](const std::vector<std::string>& xs) { out = xs; },
                 [&](const caf::error& err) { FAIL("asker: " << caf::to_string(err)); });
    return out;
  };
  me->send(who, dest, 1);
  me->send(who, dest, -1); // its answer is held back
  // (The asker handles its mailbox in order: once `list` is answered, both requests went out
  // and the first answer, sent right away, is either in or on its way; ask until it is in.)
  std::vector<std::string> seen;
  for (int i = 0; i < 1000 && seen.empty(); ++i)
    seen = outcomes();
  CHECK(seen == std::vector<std::string>{"value 2"});
  me->send(who, tidings::atom::timer::value); // the held request's deadline has passed
  CHECK(outcomes() == std::vector<std::string>{"value 2", "timeout"});
  // The late answer is dropped: the handler of that request ran once, with the timeout.
  me->send(dest, tidings::atom::stop::value);
  me->send(who, dest, 5); // queued behind the late answer at the asker
  for (int i = 0; i < 1000 && seen.size() < 3; ++i)
    seen = outcomes();
  CHECK(seen == std::vector<std::string>{"value 2", "timeout", "value 6"});
  // A request to an actor that is gone fails at once (CAF bounces it), no deadline needed.
  me->send_exit(dest, caf::exit_reason::user_shutdown);
  me->wait_for(dest);
  me->send(who, dest, 7);
  for (int i = 0; i < 1000 && seen.size() < 4; ++i)
    seen = outcomes();
  REQUIRE(seen.size() == 4);
  CHECK(seen[3].rfind("error", 0) == 0);
  me->send_exit(who, caf::exit_reason::user_shutdown);
}

TEST_CASE("deadlines: random starts, answers and expiries agree with a plain model") {
  // The model: a map of waiting ids. Answers come in any order, some never (they expire).
  std::mt19937 rng{12345};
  deadlines book;
  std::map<uint64_t, bool> waiting; // id -> expired by the book (its handler ran)
  std::size_t expiries = 0;
  auto now = deadlines::clock::now();
  for (int step = 0; step < 20000; ++step) {
    auto roll = rng() % 100;
    if (roll < 50 || waiting.empty()) {
      auto id = book.start(1h, [&expiries] { ++expiries; });
      CHECK(waiting.emplace(id, false).second);
    } else if (roll < 98) {
      // Mostly the oldest few, sometimes any: the head stays busy now and then.
      auto pick = waiting.begin();
      std::advance(pick, static_cast<long>(
                             rng() % std::min<std::size_t>(waiting.size(), roll < 90 ? 3 : 1000)));
      CHECK(book.settle(pick->first));
      CHECK_FALSE(book.settle(pick->first));
      waiting.erase(pick);
    } else {
      auto before = expiries;
      CHECK(book.expire(now + 2h) == 0); // everything waiting is due
      CHECK(expiries - before == waiting.size());
      for (auto& [id, _] : waiting)
        CHECK_FALSE(book.settle(id)); // already expired: the late answer is dropped
      waiting.clear();
    }
    REQUIRE(book.size() == waiting.size());
  }
}
