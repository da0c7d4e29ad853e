// readiness (/readyz) without a network: the drain, the storage probe and cluster formation.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <caf/all.hpp>

#include "actors/readiness.hpp"
#include "storage/db.hpp"
#include "storage/group_writer.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using tidings::test::temp_dir;

namespace {

/// check() and wait (bounded) for its answer, which may come from the writer thread.
readiness::verdict ask(readiness& r) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<readiness::verdict> got;
  r.check([&](const readiness::verdict& v) {
    std::lock_guard<std::mutex> g{m};
    got = v;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock{m};
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); }));
  return *got;
}

} // namespace

TEST_CASE("readiness: ready on a writable store, not ready once the store refuses writes or "
          "the node drains") {
  temp_dir dir;
  std::atomic<bool> failing{false};
  storage::db_options opts{dir.path.string(), true};
  opts.write_fault = [&] { return failing.load(); };
  auto store = storage::db::open(opts);
  storage::group_writer writer{*store, {}};
  std::atomic<int64_t> now{1'000'000};
  readiness r{&writer, nullptr, [&] { return now.load(); }, 10'000};
  r.started();
  auto v = ask(r);
  CHECK(v.ready);
  CHECK(readiness::body(v) == R"({"status":"ready"})");
  CHECK(store->get(storage::table::inbox_meta, "").found()); // the probe wrote

  failing = true;
  v = ask(r); // within probe_reuse: the last probe's result stands
  CHECK(v.ready);
  now += readiness::probe_reuse.count();
  v = ask(r);
  CHECK_FALSE(v.ready);
  REQUIRE(v.reasons.size() == 1);
  CHECK(v.reasons[0].rfind("storage: ", 0) == 0);
  failing = false;
  now += readiness::probe_reuse.count();
  CHECK(ask(r).ready);

  r.start_draining();
  v = ask(r);
  CHECK_FALSE(v.ready);
  CHECK(v.reasons == std::vector<std::string>{"draining: the node is stopping"});
  CHECK(readiness::body(v) ==
        R"({"reasons":["draining: the node is stopping"],"status":"not ready"})");
  writer.stop();
}

TEST_CASE("readiness: a cluster node is ready once every peer came up, or after the form "
          "timeout, and stays ready when a peer goes down later") {
  temp_dir dir;
  auto store = storage::db::open({dir.path.string(), true});
  storage::group_writer writer{*store, {}};
  std::vector<cluster::member> peers{{"n2", "127.0.0.1", 7002}, {"n3", "127.0.0.1", 7003}};
  std::atomic<int64_t> now{5'000'000};
  auto clock = [&] { return now.load(); };
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // A peer is up when the view holds its gate: any live actor stands in for it.
  auto gate = sys.spawn([] { return caf::behavior{[](int) {}}; });

  cluster::view members{"n1", peers};
  readiness r{&writer, &members, clock, 10'000};
  r.started();
  auto v = ask(r);
  CHECK_FALSE(v.ready);
  REQUIRE(v.reasons.size() == 1);
  CHECK(v.reasons[0] == "cluster forming: waiting for n2, n3 (at most 10 s after the start)");
  members.set_up("n2", gate, now);
  v = ask(r);
  CHECK(v.reasons.at(0) == "cluster forming: waiting for n3 (at most 10 s after the start)");
  members.set_up("n3", gate, now);
  CHECK(ask(r).ready);
  members.set_down("n2", now);
  CHECK(ask(r).ready); // formed once: a peer down later is the cluster's business

  cluster::view alone{"n1", peers};
  readiness late{&writer, &alone, clock, 10'000};
  late.started();
  CHECK_FALSE(ask(late).ready);
  now += 10'000;
  CHECK(ask(late).ready); // nobody came, but the node must serve its own users
  writer.stop();
  caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
}
