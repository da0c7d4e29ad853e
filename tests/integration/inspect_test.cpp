// tidings-inspect, /metrics and the node's log against a real node (issue 11).

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

const std::string secret = "inspect-test-secret";

std::vector<std::string> admin_args(std::vector<std::string> more = {}) {
  return test_args([&] {
    std::vector<std::string> a{"--admin.port=0", "--admin.secret=" + secret};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }());
}

/// The body of GET /metrics passes `promtool check metrics` (which reads it on stdin).
void check_with_promtool(const std::string& body, const std::filesystem::path& dir) {
  auto file = dir / "metrics.txt";
  std::ofstream{file} << body;
  std::string out;
  auto status = run_shell("promtool check metrics < " + quoted(file.string()) + " 2>&1", out);
  INFO("promtool: " << out);
  CHECK(status == 0);
}

/// Waits (bounded) until `fact()` holds.
bool eventually(const std::function<bool()>& fact, std::chrono::seconds deadline = 15s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (fact())
      return true;
    std::this_thread::sleep_for(50ms); // polling the node's answers, bounded
  }
  return fact();
}

} // namespace

TEST_CASE("the inspector reports users sessions pending messages and blocks as built") {
  node_process node{admin_args()};
  node.start();
  auto admin = admin_address(node);
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto carol = make_user(node.ep(), "carol");
  {
    auto b = open_session(node.ep(), bob.token);
    REQUIRE(b.request(json{{"type", "block"}, {"user", carol.name}})["type"] == "ok");
    REQUIRE(b.request(json{{"type", "contacts_add"}, {"user", alice.name}})["type"] == "ok");
    REQUIRE(b.request(json{{"type", "contacts_add"}, {"user", carol.name}})["type"] == "ok");
  } // bob goes offline
  auto a = open_session(node.ep(), alice.token);
  send_texts(a, bob.name, "pending", 3);
  auto c = open_session(node.ep(), carol.token, tidings::net::encoding::json, false);

  auto user = inspect_json(admin, secret, {"user", bob.name});
  REQUIRE(user["answered"] == true);
  auto r = user["report"];
  CHECK(r["exists"] == true);
  CHECK(r["inbox"]["depth"] == 3);
  CHECK(r["inbox"]["oldest_ts"].get<int64_t>() > 0);
  CHECK(r["session"] == false);
  CHECK(r["contacts"] == 2);
  CHECK(r["blocked"] == 1);
  CHECK(r["last_seen"].get<int64_t>() > 0); // bob was in the foreground, then left

  auto online = inspect_json(admin, secret, {"user", alice.name})["report"];
  CHECK(online["session"] == true);
  CHECK(online["foreground"] == true);
  CHECK(online["session_node"] == "local");
  CHECK(online["inbox"]["depth"] == 0);
  CHECK(online["inbox"]["running"] == true);
  CHECK(online["inbox"]["attached"] == true);
  auto background = inspect_json(admin, secret, {"user", carol.name})["report"];
  CHECK(background["session"] == true);
  CHECK(background["foreground"] == false);
  CHECK(inspect_json(admin, secret, {"user", "nobody-such"})["report"]["exists"] == false);

  auto inboxes = inspect_json(admin, secret, {"inboxes", "--top", "5"});
  REQUIRE(inboxes["deepest"].size() >= 1);
  CHECK(inboxes["deepest"][0]["user"] == bob.name);
  CHECK(inboxes["deepest"][0]["depth"] == 3);
  CHECK(inboxes["items"] == 3);

  // bob's session actor ends a moment after his connection: wait for it (bounded).
  json n;
  CHECK(eventually([&] {
    n = inspect_json(admin, secret, {"nodes"})["nodes"][0];
    return n["answered"] == true && n["report"]["sessions"] == 2;
  }));
  CHECK(n["id"] == "local");
  CHECK(n["up"] == true);
  CHECK(n["report"]["connections"] == 2);
  CHECK(n["report"]["stored"] == 3);
  CHECK(n["report"]["version"].get<std::string>().size() > 0);

  auto actors = inspect_json(admin, secret, {"actors", "--top", "3"});
  auto report = actors["nodes"][0]["report"];
  CHECK(report["kinds"]["inbox"].get<int>() >= 2);
  CHECK(report["kinds"]["session"] == 2);
  bool directory = false;
  bool alice_inbox = false;
  for (const auto& p : report["probes"]) {
    directory |= p["kind"] == "directory" && p["handled"].get<uint64_t>() > 0;
    alice_inbox |= p["kind"] == "inbox" && p["name"] == alice.name;
  }
  CHECK(directory);
  CHECK(alice_inbox);

  auto ring = inspect_json(admin, secret, {"ring", bob.name});
  CHECK(ring["members"].size() == 1);
  CHECK(ring["members"][0]["share"] == 1.0);
  CHECK(ring["user"]["home"] == "local");

  // The people's view: aligned tables.
  auto table = run_inspect({"--node=" + admin, "--secret=" + secret, "user", bob.name});
  REQUIRE(table.status == 0);
  CHECK(table.out.find("3 items, oldest") != std::string::npos);
  CHECK(table.out.find("blocked    1") != std::string::npos);
}

