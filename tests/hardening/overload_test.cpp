// Overload (issue 13, item 5): a node driven past its connection and in-flight limits refuses
// the excess with `overloaded` and a jittered `retry_ms`, never queueing without bound or
// crashing; admitted traffic completes and nothing acknowledged is lost.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/http.hpp"
#include "tests/hardening/hardening.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

TEST_CASE("past its connection limit a node answers 503 overloaded and serves those it admitted") {
  node_process node{test_args({"--net.max-connections=40"})};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "full_a");
  auto bob = make_user(ep, "full_b");
  auto a = open_session(ep, alice.token);
  auto b = open_session(ep, bob.token);
  // 38 more connections fill the node (two are the sessions above).
  std::vector<std::unique_ptr<client::ws_client>> idle;
  for (int i = 0; i < 38; ++i) {
    idle.push_back(std::make_unique<client::ws_client>(ep));
    idle.back()->connect();
  }
  // Past the limit: HTTP and WebSocket upgrades alike get 503 overloaded with a retry_ms.
  std::set<int64_t> retries;
  for (int i = 0; i < 5; ++i) {
    auto res = http_call(ep, "GET", "/healthz");
    CHECK(res.status == 503);
    CHECK(res.json_body()["error"] == "overloaded");
    auto retry = res.json_body()["retry_ms"].get<int64_t>();
    CHECK(retry >= 1000);
    CHECK(retry < 2000);
    CHECK(!res.header("retry-after").empty());
    retries.insert(retry);
  }
  CHECK(retries.size() > 1); // jittered
  client::ws_client late{ep};
  try {
    late.connect();
    FAIL("an upgrade past the limit was accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string{e.what()}.find("503") != std::string::npos);
  }
  // The admitted sessions go on: 200 messages, every one delivered.
  auto mids = send_texts(a, bob.name, "full", 200);
  auto items = receive_items(b, "msg", 200);
  for (std::size_t i = 0; i < items.size(); ++i)
    CHECK(items[i]["mid"] == mids[i]);
  // Connections that end free their places.
  for (int i = 0; i < 5; ++i)
    idle[i]->close();
  auto until = std::chrono::steady_clock::now() + 10s;
  unsigned status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < until)
    status = http_call(ep, "GET", "/healthz").status; // the closes reach the node
  CHECK(status == 200);
  CHECK(metric(ep, "tidings_connections_refused_total") >= 6);
}

