// tidings-bots against a real node: the smoke scenario passes with consistent figures, and a
// run whose recipients can never come online reports the loss and exits non-zero.

#include <doctest/doctest.h>

#include <fstream>

#include "tests/bots/bots_runner.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/sessions.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using namespace tidings::test;
using nlohmann::json;

namespace {

/// A node without rate limits in the way and with cheap password hashing.
std::vector<std::string> node_args() {
  return {"--limits.rate=1000000", "--limits.burst=1000000", "--auth.argon2-ops=1",
          "--auth.argon2-mem-kib=8192"};
}

} // namespace

TEST_CASE("the smoke scenario passes against a real node with consistent figures") {
  node_process node{node_args()};
  node.start();
  temp_dir dir;
  auto run =
      run_bots(dir.path, {"--url=" + node.url(),
                          "--scenario=" + std::string{TIDINGS_SCENARIO_DIR} + "/smoke.json"});
  INFO("tidings-bots output:\n" << run.output);
  CHECK(run.status == 0);
  REQUIRE(run.report.is_object());
  const auto& r = run.report;
  CHECK(r["ok"] == true);
  CHECK(r["failures"].empty());
  CHECK(r["bots"] == 16);
  const auto& m = r["messages"];
  auto sent = m["sent"].get<uint64_t>();
  CHECK(sent > 0);
  CHECK(sent == m["received"].get<uint64_t>() + m["lost"].get<uint64_t>());
  CHECK(m["lost"] == 0);
  CHECK(m["duplicates"] == 0);
  CHECK(m["misdelivered"] == 0);
  CHECK(m["mid_conflicts"] == 0);
  CHECK(m["unanswered"] == 0);
  CHECK(m["started"].get<uint64_t>() == sent + m["failed"].get<uint64_t>());
  CHECK(m["raw_received"].get<uint64_t>() >= m["received"].get<uint64_t>());
  CHECK(r["receipts"]["delivered"].get<uint64_t>() == m["received"].get<uint64_t>());
  CHECK(r["receipts"]["missing"] == 0);
  CHECK(r["receipts"]["read"].get<uint64_t>() > 0);
  CHECK(r["receipts"]["read"].get<uint64_t>() <= m["received"].get<uint64_t>());
  for (const char* h : {"send_to_sent", "send_to_receive", "send_to_delivered", "connect"})
    check_histogram(r["latency_ms"][h], h);
  CHECK(r["throughput"]["sent_per_s"].get<double>() > 0);
  CHECK(r["connections"]["established"].get<uint64_t>() >= 16);
  CHECK(r["counters"]["acks"].get<uint64_t>() > 0);
  CHECK(r["phases"].size() == 6); // five of the file, then the drain
  CHECK(!r["timeline"].empty());
  CHECK(run.output.find("RESULT: PASS") != std::string::npos);
}

TEST_CASE("a run whose recipients never come online reports lost messages and fails") {
  node_process node{node_args()};
  node.start();
  temp_dir dir;
  // Two senders with valid tokens; two recipients whose stored tokens the node refuses.
  std::ofstream users{dir.path / "users.txt"};
  for (int i = 0; i < 2; ++i) {
    auto u = make_user(node.ep(), "sender");
    users << u.name << ' ' << u.password << ' ' << u.token << '\n';
  }
  for (int i = 0; i < 2; ++i) {
    auto u = make_user(node.ep(), "absent");
    users << u.name << ' ' << u.password << " not-a-valid-token\n";
  }
  users.close();
  std::ofstream scenario{dir.path / "absent.json"};
  scenario << R"({
    "drain_timeout_s": 2,
    "groups": [
      {"name": "senders", "bots": 2, "contacts": 2, "contacts_in": "absent",
       "behaviour": {"think_ms": 20}},
      {"name": "absent", "bots": 2, "contacts": 0, "behaviour": {"think_ms": null}}
    ],
    "phases": [
      {"action": "connect", "group": "senders"},
      {"action": "connect", "group": "absent", "timeout_s": 2},
      {"action": "hold", "duration_s": 0.5}
    ]
  })";
  scenario.close();
  auto run = run_bots(dir.path,
                      {"--url=" + node.url(), "--scenario=" + (dir.path / "absent.json").string(),
                       "--users-file=" + (dir.path / "users.txt").string()});
  INFO("tidings-bots output:\n" << run.output);
  CHECK(run.status == 1);
  REQUIRE(run.report.is_object());
  const auto& m = run.report["messages"];
  CHECK(run.report["ok"] == false);
  CHECK(m["sent"].get<uint64_t>() > 0);
  CHECK(m["lost"] == m["sent"]);
  CHECK(m["received"] == 0);
  CHECK(run.report["drain_timed_out"] == true);
  CHECK(run.report["users"]["reused"] == 4);
  CHECK(run.output.find("RESULT: FAIL") != std::string::npos);
  CHECK(run.output.find("messages lost") != std::string::npos);
}

TEST_CASE("an invalid scenario ends tidings-bots with status 2 naming the field") {
  temp_dir dir;
  std::ofstream scenario{dir.path / "bad.json"};
  scenario << R"({"groups": [{"name": "g", "bots": 2, "contacts": 1}],
                  "phases": [{"action": "connect", "rat": 5}]})";
  scenario.close();
  auto run = run_bots(
      dir.path, {"--url=http://127.0.0.1:9", "--scenario=" + (dir.path / "bad.json").string()});
  INFO("tidings-bots output:\n" << run.output);
  CHECK(run.status == 2);
  CHECK(run.output.find("bad.json: phases[0].rat: unknown field") != std::string::npos);
  CHECK(run.report.is_null()); // no run, no report
}