TEST_CASE("top --once prints one frame with every node and a total") {
  node_process node{admin_args()};
  node.start();
  auto admin = admin_address(node);
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto b = open_session(node.ep(), bob.token);
  send_texts(a, bob.name, "top", 20);
  auto run = run_inspect({"--node=" + admin, "--secret=" + secret, "top", "--once"});
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  std::istringstream lines{run.out};
  std::string line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    std::istringstream words{line};
    std::vector<std::string> row{std::istream_iterator<std::string>{words}, {}};
    if (!row.empty())
      rows.push_back(row);
  }
  REQUIRE(rows.size() >= 4);
  CHECK(rows[0][0] == "tidings");
  CHECK(rows[1][0] == "NODE");
  // NODE STATE CONNS SESSIONS STORED/S PUSHED/S P50 P99 ITEMS MAILBOX BUSIEST
  REQUIRE(rows[2].size() == 11);
  CHECK(rows[2][0] == "local");
  CHECK(rows[2][1] == "up");
  CHECK(rows[2][2] == "2");
  CHECK(rows[2][3] == "2");
  CHECK(std::stod(rows[2][7]) > 0); // send p99: 20 sends within the last 10 s
  CHECK(rows.back()[0] == "total");
}

TEST_CASE("a wrong or missing admin secret is refused and nothing is answered") {
  node_process node{admin_args()};
  node.start();
  auto admin = admin_address(node);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--node=" + admin, "--secret=wrong", "nodes"},
           {"--node=" + admin, "--secret=wrong", "user", "alice", "--json"},
           {"--node=" + admin, "nodes"}}) {
    auto run = run_inspect(args);
    CHECK(run.status == 1);
    CHECK(run.out.empty());
    CHECK(run.err.find("wrong or missing admin secret") != std::string::npos);
  }
  CHECK(run_inspect({"--node=" + admin, "--secret=" + secret, "nodes"}).status == 0);
  CHECK(run_inspect({"--node=" + admin, "--secret=" + secret, "frobnicate"}).status == 2);
}

TEST_CASE("without admin options a node opens no admin port") {
  node_process node{test_args()};
  node.start();
  CHECK_THROWS(admin_address(node));
  node_process half{test_args({"--admin.port=0"})};
  CHECK_THROWS(half.start()); // a port without a secret: the node refuses to start
}

