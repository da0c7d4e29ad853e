// Crashes (issue 13, item 6): the node is SIGKILLed at random points while several senders
// stream messages to an online and an offline recipient, and restarted on the same data
// directory each time. Every `sent` message must arrive exactly once, in each sender's order,
// under seqs that are never reused; RocksDB must open every time.
//
// TIDINGS_CRASH_KILLS sets the number of kills (default 5: `make test`; `make test-long` runs
// the ctest `hardening_crash_long` with 20). TIDINGS_CRASH_SEED fixes the random points.

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/hardening/hardening.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

/// A sent message: its sender's running number, recipient and (once answered) mid.
struct outgoing {
  std::size_t sender;
  uint64_t n;
  std::string to;
};

/// What a recipient has seen: seq per mid, and the highest seq so far.
struct recipient_log {
  std::map<std::string, uint64_t> seq_of;
  std::map<uint64_t, std::string> mid_at;
  uint64_t highest = 0;
  std::vector<std::pair<std::string, std::string>> order; ///< (mid, body), first-seen order
};

/// Checks one pushed item against what the recipient saw before and records it.
void record(recipient_log& log, const json& item) {
  auto mid = item["mid"].get<std::string>();
  auto seq = item["seq"].get<uint64_t>();
  if (auto it = log.seq_of.find(mid); it != log.seq_of.end()) {
    CHECK_MESSAGE(it->second == seq, "mid " << mid << " came again under another seq");
    return;
  }
  // A new item: a seq never seen, above every seq seen so far (never reused, in order).
  CHECK_MESSAGE(log.mid_at.count(seq) == 0, "seq " << seq << " reused");
  CHECK_MESSAGE(seq > log.highest, "seq " << seq << " not above " << log.highest);
  log.seq_of[mid] = seq;
  log.mid_at[seq] = mid;
  log.highest = std::max(log.highest, seq);
  log.order.emplace_back(mid, item["body"].get<std::string>());
}

} // namespace

