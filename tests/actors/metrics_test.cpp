// Striped counters and latency histograms of /metrics.

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "actors/metrics.hpp"

using namespace tidings;

TEST_CASE("a striped counter sums the adds of every thread") {
  counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&c] {
      for (int i = 0; i < 10'000; ++i)
        c.add();
    });
  for (auto& t : threads)
    t.join();
  CHECK(c.load() == 80'000);
}

TEST_CASE("a latency histogram puts observations in buckets and interpolates quantiles") {
  latency_histogram h;
  for (int i = 0; i < 90; ++i)
    h.observe(400); // <= 0.5 ms
  for (int i = 0; i < 10; ++i)
    h.observe(20'000); // (10, 25] ms
  auto s = h.read();
  CHECK(s.count() == 100);
  CHECK(s.sum_us == 90 * 400 + 10 * 20'000);
  CHECK(s.counts[0] == 90);
  CHECK(s.counts[5] == 10);
  CHECK(s.quantile_ms(0.5) == doctest::Approx(0.5 * 50.0 / 90.0));
  CHECK(s.quantile_ms(0.99) == doctest::Approx(10.0 + 15.0 * 0.9));
  CHECK(latency_histogram::snapshot{}.quantile_ms(0.5) == -1);
  h.observe(400);
  CHECK(h.read().since(s).count() == 1);
}

TEST_CASE("the rendering is Prometheus text with cumulative buckets") {
  node_metrics m;
  m.send_latency.observe(700);
  m.send_latency.observe(30'000'000); // beyond the last bound
  m.closed(4004);
  m.closed(1234);
  auto text = m.render();
  CHECK(text.find("tidings_send_latency_seconds_bucket{le=\"0.0005\"} 0\n") != std::string::npos);
  CHECK(text.find("tidings_send_latency_seconds_bucket{le=\"0.001\"} 1\n") != std::string::npos);
  CHECK(text.find("tidings_send_latency_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("tidings_send_latency_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("tidings_sessions_closed_total{code=\"4004\"} 1\n") != std::string::npos);
  CHECK(text.find("tidings_sessions_closed_total{code=\"other\"} 1\n") != std::string::npos);
  CHECK(text.find("# TYPE tidings_http_request_duration_seconds histogram\n") != std::string::npos);
}
