// tidings-bots' reconnect-storm support against a real node: a hold marked until_signal ends
// on SIGUSR1 (so several bots processes start the storm together), and the reconnect phase
// (with the hold after it) reports every session back with its authentication times, latency and
// errors.

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <numeric>

#include "client/http.hpp"
#include "tests/bots/bots_runner.hpp"
#include "tests/support/node_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using namespace tidings::test;
using nlohmann::json;

namespace {

/// The node's gauge `name` from /metrics (-1 if it is missing).
double gauge(const client::endpoint& ep, const std::string& name) {
  auto body = "\n" + client::http_call(ep, "GET", "/metrics").body;
  auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

} // namespace

TEST_CASE("an until_signal hold ends on SIGUSR1 and the storm phase reports every bot back") {
  node_process node{{"--limits.rate=1000000", "--limits.burst=1000000", "--auth.argon2-ops=1",
                     "--auth.argon2-mem-kib=8192"}};
  node.start();
  temp_dir dir;
  constexpr int bots = 12;
  std::ofstream scenario{dir.path / "storm.json"};
  scenario << R"({"name": "storm", "user_prefix": "storm",
    "groups": [{"name": "idle", "bots": 12, "contacts": 0, "behaviour": {"think_ms": null}}],
    "phases": [
      {"name": "log in", "action": "connect", "rate": 0},
      {"name": "wait", "action": "hold", "duration_s": 120, "until_signal": true},
      {"name": "storm", "action": "reconnect", "mode": "drop",
       "offline_ms": {"dist": "uniform", "min": 0, "max": 300}},
      {"name": "after", "action": "hold", "duration_s": 1.5}]})";
  scenario.close();
  auto child = start_bots(
      dir.path, {"--url=" + node.url(), "--scenario=" + (dir.path / "storm.json").string()});
  // Every bot is online (the node says so) before the storm is started by the signal.
  auto ep = node.ep();
  auto end = std::chrono::steady_clock::now() + 60s;
  double authenticated = 0;
  while (authenticated < bots && std::chrono::steady_clock::now() < end)
    authenticated = gauge(ep, "tidings_sessions_authenticated"); // a round trip per poll
  CHECK(authenticated == bots);
  ::kill(child.pid, SIGUSR1);
  auto run = finish_bots(child);
  INFO("tidings-bots output:\n" << run.output);
  CHECK(run.status == 0);
  REQUIRE(run.report.is_object());
  const auto& phases = run.report["phases"];
  REQUIRE(phases.size() >= 4);
  CHECK(phases[1]["name"] == "wait");
  CHECK(phases[1]["duration_s"].get<double>() < 60); // ended by the signal, not its deadline
  // The reconnect phase only issues the commands; the bots come back in the hold after it.
  CHECK(phases[2]["connections"]["established"] == 0);
  const auto& storm = phases[3]["connections"];
  CHECK(storm["established"] == bots);
  auto bins = storm["per_100ms"].get<std::vector<uint64_t>>();
  CHECK(std::accumulate(bins.begin(), bins.end(), uint64_t{0}) == bots);
  auto last = storm["last_auth_s"].get<double>();
  CHECK(last > 0);
  CHECK(last < 1.5); // back within the offline window plus the login
  CHECK(bins.size() == static_cast<std::size_t>(last * 10) + 1);
  check_histogram(storm["latency_ms"], "storm connect");
  CHECK(storm["errors"].empty());
  CHECK(storm["connect_errors"].empty());
  // Each bot dropped its own connection (the close is reported once the socket is gone).
  CHECK(phases[2]["connections"]["closes"].value("1006", 0) + storm["closes"].value("1006", 0) ==
        bots);
  // The signal may come while the bots still read their welcomes: the hold then ends at once.
  CHECK(phases[2]["start_unix_ms"].get<int64_t>() >= phases[1]["start_unix_ms"].get<int64_t>());
  CHECK(phases[0]["connections"]["established"] == bots);
}

TEST_CASE("bots refused with overloaded count it apart, come back after its retry_ms and all log "
          "in") {
  // One session may log in at a time: 60 bots connecting at once are mostly refused at first.
  node_process node{{"--net.max-pending-auth=1", "--limits.rate=1000000", "--limits.burst=1000000",
                     "--auth.argon2-ops=1", "--auth.argon2-mem-kib=8192"}};
  node.start();
  temp_dir dir;
  constexpr int bots = 60;
  std::ofstream scenario{dir.path / "crowd.json"};
  scenario << R"({"name": "crowd", "user_prefix": "crowd",
    "groups": [{"name": "idle", "bots": 60, "contacts": 0, "behaviour": {"think_ms": null}}],
    "phases": [{"name": "log in", "action": "connect", "rate": 0},
               {"name": "after", "action": "hold", "duration_s": 0.2}]})";
  scenario.close();
  auto child = start_bots(
      dir.path, {"--url=" + node.url(), "--scenario=" + (dir.path / "crowd.json").string()});
  auto run = finish_bots(child);
  INFO("tidings-bots output:\n" << run.output);
  CHECK(run.status == 0);
  REQUIRE(run.report.is_object());
  const auto& login = run.report["phases"][0]["connections"];
  CHECK(login["established"] == bots);
  auto refused = login["refused"].value("overloaded", 0);
  CHECK(refused > 0);
  CHECK(login["connect_errors"].empty()); // a refusal is not a connection failure
  CHECK(login["errors"].empty());
  CHECK(run.report["connections"]["failed"] == 0);
  CHECK(run.report["connections"]["refused"].value("overloaded", 0) == refused);
  CHECK(gauge(node.ep(), "tidings_sessions_refused_total") == refused);
  CHECK(gauge(node.ep(), "tidings_sessions_opened_total") == bots); // a refusal opens nothing
}
