// Hostile clients (issue 13, item 4) against a real node: revoked tokens end live sessions,
// login brute force is slowed per user and per source address, argon2id work is bounded so a
// login flood cannot starve messaging.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "client/http.hpp"
#include "tests/hardening/hardening.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

namespace {

std::string credentials(const std::string& user, const std::string& password) {
  return json{{"user", user}, {"password", password}}.dump();
}

} // namespace

TEST_CASE("revoking a token closes the live session using it, and only that one") {
  node_process node{test_args()};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "revoke");
  auto bob = make_user(ep, "bystander");
  auto second = client::login(ep, alice.name, alice.password);
  auto a = open_session(ep, alice.token);
  auto b = open_session(ep, bob.token);
  settle(a);
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", alice.token).status == 204);
  auto error = wait_for(a, of_type("error"), 10s);
  CHECK(error["code"] == "unauthorized");
  CHECK_FALSE(a.receive(10s));
  CHECK(a.close_code() == 4001);
  settle(b); // another user's session is untouched
  // A session opened with header auth ends the same way; the other token of alice stays good.
  client::ws_client header{ep};
  header.connect(second);
  CHECK(wait_for(header, of_type("welcome"), 10s)["user"] == alice.name);
  auto third = client::login(ep, alice.name, alice.password);
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", third).status == 204);
  settle(header); // revoking a token nobody's session uses closes nothing
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", second).status == 204);
  CHECK(wait_for(header, of_type("error"), 10s)["code"] == "unauthorized");
  CHECK_FALSE(header.receive(10s));
  CHECK(header.close_code() == 4001);
  // Nothing of the revoked tokens works any more.
  client::ws_client late{ep};
  late.connect();
  CHECK(late.auth(second)["code"] == "unauthorized");
  settle(b);
}

