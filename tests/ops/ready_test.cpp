// /healthz and /readyz, the drain on SIGTERM, and the registration policy, on real nodes.

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "tests/integration/fixtures.hpp"

using namespace tidings::test;
namespace client = tidings::client;

namespace {

/// Calls GET `path` until `pred` holds for the response (at most `deadline`); returns it.
client::http_response poll_until(const client::endpoint& ep, const std::string& path,
                                 const std::function<bool(const client::http_response&)>& pred,
                                 std::chrono::milliseconds deadline = 10s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto res = client::http_call(ep, "GET", path, {}, {}, {}, 2s);
    if (pred(res) || std::chrono::steady_clock::now() > until)
      return res;
    std::this_thread::sleep_for(20ms); // polling an HTTP endpoint: nothing to wait on
  }
}

} // namespace

TEST_CASE("a serving node is live and ready") {
  node_process node{test_args()};
  node.start();
  auto health = client::http_call(node.ep(), "GET", "/healthz");
  CHECK(health.status == 200);
  auto ready = client::http_call(node.ep(), "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.json_body()["status"] == "ready");
  CHECK(client::http_call(node.ep(), "HEAD", "/readyz").status == 200);
  CHECK(client::http_call(node.ep(), "POST", "/readyz", "{}").status == 400);
  // Many at once: all answered (they share the probe writes).
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i)
    callers.emplace_back(
        [&] { ok += client::http_call(node.ep(), "GET", "/readyz").status == 200; });
  for (auto& t : callers)
    t.join();
  CHECK(ok == 20);
  CHECK(node.stop() == 0);
}

TEST_CASE("on SIGTERM /readyz answers 503 at once while the node still serves, then it stops") {
  node_process node{test_args({"--net.drain-ms=1500"})};
  node.start();
  auto user = make_user(node.ep(), "drain");
  auto ws = open_session(node.ep(), user.token);
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  auto ready = poll_until(
      node.ep(), "/readyz", [](auto& r) { return r.status == 503; }, 1000ms);
  CHECK(ready.status == 503);
  CHECK(ready.json_body()["status"] == "not ready");
  CHECK(ready.json_body()["reasons"][0].get<std::string>().find("draining") == 0);
  // Still live and still serving while the load balancer moves new clients elsewhere.
  CHECK(client::http_call(node.ep(), "GET", "/healthz").status == 200);
  settle(ws);
  auto other = make_user(node.ep(), "late"); // even a new login: nothing is refused yet
  CHECK(!other.token.empty());
  // The drain ends on its own: the session is closed with 1001 and the node exits 0.
  auto until = std::chrono::steady_clock::now() + 15s;
  while (!ws.closed() && std::chrono::steady_clock::now() < until)
    ws.receive(500ms);
  CHECK(ws.close_code() == 1001);
  auto status = node.wait_for_exit(15s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  auto out = node.recent_output_text();
  CHECK(out.find("draining on signal 15") != std::string::npos);
  CHECK(out.find("draining on signal 15") < out.find("stopping on signal"));
}

TEST_CASE("a second signal during the drain stops the node at once") {
  node_process node{test_args({"--net.drain-ms=60000"})};
  node.start();
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  auto ready = poll_until(
      node.ep(), "/readyz", [](auto& r) { return r.status == 503; }, 1000ms);
  CHECK(ready.status == 503);
  auto started = std::chrono::steady_clock::now();
  CHECK(node.stop(20s) == 0); // SIGTERM again
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}

TEST_CASE("registration closed: POST /v1/accounts is refused with 403, naming the policy") {
  node_process node{test_args({"--accounts.registration=closed"})};
  node.start();
  auto res = client::http_call(node.ep(), "POST", "/v1/accounts",
                               R"({"user":"someone","password":"password-1"})");
  CHECK(res.status == 403);
  CHECK(res.json_body()["error"] == "forbidden");
  CHECK(res.json_body()["message"].get<std::string>().find("registration is closed") == 0);
  // Logging in is not affected (a user the administrator created can still log in).
  auto login = client::http_call(node.ep(), "POST", "/v1/sessions",
                                 R"({"user":"someone","password":"password-1"})");
  CHECK(login.status == 401);
  CHECK(node.stop() == 0);

  node_process open_node{test_args({"--accounts.registration=open"})};
  open_node.start();
  auto created =
      client::http_call(open_node.ep(), "POST", "/v1/accounts",
                        R"({"user":")" + unique_user("reg") + R"(","password":"password-1"})");
  CHECK(created.status == 201);
}
