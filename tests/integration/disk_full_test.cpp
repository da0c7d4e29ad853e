// A full disk, made real without a tmpfs or a loop device: the node's file-size limit
// (RLIMIT_FSIZE, lowered with prlimit(2) on the running node, as its own user may) stops its
// RocksDB WAL from growing, so writes fail with EFBIG as they would with ENOSPC. The node must
// refuse sends with `unavailable` (never `sent` for a message it did not store), stay up, say
// 503 on /readyz, and take sends again once the limit is raised, with every `sent` message
// delivered once, in order, also after a crash and a restart.

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <map>

#include "client/http.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

namespace {

/// The biggest RocksDB WAL file (`NNNNNN.log`) in `dir`.
uint64_t largest_wal(const std::filesystem::path& dir) {
  uint64_t out = 0;
  for (const auto& e : std::filesystem::directory_iterator{dir})
    if (e.path().extension() == ".log")
      out = std::max<uint64_t>(out, e.file_size());
  return out;
}

/// Sets the soft RLIMIT_FSIZE of process `pid` (the hard limit stays); returns the old limits.
rlimit set_file_size_limit(int pid, rlim_t soft) {
  rlimit old{};
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, nullptr, &old) == 0);
  rlimit next = old;
  next.rlim_cur = soft;
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &next, nullptr) == 0);
  return old;
}

/// GET `path` until `done(response)` holds, at most `deadline`; returns the last response.
client::http_response poll_until(const client::endpoint& ep, const std::string& path,
                                 const std::function<bool(const client::http_response&)>& done,
                                 std::chrono::milliseconds deadline = 20s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto res = http_call(ep, "GET", path);
    if (done(res) || std::chrono::steady_clock::now() > until)
      return res;
    std::this_thread::sleep_for(10ms); // polling an HTTP endpoint: nothing to wait on
  }
}

/// The value of metric `name` in a /metrics body (-1 if absent).
double metric_in(const std::string& body, const std::string& name) {
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(body.substr(at + name.size() + 2));
}

/// Receives `count` msg items and returns their mids in the order they came.
std::vector<std::string> received_mids(client::ws_client& ws, int count) {
  std::vector<std::string> out;
  for (auto& item : receive_items(ws, "msg", count, 20s))
    out.push_back(item["mid"].get<std::string>());
  return out;
}

} // namespace

TEST_CASE("a full disk refuses sends with unavailable, loses nothing and recovers") {
  // A push window past every message sent here: bob receives them all without acks.
  node_process node{test_args({"--limits.push-window=100000", "--log.level=warn"})};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "full-alice");
  auto bob = make_user(ep, "full-bob"); // offline until the end: his inbox fills
  auto ws = open_session(ep, alice.token);
  std::vector<std::string> expected = send_texts(ws, bob.name, "warm", 5);

  // Room for a few hundred more sends in the WAL, then EFBIG.
  auto wal = largest_wal(node.data_dir());
  auto old = set_file_size_limit(node.pid(), wal + 64 * 1024);

  // Stream sends (20 in flight) until 20 have been refused.
  std::map<uint64_t, std::string> sent;  // by id (= send order): mid
  std::map<uint64_t, std::string> later; // refused: id -> cid, retried below
  uint64_t next = 0;
  std::size_t answered = 0;
  bool refusing = false, sent_after_refusal = false, retry_ms_given = true;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (later.size() < 20 && std::chrono::steady_clock::now() < deadline) {
    while (next - answered < 20) {
      ws.send(json{{"type", "send"},
                   {"id", next},
                   {"cid", "fill-" + std::to_string(next)},
                   {"to", bob.name},
                   {"kind", "text"},
                   {"body", "message " + std::to_string(next) + std::string(200, 'x')}});
      ++next;
    }
    auto reply = wait_for(
        ws, [](const json& f) { return f.contains("id"); }, 20s);
    ++answered;
    auto id = reply["id"].get<uint64_t>();
    if (reply["type"] == "sent") {
      sent[id] = reply["mid"].get<std::string>();
      sent_after_refusal = sent_after_refusal || refusing;
      continue;
    }
    REQUIRE_MESSAGE(reply["code"] == "unavailable", reply.dump());
    retry_ms_given = retry_ms_given && reply.value("retry_ms", 0) > 0;
    refusing = true;
    later[id] = "fill-" + std::to_string(id);
  }
  REQUIRE(later.size() >= 20);
  CHECK(sent.size() > 10);         // the limit was past the WAL: some went through first
  CHECK_FALSE(sent_after_refusal); // read-only until space returns: no flapping
  CHECK(retry_ms_given);
  while (answered < next) { // the rest in flight: refused too
    auto reply = wait_for(
        ws, [](const json& f) { return f.contains("id"); }, 20s);
    ++answered;
    CHECK(reply["type"] == "error");
    later[reply["id"].get<uint64_t>()] = "fill-" + std::to_string(reply["id"].get<uint64_t>());
  }
  for (auto& [id, mid] : sent)
    expected.push_back(mid);

  // Still up, serving, and telling the load balancer not to send clients.
  CHECK_FALSE(node.wait_for_exit(0ms).has_value());
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
  auto readyz = poll_until(ep, "/readyz", [](const auto& r) { return r.status == 503; });
  CHECK(readyz.status == 503);
  CHECK(readyz.body.find("storage") != std::string::npos);
  auto metrics = http_call(ep, "GET", "/metrics").body;
  CHECK(metric_in(metrics, "tidings_storage_writable") == 0);
  CHECK(metric_in(metrics, "tidings_storage_read_only_total") == 1);

  // Space returns: the store recovers by itself.
  auto raised = std::chrono::steady_clock::now();
  REQUIRE(::prlimit(node.pid(), RLIMIT_FSIZE, &old, nullptr) == 0);
  auto writable = poll_until(ep, "/metrics", [](const auto& r) {
    return metric_in(r.body, "tidings_storage_writable") == 1;
  });
  auto recovery_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - raised)
                         .count();
  INFO(node.recent_output_text());
  REQUIRE(metric_in(writable.body, "tidings_storage_writable") == 1);
  CHECK(metric_in(writable.body, "tidings_storage_recoveries_total") == 1);
  MESSAGE("sends refused while full: " << later.size() << "; writable again " << recovery_ms
                                       << " ms after the limit was raised");
  CHECK(recovery_ms < 5000);
  CHECK(poll_until(ep, "/readyz", [](const auto& r) { return r.status == 200; }).status == 200);

  // The refused sends, retried with their cids, and new ones: all stored.
  for (auto& [id, cid] : later)
    expected.push_back(send_text(ws, bob.name, cid));
  for (auto& mid : send_texts(ws, bob.name, "after", 20))
    expected.push_back(mid);

  auto inbox = open_session(ep, bob.token);
  // Equal sequences: nothing lost, nothing twice (a copy would come before the last sends).
  CHECK(received_mids(inbox, static_cast<int>(expected.size())) == expected);
  inbox.close();
  ws.close();

  // A crash after the recovery, then a restart on the same data: RocksDB opens (start()
  // throws otherwise) and the inbox holds every stored message once, in order (nothing was
  // acknowledged, so all of them come again).
  node.kill_hard();
  node.start();
  auto again = open_session(node.ep(), bob.token);
  CHECK(received_mids(again, static_cast<int>(expected.size())) == expected);
  again.close();
  CHECK(node.stop() == 0);
}