TEST_CASE("failed logins are slowed per user and per source address with 429 and retry_ms") {
  node_process node{
      test_args({"--limits.login-failures=3", "--limits.login-failures-per-address=8"})};
  node.start();
  auto ep = node.ep();
  auto victim = make_user(ep, "victim");
  auto other = make_user(ep, "other");
  // Per user: the 4th wrong password within a minute is refused without being checked, and so
  // is the right one.
  for (int i = 0; i < 3; ++i)
    CHECK(http_call(ep, "POST", "/v1/sessions", credentials(victim.name, "wrong pass")).status ==
          401);
  for (auto password : {"wrong pass", victim.password.c_str()}) {
    auto res = http_call(ep, "POST", "/v1/sessions", credentials(victim.name, password));
    CHECK(res.status == 429);
    CHECK(res.json_body()["error"] == "rate_limited");
    auto retry = res.json_body()["retry_ms"].get<int64_t>();
    CHECK(retry > 50'000);
    CHECK(retry <= 60'000);
    CHECK(std::stoll(res.header("retry-after")) * 1000 >= retry);
  }
  // Other users are not affected by the victim's lock...
  CHECK(http_call(ep, "POST", "/v1/sessions", credentials(other.name, other.password)).status ==
        200);
  // ...until this address has 8 failures (3 above, 5 more over unknown names): then every
  // login from it is refused, right password or not, before any hash is computed.
  for (int i = 0; i < 5; ++i)
    CHECK(http_call(ep, "POST", "/v1/sessions", credentials(unique_user("nobody"), "any password"))
              .status == 401);
  auto res = http_call(ep, "POST", "/v1/sessions", credentials(other.name, other.password));
  CHECK(res.status == 429);
  CHECK(res.json_body()["error"] == "rate_limited");
  CHECK(res.json_body()["retry_ms"].get<int64_t>() > 0);
  CHECK(res.json_body()["message"].get<std::string>().find("address") != std::string::npos);
  // Sessions already open and registrations are not logins: they still work.
  open_session(ep, other.token).close();
  CHECK(http_call(ep, "POST", "/v1/accounts", credentials(unique_user("newbie"), "long enough"))
            .status == 201);
}

TEST_CASE("a login flood meets a bounded queue of argon2id work and never starves messaging") {
  // The real password cost (argon2id 19 MiB, t=2) and a short queue per worker.
  node_process node{{"--limits.rate=1000000", "--limits.burst=1000000", "--limits.account-queue=4",
                     "--limits.login-failures=1000000", "--limits.login-failures-per-address=0"}};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "chat_a");
  auto bob = make_user(ep, "chat_b");
  auto a = open_session(ep, alice.token);
  auto b = open_session(ep, bob.token);

  // Quiet baseline: alice sends, bob receives, one at a time.
  auto round_trips = [&](const std::string& prefix, int count) {
    std::vector<double> ms;
    for (int i = 0; i < count; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto mid = send_text(a, bob.name, prefix + std::to_string(i));
      auto item = wait_for(b, item_naming("msg", mid), 10s);
      b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    return ms;
  };
  auto quiet = summarize(round_trips("q", 100));

  // The flood: 16 clients logging in as fast as they can (right and wrong passwords).
  std::atomic<bool> flooding{true};
  std::atomic<int> ok{0}, refused{0}, overloaded{0}, other{0};
  std::vector<std::thread> flooders;
  for (int t = 0; t < 16; ++t)
    flooders.emplace_back([&, t] {
      while (flooding) {
        auto password = t % 2 ? alice.password : std::string{"wrong password"};
        try {
          auto res =
              http_call(ep, "POST", "/v1/sessions", credentials(alice.name, password), "", "", 30s);
          if (res.status == 200)
            ++ok;
          else if (res.status == 401)
            ++refused;
          else if (res.status == 503 && res.json_body()["error"] == "overloaded" &&
                   res.json_body()["retry_ms"].get<int64_t>() > 0)
            ++overloaded;
          else
            ++other;
        } catch (const std::exception&) {
          ++other;
        }
      }
    });
  // Let the flood fill the queues: wait until some logins were refused as overloaded.
  auto until = std::chrono::steady_clock::now() + 20s;
  while (overloaded == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms); // polling counters of the test's own threads, bounded
  auto loaded = summarize(round_trips("l", 200));
  flooding = false;
  for (auto& t : flooders)
    t.join();
  MESSAGE("round trip quiet: " << quiet.describe() << "; under a login flood: " << loaded.describe()
                               << "; logins ok " << ok.load() << ", 401 " << refused.load()
                               << ", 503 overloaded " << overloaded.load() << ", other "
                               << other.load());
  CHECK(overloaded > 0);
  CHECK(ok + refused > 0);
  CHECK(other == 0);
  CHECK(loaded.p99 < 250.0);
  CHECK(loaded.max < 1000.0);
}

TEST_CASE("a client that never reads is closed with 4004 and the node's memory stays bounded") {
  // Only the write queue stands between the flood and the node's memory: the push window is
  // opened wide, the queue is 1 MiB.
  constexpr std::size_t queue_bytes = 1 << 20;
  node_process node{
      test_args({"--limits.push-window=100000", "--limits.push-window-bytes=1073741824",
                 "--net.write-queue-bytes=" + std::to_string(queue_bytes)})};
  node.start();
  auto ep = node.ep();
  auto victim = make_user(ep, "deaf");
  std::vector<test_user> senders;
  for (int i = 0; i < 3; ++i)
    senders.push_back(make_user(ep, "loud" + std::to_string(i)));
  auto deaf = open_session(ep, victim.token); // from now on it never reads
  std::vector<client::ws_client> loud;
  for (auto& s : senders)
    loud.push_back(open_session(ep, s.token, net::encoding::msgpack));
  settle(loud[0]);
  auto rss_before = rss_kib(node.pid());
  const std::string body(60 * 1024, 'm');
  constexpr int per_sender = 350; // 3 x 350 x 60 KiB = 61.5 MiB at the victim
  long rss_peak = rss_before;
  for (int i = 0; i < per_sender; i += 25) {
    for (std::size_t s = 0; s < loud.size(); ++s) {
      for (int k = i; k < i + 25; ++k)
        loud[s].send(json{{"type", "send"},
                          {"cid", "f" + std::to_string(k)},
                          {"to", victim.name},
                          {"kind", "text"},
                          {"body", body}});
      for (int k = i; k < i + 25; ++k)
        REQUIRE(wait_for(loud[s], of_type("sent"), 30s)["type"] == "sent");
    }
    rss_peak = std::max(rss_peak, rss_kib(node.pid()));
  }
  const long flooded_kib = 3L * per_sender * 60;
  const long growth = rss_peak - rss_before;
  MESSAGE("RSS before " << rss_before << " KiB, peak " << rss_peak << " KiB (+" << growth
                        << " KiB) while " << flooded_kib << " KiB were sent to a client that "
                        << "never reads");
  // The stored messages may sit in RocksDB's memtable (up to their size); the write queue adds
  // at most its 1 MiB. Holding the flood for the deaf client as well would double it.
#ifndef __SANITIZE_ADDRESS__
  CHECK(growth < flooded_kib + static_cast<long>(queue_bytes / 1024) + 48 * 1024);
#else
  // Under ASan (`make test-sanitize`) freed memory waits in its quarantine (256 MiB) and every
  // allocation has shadow and redzones, so RSS says nothing about the node's own bound; the
  // bound is checked by the uninstrumented suite, the close and the delivery below by both.
  MESSAGE("ASan build: the RSS bound is checked only without sanitizers");
#endif
  // The deaf client was closed with 4004 (it reads now: the close is at the end of its data).
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!deaf.closed() && std::chrono::steady_clock::now() < until)
    deaf.receive(1s);
  CHECK(deaf.close_code() == 4004);
  // Nothing was lost: the next session gets every message (after a restart with the default
  // window, which a reading client keeps up with).
  node.set_extra_args(test_args());
  node.restart();
  ep = node.ep();
  auto again = open_session(ep, victim.token);
  std::set<std::string> seen;
  while (seen.size() < static_cast<std::size_t>(3 * per_sender)) {
    auto item = wait_for(again, of_type("msg"), 30s);
    seen.insert(item["from"].get<std::string>() + "/" + item["mid"].get<std::string>());
    again.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  }
  CHECK(seen.size() == static_cast<std::size_t>(3 * per_sender));
}
