// The admission of sessions logging in (net/detail/admission.hpp), on its own with a clock
// passed in: the bound on pending sessions and the retry_ms of the refused ones.

#include <doctest/doctest.h>

#include <vector>

#include "net/detail/admission.hpp"

using tidings::net::detail::admission;
using namespace std::chrono_literals;

TEST_CASE("at most `limit` sessions are pending; a welcome or an end frees a place") {
  std::atomic<int64_t> gauge{0};
  admission a{3, &gauge};
  CHECK(a.enter());
  CHECK(a.enter());
  CHECK(a.enter());
  CHECK(gauge == 3);
  CHECK_FALSE(a.enter());
  CHECK(gauge == 3); // a refusal takes nothing
  a.leave(true);     // welcomed
  CHECK(gauge == 2);
  CHECK(a.enter());
  CHECK_FALSE(a.enter());
  a.leave(false); // the connection ended before its welcome
  CHECK(a.enter());
  CHECK(a.pending() == 3);

  admission unlimited{0, nullptr};
  for (int i = 0; i < 10'000; ++i)
    REQUIRE(unlimited.enter());
  CHECK(unlimited.pending() == 10'000);
}

TEST_CASE("refused clients are spread over the time the node needs for them, not sent back "
          "together") {
  admission a{10, nullptr}; // nothing welcomed yet: 1,000 a second assumed
  auto now = admission::clock::now();
  std::vector<int64_t> retries;
  for (int i = 0; i < 40; ++i)
    retries.push_back(a.retry_ms(now));
  // The first comes back after the minimum, each next one 1 ms later, ±10 %.
  CHECK(retries[0] >= 225);
  CHECK(retries[0] <= 275);
  for (int i = 0; i < 40; ++i) {
    auto place = 250.0 + 1.0 * i;
    CHECK(static_cast<double>(retries[i]) >= place * 0.9 - 1);
    CHECK(static_cast<double>(retries[i]) <= place * 1.1 + 1);
  }
  // Never later than the maximum, however many are refused.
  int64_t last = 0;
  for (int i = 0; i < 40'000; ++i)
    last = a.retry_ms(now);
  CHECK(last <= admission::max_retry.count());
  CHECK(last >= admission::max_retry.count() * 9 / 10);
  // Once the queue's places have passed, a refusal comes back soon again.
  auto later = now + 40s;
  CHECK(a.retry_ms(later) <= 275);
}

TEST_CASE("the places follow the welcomes the node achieved in the last second") {
  admission a{10, nullptr};
  auto now = admission::clock::now();
  CHECK(a.retry_ms(now) <= 275); // takes the first sample
  for (int i = 0; i < 4000; ++i) {
    REQUIRE(a.enter());
    a.leave(true);
  }
  auto second = now + 1s; // 4,000 welcomes in that second: a place every 0.25 ms
  auto first = a.retry_ms(second);
  int64_t last = 0;
  for (int i = 0; i < 3999; ++i)
    last = a.retry_ms(second);
  // The 4,000th refusal's place: 250 ms + 3999 × 0.25 ms, ±10 %.
  CHECK(first <= 275);
  CHECK(static_cast<double>(last) >= (250 + 999.75) * 0.9 - 1);
  CHECK(static_cast<double>(last) <= (250 + 999.75) * 1.1 + 1);
}
