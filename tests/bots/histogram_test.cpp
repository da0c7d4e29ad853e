// The load test's latency histogram: exact below 128, at most 1/64 coarse above.

#include <doctest/doctest.h>

#include "bots/histogram.hpp"

using tidings::bots::latency_histogram;

TEST_CASE("percentiles of 1 to 100 are exact") {
  latency_histogram h;
  for (uint64_t v = 1; v <= 100; ++v)
    h.record(v);
  CHECK(h.count() == 100);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100);
  CHECK(h.mean() == doctest::Approx(50.5));
  CHECK(h.percentile(0.5) == 50);
  CHECK(h.percentile(0.9) == 90);
  CHECK(h.percentile(0.99) == 99);
  CHECK(h.percentile(0.999) == 100);
  CHECK(h.percentile(1.0) == 100);
  CHECK(h.percentile(0.0) == 1);
}

TEST_CASE("an empty histogram reports zeros") {
  latency_histogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile(0.5) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.buckets().empty());
}

TEST_CASE("large values come back at most 1.6 percent high and never low") {
  latency_histogram h;
  // 1000 values spread over five decades: 1000, 2000, ... 1,000,000 (microseconds).
  for (uint64_t k = 1; k <= 1000; ++k)
    h.record(k * 1000);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto exact = static_cast<uint64_t>(q * 1000 + 0.5) * 1000;
    auto got = h.percentile(q);
    CHECK(got >= exact);
    CHECK(static_cast<double>(got) <= static_cast<double>(exact) * (1.0 + 1.0 / 64));
  }
  CHECK(h.max() == 1'000'000);
  CHECK(h.percentile(1.0) == 1'000'000);
}

TEST_CASE("buckets tile the whole range without gaps") {
  for (std::size_t i = 0; i + 1 < 3776; ++i) {
    CHECK(latency_histogram::upper_bound(i) + 1 == latency_histogram::lower_bound(i + 1));
    CHECK(latency_histogram::index_of(latency_histogram::lower_bound(i)) == i);
    CHECK(latency_histogram::index_of(latency_histogram::upper_bound(i)) == i);
  }
  CHECK(latency_histogram::index_of(UINT64_MAX) == 3775);
  CHECK(latency_histogram::upper_bound(3775) == UINT64_MAX);
}

TEST_CASE("a bucket is at most one sixty-fourth of its lower bound wide") {
  for (std::size_t i = latency_histogram::exact_below; i < 3776; i += 7) {
    auto lo = latency_histogram::lower_bound(i);
    auto width = latency_histogram::upper_bound(i) - lo + 1;
    CHECK(width * 64 <= lo);
  }
}

TEST_CASE("merging equals recording everything in one histogram") {
  latency_histogram a, b, both;
  for (uint64_t v = 0; v < 5000; v += 3) {
    (v % 2 ? a : b).record(v * 17);
    both.record(v * 17);
  }
  a.merge(b);
  CHECK(a.count() == both.count());
  CHECK(a.min() == both.min());
  CHECK(a.max() == both.max());
  for (double q : {0.1, 0.5, 0.9, 0.99})
    CHECK(a.percentile(q) == both.percentile(q));
}

TEST_CASE("the JSON form lists bounds and counts in the chosen unit") {
  latency_histogram h;
  h.record(1500, 3); // 1.5 ms in microseconds
  h.record(20);
  auto j = h.to_json(1000.0);
  CHECK(j["count"] == 4);
  CHECK(j["max"].get<double>() == doctest::Approx(1.5));
  REQUIRE(j["buckets"].size() == 2);
  CHECK(j["buckets"][0][0].get<double>() == doctest::Approx(0.02));
  CHECK(j["buckets"][0][2] == 1);
  CHECK(j["buckets"][1][0].get<double>() <= 1.5);
  CHECK(j["buckets"][1][1].get<double>() >= 1.5);
  CHECK(j["buckets"][1][2] == 3);
  CHECK(j["p50"].get<double>() >= 1.5);
  CHECK(j["p50"].get<double>() <= 1.5 * (1 + 1.0 / 64));
}