TEST_CASE("SIGKILL at random points under a stream of sends: every sent message arrives once, "
          "in order, seqs never reused") {
  const int kills = env_int("TIDINGS_CRASH_KILLS", 5);
  const auto seed = static_cast<unsigned>(env_int("TIDINGS_CRASH_SEED", std::random_device{}()));
  MESSAGE("kills: " << kills << ", seed: " << seed << " (TIDINGS_CRASH_SEED to repeat)");
  std::mt19937 rng{seed};
  node_process node{test_args()};
  node.start();
  constexpr std::size_t senders = 3;
  std::vector<test_user> from;
  for (std::size_t i = 0; i < senders; ++i)
    from.push_back(make_user(node.ep(), "crash_s" + std::to_string(i)));
  auto online = make_user(node.ep(), "crash_on");
  auto offline = make_user(node.ep(), "crash_off");

  std::map<std::string, outgoing> by_cid;  ///< every send made
  std::map<std::string, std::string> sent; ///< cid -> mid of every `sent` reply
  std::vector<uint64_t> next(senders, 0);
  recipient_log on_log, off_log;

  for (int round = 0; round <= kills; ++round) {
    if (round > 0)
      node.start(); // RocksDB must open cleanly on the same directory
    auto ep = node.ep();
    std::vector<client::ws_client> ws;
    for (auto& u : from)
      ws.push_back(open_session(ep, u.token, net::encoding::msgpack));
    auto reader = open_session(ep, online.token);
    // Each sender streams with up to 16 sends unanswered, to both recipients; the online one
    // reads and acknowledges as it goes. The kill comes after a random number of `sent`s.
    const bool last = round == kills;
    const std::size_t kill_after = last ? 150 : 20 + rng() % 200;
    std::size_t answered = 0;
    std::vector<std::size_t> unanswered(senders, 0);
    auto drain_reader = [&](std::chrono::milliseconds wait) {
      while (auto f = reader.receive(wait)) {
        if ((*f)["type"] != "msg")
          continue;
        record(on_log, *f);
        wait = 0ms;
        if (reader.closed())
          continue; // the node was killed: what it pushed still counts, acks cannot go out
        try {
          reader.send(json{{"type", "ack"}, {"upto", (*f)["seq"]}});
        } catch (const std::runtime_error&) {
          // killed meanwhile: the item is pushed again after the restart
        }
      }
    };
    auto collect = [&](std::size_t s, std::chrono::milliseconds wait) {
      while (auto f = ws[s].receive(wait)) {
        wait = 0ms;
        if ((*f)["type"] == "sent") {
          auto cid = (*f)["cid"].get<std::string>();
          CHECK(sent.emplace(cid, (*f)["mid"].get<std::string>()).second);
          --unanswered[s];
          ++answered;
        } else if ((*f)["type"] != "receipt") { // delivered receipts of earlier messages
          FAIL("unexpected frame " << f->dump());
        }
      }
    };
    while (answered < kill_after) {
      for (std::size_t s = 0; s < senders; ++s) {
        while (unanswered[s] < 16) {
          auto n = next[s]++;
          auto cid = "c" + std::to_string(s) + "-" + std::to_string(n);
          auto to = n % 2 == 0 ? online.name : offline.name;
          by_cid[cid] = outgoing{s, n, to};
          ws[s].send(json{{"type", "send"},
                          {"cid", cid},
                          {"to", to},
                          {"kind", "text"},
                          {"body", "round " + std::to_string(round) + " " + cid}});
          ++unanswered[s];
        }
        collect(s, 0ms);
      }
      collect(0, 20ms);
      drain_reader(0ms);
    }
    if (last) {
      // No kill: let everything in flight be answered, then stop cleanly.
      // (A `collect` may return with only `delivered` receipts of earlier messages: progress
      // is a `sent`, awaited until a deadline.)
      for (std::size_t s = 0; s < senders; ++s) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (unanswered[s] > 0 && std::chrono::steady_clock::now() < deadline)
          collect(s, 200ms);
        REQUIRE_MESSAGE(unanswered[s] == 0, "round " << round << " sender " << s
                                                     << " closed=" << ws[s].closed()
                                                     << " code=" << ws[s].close_code()
                                                     << " reason=" << ws[s].close_reason());
      }
      drain_reader(200ms);
      break;
    }
    node.kill_hard();
    // Replies already on the wire before the kill still count: they were given.
    for (std::size_t s = 0; s < senders; ++s)
      collect(s, 200ms);
    drain_reader(200ms);
  }

  // The offline recipient comes online once, at the end; the online one reads what is left.
  auto ep = node.ep();
  auto off = open_session(ep, offline.token, net::encoding::msgpack);
  auto reader = open_session(ep, online.token);
  auto missing = [&](const recipient_log& log, const std::string& to) {
    std::size_t count = 0;
    for (const auto& [cid, mid] : sent)
      if (by_cid[cid].to == to && !log.seq_of.count(mid))
        ++count;
    return count;
  };
  auto read_all = [&](client::ws_client& ws, recipient_log& log, const std::string& to) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (missing(log, to) > 0 && std::chrono::steady_clock::now() < deadline) {
      auto f = ws.receive(5s);
      if (!f)
        break;
      if ((*f)["type"] != "msg")
        continue;
      record(log, *f);
      ws.send(json{{"type", "ack"}, {"upto", (*f)["seq"]}});
    }
  };
  read_all(reader, on_log, online.name);
  read_all(off, off_log, offline.name);
  CHECK(missing(on_log, online.name) == 0);
  CHECK(missing(off_log, offline.name) == 0);

  // Every delivered message is one that was sent (its body names its cid), never twice, with
  // the mid its `sent` gave, and each sender's messages arrived in the order they were sent.
  std::set<std::string> delivered_cids;
  auto check_order = [&](const recipient_log& log) {
    std::map<std::size_t, uint64_t> last_n;
    std::size_t unanswered_but_delivered = 0;
    for (const auto& [mid, body] : log.order) {
      auto cid = body.substr(body.rfind(' ') + 1);
      auto it = by_cid.find(cid);
      REQUIRE_MESSAGE(it != by_cid.end(), "delivered a message never sent: " << body);
      CHECK_MESSAGE(delivered_cids.insert(cid).second, "delivered twice: " << cid);
      if (auto s = sent.find(cid); s != sent.end())
        CHECK_MESSAGE(s->second == mid, "cid " << cid << " delivered under another mid");
      else
        ++unanswered_but_delivered; // stored, but the kill came before its `sent`
      const auto& o = it->second;
      if (last_n.count(o.sender))
        CHECK_MESSAGE(o.n > last_n[o.sender], "sender " << o.sender << " out of order at " << cid);
      last_n[o.sender] = o.n;
    }
    return unanswered_but_delivered;
  };
  auto extra_on = check_order(on_log);
  auto extra_off = check_order(off_log);
  MESSAGE("sends " << by_cid.size() << ", sent replies " << sent.size() << ", delivered "
                   << on_log.order.size() + off_log.order.size() << " (of which stored but "
                   << "unanswered before a kill: " << extra_on + extra_off << ")");
  CHECK(node.stop() == 0);
}