namespace {

/// A WebSocket upgrade of /v1/ws as a plain HTTP call: its answer when it is refused.
client::http_response upgrade_call(const client::endpoint& ep) {
  return http_call(ep, "GET", "/v1/ws", {}, "application/json", {}, 10s,
                   {{"Connection", "Upgrade"},
                    {"Upgrade", "websocket"},
                    {"Sec-WebSocket-Version", "13"},
                    {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
}

/// The message of what `connect` threw ("" if it connected).
std::string refusal_of(client::ws_client& ws) {
  try {
    ws.connect();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("past its bound on sessions logging in a node answers upgrades 503 overloaded with a "
          "retry_ms; a retry succeeds once a place is free, and plain HTTP is never refused") {
  node_process node{test_args({"--net.max-pending-auth=3"})};
  node.start();
  auto ep = node.ep();
  auto a = make_user(ep, "pend_a");
  auto b = make_user(ep, "pend_b");
  auto c = make_user(ep, "pend_c");
  // Three upgraded connections that have not authenticated yet hold the three places.
  std::vector<std::unique_ptr<client::ws_client>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(std::make_unique<client::ws_client>(ep));
    waiting.back()->connect();
  }
  CHECK(metric(ep, "tidings_sessions_pending") == 3);
  // A fourth upgrade is answered at once: 503 overloaded, a retry_ms and Retry-After.
  auto refused = upgrade_call(ep);
  CHECK(refused.status == 503);
  CHECK(refused.json_body()["error"] == "overloaded");
  auto retry = refused.json_body()["retry_ms"].get<int64_t>();
  CHECK(retry >= 225);
  CHECK(retry <= 30'000);
  CHECK(std::stoll(refused.header("retry-after")) * 1000 >= retry);
  client::ws_client late{ep};
  auto why = refusal_of(late);
  CHECK(why.find("503") != std::string::npos);
  CHECK(why.find("overloaded") != std::string::npos);
  // Plain HTTP is not counted against it: health checks and password logins go on.
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
  CHECK(!client::login(ep, c.name, c.password).empty());
  // A welcome frees its place before the welcome is sent: the next upgrade is admitted at once
  // and logs in; then the node is full again.
  CHECK(waiting[0]->auth(a.token)["type"] == "welcome");
  auto admitted = open_session(ep, b.token);
  CHECK(metric(ep, "tidings_sessions_pending") == 2);
  waiting.push_back(std::make_unique<client::ws_client>(ep));
  waiting.back()->connect();
  CHECK(upgrade_call(ep).status == 503);
  // A connection that ends before its welcome frees its place too (once the node has seen the
  // close): the retry succeeds.
  waiting[1]->close();
  auto until = std::chrono::steady_clock::now() + 10s;
  while (metric(ep, "tidings_sessions_pending") > 2 && std::chrono::steady_clock::now() < until)
    ;
  CHECK(metric(ep, "tidings_sessions_pending") == 2);
  auto retried = open_session(ep, c.token);
  CHECK(metric(ep, "tidings_sessions_refused_total") == 3);
  // The admitted sessions work as ever.
  send_texts(admitted, c.name, "pend", 3);
  CHECK(receive_items(retried, "msg", 3).size() == 3);
}

TEST_CASE("a session past its in-flight and rate limits gets overloaded and rate_limited, and "
          "retrying with the same cid loses nothing") {
  node_process node{{"--limits.max-inflight=4", "--limits.rate=2000", "--limits.burst=50",
                     "--auth.argon2-ops=1", "--auth.argon2-mem-kib=8192"}};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "busy_a");
  auto bob = make_user(ep, "busy_b");
  auto a = open_session(ep, alice.token, net::encoding::msgpack);
  auto b = open_session(ep, bob.token);
  // 300 sends written at once: far past 4 in flight and a burst of 50.
  constexpr int total = 300;
  std::map<std::string, std::string> sent; // cid -> mid
  std::map<std::string, int> refusals;     // code -> count
  std::vector<std::string> pending;
  for (int i = 0; i < total; ++i)
    pending.push_back("b" + std::to_string(i));
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool first = true;
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    std::map<uint64_t, std::string> by_id;
    uint64_t id = 0;
    // The first round is the flood; retries go as a careful client sends: 4 at a time.
    auto batch = first ? pending.size() : std::min<std::size_t>(4, pending.size());
    first = false;
    std::vector<std::string> later(pending.begin() + static_cast<std::ptrdiff_t>(batch),
                                   pending.end());
    pending.resize(batch);
    for (const auto& cid : pending) {
      by_id[++id] = cid;
      a.send(json{{"type", "send"},
                  {"id", id},
                  {"cid", cid},
                  {"to", bob.name},
                  {"kind", "text"},
                  {"body", cid}});
    }
    std::vector<std::string> again;
    int64_t wait_ms = 0;
    for (std::size_t answered = 0; answered < by_id.size();) {
      auto reply = wait_for(
          a, [](const json& f) { return f.contains("id"); }, 30s);
      ++answered;
      const auto& cid = by_id.at(reply["id"].get<uint64_t>());
      if (reply["type"] == "sent") {
        auto [it, fresh] = sent.emplace(cid, reply["mid"].get<std::string>());
        CHECK((fresh || it->second == reply["mid"]));
        continue;
      }
      REQUIRE(reply["type"] == "error");
      auto code = reply["code"].get<std::string>();
      CHECK((code == "overloaded" || code == "rate_limited"));
      CHECK(reply["retry_ms"].get<int64_t>() > 0);
      wait_ms = std::max(wait_ms, reply["retry_ms"].get<int64_t>());
      ++refusals[code];
      again.push_back(cid);
    }
    again.insert(again.end(), later.begin(), later.end());
    pending = std::move(again);
    // Retrying as a client must: after the longest retry_ms, the same cids.
    if (wait_ms > 0)
      a.receive(std::chrono::milliseconds(std::min<int64_t>(wait_ms, 500)));
  }
  MESSAGE("refusals: overloaded " << refusals["overloaded"] << ", rate_limited "
                                  << refusals["rate_limited"]);
  CHECK(pending.empty());
  CHECK(refusals["overloaded"] > 0);
  CHECK(refusals["rate_limited"] > 0);
  CHECK(sent.size() == static_cast<std::size_t>(total));
  // Every acknowledged message is delivered exactly once.
  std::set<std::string> mids;
  for (auto& [cid, mid] : sent)
    mids.insert(mid);
  CHECK(mids.size() == sent.size());
  std::set<std::string> delivered;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (delivered.size() < mids.size() && std::chrono::steady_clock::now() < until) {
    auto f = b.receive(5s);
    if (!f)
      break;
    if ((*f)["type"] != "msg")
      continue;
    CHECK(delivered.insert((*f)["mid"].get<std::string>()).second);
    b.send(json{{"type", "ack"}, {"upto", (*f)["seq"]}});
  }
  CHECK(delivered == mids);
}

namespace {

/// CPU time (user + system) of process `pid` in clock ticks, from /proc/PID/stat.
long cpu_ticks(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  std::istringstream rest{stat.substr(stat.rfind(')') + 2)};
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stol(field);
    if (i == 15)
      stime = std::stol(field);
  }
  return utime + stime;
}

} // namespace

TEST_CASE("out of descriptors a node pauses its accepts instead of spinning, then recovers") {
  node_process node{test_args({})};
  node.start();
  auto ep = node.ep();
  REQUIRE(http_call(ep, "GET", "/healthz").status == 200);
  // Leave the node two descriptors: of eight connections it accepts two, the rest wait in the
  // kernel's backlog while every accept fails with EMFILE.
  std::size_t open = 0;
  for ([[maybe_unused]] const auto& fd :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(node.pid()) + "/fd"})
    ++open;
  rlimit old{};
  REQUIRE(::prlimit(node.pid(), RLIMIT_NOFILE, nullptr, &old) == 0);
  rlimit low = old;
  low.rlim_cur = open + 2;
  REQUIRE(::prlimit(node.pid(), RLIMIT_NOFILE, &low, nullptr) == 0);
  std::vector<int> socks;
  for (int i = 0; i < 8; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(ep.port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socks.push_back(s);
  }
  // Its CPU over the next second (a measuring window): a loop of failing accepts takes a whole
  // core (≈ 100 ticks); pausing 100 ms after each failure, a few.
  auto before = cpu_ticks(node.pid());
  std::this_thread::sleep_for(1s);
  auto used = cpu_ticks(node.pid()) - before;
  CHECK(used < 30);
  // Descriptors back: the waiting connections are taken and the node serves again.
  REQUIRE(::prlimit(node.pid(), RLIMIT_NOFILE, &old, nullptr) == 0);
  for (int s : socks)
    ::close(s);
  auto until = std::chrono::steady_clock::now() + 10s;
  unsigned status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < until) {
    try {
      status = http_call(ep, "GET", "/healthz").status;
    } catch (const std::exception&) {
      status = 0;
    }
  }
  CHECK(status == 200);
}
