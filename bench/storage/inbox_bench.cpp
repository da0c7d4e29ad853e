// inbox_bench: what one durable inbox write costs, with and without fsync, and what grouping
// buys. Measures storage alone (no actors, no network): the floor under `sent` latency.
//
//   build/bench/storage/inbox_bench [--items=N] [--inboxes=M] [--threads=T] [--dir=PATH]
//
// Prints, for sync=true and sync=false: appends per second (one item + dedupe record per
// batch, the way the inbox actor stores a message), the median and p99 latency of one
// append, and the rate of acks (DeleteRange of 100 items).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/db.hpp"
#include "storage/inbox_log.hpp"

using namespace tidings::storage;
using clock_type = std::chrono::steady_clock;

namespace {

struct result {
  double appends_per_sec;
  double p50_us;
  double p99_us;
  double acks_per_sec;
};

std::string arg(int argc, char** argv, const char* name, std::string fallback) {
  std::string prefix = std::string{"--"} + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string{argv[i]}.rfind(prefix, 0) == 0)
      return std::string{argv[i]}.substr(prefix.size());
  return fallback;
}

result run(const std::string& dir, bool sync, int items, int inboxes, int threads) {
  std::filesystem::remove_all(dir);
  auto store = db::open({dir, sync});
  std::string body(200, 'x'); // a typical short text message with its envelope
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(threads));
  auto start = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& lat = latencies[static_cast<std::size_t>(t)];
      for (int u = t; u < inboxes; u += threads) {
        inbox_log inbox{*store, "user" + std::to_string(u)};
        for (int i = 0; i < items / inboxes; ++i) {
          auto t0 = clock_type::now();
          batch b;
          b.put(table::dedupe, "sender\0cid" + std::to_string(u) + "-" + std::to_string(i),
                "{mid,ts}");
          if (!inbox.append({body}, b).ok())
            std::abort();
          lat.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        }
      }
    });
  }
  for (auto& w : workers)
    w.join();
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&all](double p) { return all[static_cast<std::size_t>(p * (all.size() - 1))]; };
  // Acks: remove 100 items at a time from each inbox.
  auto ack_start = clock_type::now();
  int acks = 0;
  for (int u = 0; u < inboxes; ++u) {
    inbox_log inbox{*store, "user" + std::to_string(u)};
    for (uint64_t upto = 100; upto < inbox.next_seq(); upto += 100, ++acks) {
      batch none;
      if (!inbox.remove_upto(upto, none).ok())
        std::abort();
    }
  }
  double ack_secs = std::chrono::duration<double>(clock_type::now() - ack_start).count();
  return {static_cast<double>(all.size()) / secs, pct(0.5), pct(0.99), acks / ack_secs};
}

} // namespace

int main(int argc, char** argv) {
  int items = std::stoi(arg(argc, argv, "items", "20000"));
  int inboxes = std::stoi(arg(argc, argv, "inboxes", "100"));
  int threads = std::stoi(arg(argc, argv, "threads", "2"));
  auto dir = arg(argc, argv, "dir",
                 (std::filesystem::temp_directory_path() / "tidings-inbox-bench").string());
  std::printf("items=%d inboxes=%d threads=%d dir=%s\n", items, inboxes, threads, dir.c_str());
  std::printf("%-6s %14s %10s %10s %12s\n", "sync", "appends/s", "p50 us", "p99 us", "acks/s");
  for (bool sync : {true, false}) {
    auto r = run(dir, sync, items, inboxes, threads);
    std::printf("%-6s %14.0f %10.1f %10.1f %12.0f\n", sync ? "true" : "false", r.appends_per_sec,
                r.p50_us, r.p99_us, r.acks_per_sec);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