TEST_CASE("metrics pass promtool and move as messages are sent") {
  node_process node{admin_args({"--admin.census-interval-s=1"})};
  node.start();
  auto ep = node.ep();
  check_with_promtool(client::http_call(ep, "GET", "/metrics").body, node.data_dir());
  auto sends = metric(ep, "tidings_send_latency_seconds_count");
  auto pushed = metric(ep, "tidings_items_pushed_total");
  auto logins = metric(ep, "tidings_logins_total");
  auto accounts = metric(ep, "tidings_http_request_duration_seconds_count{route=\"accounts\"}");
  auto closed = metric(ep, "tidings_sessions_closed_total{code=\"1000\"}");
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  CHECK(metric(ep, "tidings_logins_total") == logins + 2);
  CHECK(metric(ep, "tidings_http_request_duration_seconds_count{route=\"accounts\"}") ==
        accounts + 2);
  {
    auto a = open_session(ep, alice.token);
    send_texts(a, bob.name, "m", 7);
    CHECK(metric(ep, "tidings_send_latency_seconds_count") == sends + 7);
    CHECK(metric(ep, "tidings_send_latency_seconds_bucket{le=\"+Inf\"}") == sends + 7);
    CHECK(metric(ep, "tidings_sessions_authenticated") == 1);
    // The census (every second here) finds bob's 7 items.
    CHECK(eventually([&] { return metric(ep, "tidings_inbox_items") == 7; }));
    CHECK(metric(ep, "tidings_inbox_depth_bucket{le=\"10\"}") == 1);
    CHECK(metric(ep, "tidings_inbox_depth_bucket{le=\"1\"}") == 0);
    auto b = open_session(ep, bob.token);
    receive_items(b, "msg", 7);
    CHECK(metric(ep, "tidings_items_pushed_total") >= pushed + 7);
    a.close();
  }
  CHECK(eventually(
      [&] { return metric(ep, "tidings_sessions_closed_total{code=\"1000\"}") >= closed + 1; }));
  CHECK(metric(ep, "tidings_login_failures_total") == 0);
  check_with_promtool(client::http_call(ep, "GET", "/metrics").body, node.data_dir());
}

TEST_CASE("the log writes one JSON line per event and never a token or password") {
  node_process node{admin_args({"--log.format=json", "--log.level=debug"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  {
    auto a = open_session(node.ep(), alice.token);
    a.close();
  }
  auto closed = [&] {
    for (const auto& line : node.recent_output())
      if (line.find("\"connection closed\"") != std::string::npos)
        return true;
    return false;
  };
  REQUIRE(eventually(closed));
  bool opened = false;
  bool login = false;
  for (const auto& line : node.recent_output()) {
    if (line.rfind("[node_process]", 0) == 0)
      continue; // the test harness's own note
    INFO(line);
    auto event = json::parse(line, nullptr, false);
    REQUIRE_FALSE(event.is_discarded());
    CHECK(event.contains("ts"));
    CHECK(event.contains("level"));
    CHECK(line.find(alice.token) == std::string::npos);
    CHECK(line.find(alice.password) == std::string::npos);
    if (event["msg"] == "connection opened")
      opened = event.contains("conn");
    if (event["msg"] == "login")
      login = event["user"] == alice.name;
    if (event["msg"] == "connection closed") {
      CHECK(event["user"] == alice.name);
      CHECK(event["code"] == 1000);
    }
  }
  CHECK(opened);
  CHECK(login);
}

TEST_CASE("the log level filters events and text lines keep the start-up line") {
  node_process quiet{test_args({"--log.level=error"})};
  quiet.start();
  auto alice = make_user(quiet.ep(), "alice");
  open_session(quiet.ep(), alice.token).close();
  node_process chatty{test_args({"--log.level=info"})};
  chatty.start();
  auto bob = make_user(chatty.ep(), "bob");
  open_session(chatty.ep(), bob.token).close();
  auto shows = [](const node_process& n, const std::string& text) {
    for (const auto& line : n.recent_output())
      if (line.find(text) != std::string::npos)
        return true;
    return false;
  };
  REQUIRE(eventually([&] { return shows(chatty, "connection closed"); }));
  CHECK(shows(chatty, "connection opened conn="));
  CHECK(shows(chatty, "user=" + bob.name));
  CHECK(shows(quiet, "listening on "));
  CHECK_FALSE(shows(quiet, "connection opened"));
  CHECK_FALSE(shows(quiet, "login"));
  node_process loud{test_args({"--log.level=loud"})};
  CHECK_THROWS(loud.start()); // exits 2 before listening
}
