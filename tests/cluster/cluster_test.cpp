// The cluster (issue: many nodes as one service) against real node processes on loopback:
// users connected to nodes that are not their home, peers restarting, incompatible peers.

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <thread>

#include "tests/cluster/cluster_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

/// A user with a session on a node that is not the user's home.
struct remote_user {
  test_user user;
  std::size_t node = 0;
  client::ws_client ws;
};

/// Registers and logs in `count` users through rotating nodes; each connects elsewhere than
/// its home.
std::vector<remote_user> users_elsewhere(test_cluster& c, std::size_t count,
                                         const std::string& prefix) {
  std::vector<remote_user> out;
  for (std::size_t i = 0; i < count; ++i) {
    auto u = make_user(c.node(i % c.size()).ep(), prefix);
    auto at = c.elsewhere(u.name);
    auto ws = open_session(c.node(at).ep(), u.token);
    out.push_back(remote_user{std::move(u), at, std::move(ws)});
  }
  return out;
}

/// Waits for a line containing `text` in the node's output (bounded).
bool output_shows(node_process& n, const std::string& text, std::chrono::seconds deadline = 20s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& line : n.recent_output())
      if (line.find(text) != std::string::npos)
        return true;
    std::this_thread::sleep_for(50ms); // polling the node's own log, bounded
  }
  return false;
}

} // namespace

TEST_CASE("users on nodes that are not their home exchange messages and receipts") {
  test_cluster c{3};
  c.start();
  auto users = users_elsewhere(c, 6, "x");
  auto& alice = users[0];
  auto& bob = users[1];
  REQUIRE(c.home(alice.user.name) != alice.node);
  auto mids = send_texts(alice.ws, bob.user.name, "hop", 5);
  auto items = receive_items(bob.ws, "msg", 5);
  for (std::size_t i = 0; i < items.size(); ++i) {
    CHECK(items[i]["mid"] == mids[i]);
    CHECK(items[i]["from"] == alice.user.name);
  }
  bob.ws.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
  auto delivered = wait_for(alice.ws, of_type("receipt"), 10s);
  CHECK(delivered["status"] == "delivered");
  CHECK(delivered["by"] == bob.user.name);
  CHECK(delivered["mids"].size() == 5);
  bob.ws.send(json{{"type", "read"}, {"from", alice.user.name}, {"mids", {mids[0]}}});
  auto read = wait_for(alice.ws, of_type("receipt"), 10s);
  CHECK(read["status"] == "read");
  CHECK(read["mids"] == json::array({mids[0]}));

  // Profiles and presence of a user homed on another node.
  auto set = bob.ws.request(json{{"type", "profile_set"}, {"name", "Bob B."}});
  CHECK(set["type"] == "profile");
  auto profile = alice.ws.request(json{{"type", "profile_get"}, {"user", bob.user.name}});
  CHECK(profile["name"] == "Bob B.");
  auto presence = alice.ws.request(json{{"type", "presence_get"}, {"user", bob.user.name}});
  CHECK(presence["online"] == true);
  alice.ws.request(json{{"type", "presence_sub"}, {"users", {bob.user.name}}});
  // The subscription and this query travel the same path (alice's session, the gate of bob's
  // home, bob's lastseen shard): the answer means the subscription is in place.
  alice.ws.request(json{{"type", "presence_get"}, {"user", bob.user.name}});
  bob.ws.close();
  auto offline = wait_for(alice.ws, of_type("presence"), 10s);
  CHECK(offline["user"] == bob.user.name);
  CHECK(offline["online"] == false);
  CHECK(offline["last_seen"].is_number());
}

TEST_CASE("one live session per user holds across nodes") {
  test_cluster c{3};
  c.start();
  auto u = make_user(c.node(0).ep(), "solo");
  auto first = open_session(c.node(c.home(u.name)).ep(), u.token);
  auto second = open_session(c.node(c.elsewhere(u.name)).ep(), u.token);
  // The older session is replaced, although the newer one is on another node.
  CHECK_THROWS(wait_for(first, of_type("never"), 10s));
  CHECK(first.closed());
  CHECK(first.close_code() == 4002);
  CHECK(second.request(json{{"type", "ping"}})["type"] == "pong");
}

TEST_CASE("three nodes: 60 users away from home, 3,000 messages, each delivered once in order") {
  test_cluster c{3, {"--limits.idle-timeout-ms=600000"}};
  c.start();
  constexpr std::size_t n_users = 60;
  constexpr int per_pair = 25; // every user writes to two others: 60 * 2 * 25 = 3,000
  auto users = users_elsewhere(c, n_users, "m");
  auto targets = [&](std::size_t i) {
    return std::vector<std::size_t>{(i + 1) % n_users, (i + 7) % n_users};
  };
  // sender -> recipient -> mids in sending order
  std::map<std::pair<std::size_t, std::size_t>, std::vector<std::string>> sent;
  std::vector<std::vector<json>> early(n_users); // pushes that came while a user was sending
  for (std::size_t i = 0; i < n_users; ++i)
    for (auto t : targets(i))
      sent[{i, t}] = send_texts(users[i].ws, users[t].user.name, "c" + std::to_string(t) + "-",
                                per_pair, 50, &early[i]);
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < n_users; ++i)
    index_of[users[i].user.name] = i;
  // Each user receives 50 messages: exactly the ones sent, in per-sender order.
  for (std::size_t r = 0; r < n_users; ++r) {
    std::vector<json> items;
    for (const auto& f : early[r])
      if (f["type"] == "msg")
        items.push_back(f);
    while (items.size() < 2 * per_pair) // receipts for r's own sends are kept in `early`
      items.push_back(wait_for(users[r].ws, of_type("msg"), 60s, &early[r]));
    std::map<std::size_t, std::vector<std::string>> got;
    std::set<std::string> unique;
    for (const auto& item : items) {
      got[index_of.at(item["from"].get<std::string>())].push_back(item["mid"]);
      unique.insert(item["mid"].get<std::string>());
    }
    CHECK(unique.size() == items.size());
    for (auto& [s, mids] : got)
      CHECK(mids == sent[{s, r}]);
    CHECK(got.size() == 2);
    users[r].ws.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
  }
  // Every sender gets delivered receipts naming all 50 of its messages.
  for (std::size_t s = 0; s < n_users; ++s) {
    std::set<std::string> expected;
    for (auto t : targets(s))
      expected.insert(sent[{s, t}].begin(), sent[{s, t}].end());
    std::set<std::string> reported;
    auto take = [&](const json& r) {
      CHECK(r["status"] == "delivered");
      for (const auto& m : r["mids"])
        reported.insert(m.get<std::string>());
    };
    for (const auto& f : early[s])
      if (f["type"] == "receipt")
        take(f);
    while (reported.size() < expected.size()) // bounded: wait_for throws after 30 s
      take(wait_for(users[s].ws, of_type("receipt"), 30s));
    CHECK(reported == expected);
  }
}

TEST_CASE("a restarted peer is reconnected and serves its users again") {
  test_cluster c{3};
  c.start();
  auto users = users_elsewhere(c, 6, "r");
  // Restart a node that is home to one of the users (the cluster port stays the same; the
  // node comes back with a new CAF node id).
  auto victim = c.home(users[0].user.name);
  c.node(victim).restart();
  for (std::size_t i = 0; i < c.size(); ++i)
    c.wait_peers_up(i, c.size() - 1);
  // Sessions of users homed there lost their inbox; new sessions work.
  auto sender = make_user(c.node((victim + 1) % c.size()).ep(), "sender");
  auto s = open_session(c.node(c.elsewhere(sender.name)).ep(), sender.token);
  auto again = open_session(c.node(c.elsewhere(users[0].user.name)).ep(), users[0].user.token);
  auto mid = send_text(s, users[0].user.name, "after-restart");
  auto item = wait_for(again, of_type("msg"), 10s);
  CHECK(item["mid"] == mid);
}

TEST_CASE("a peer of another cluster protocol version is refused with a clear log line") {
  test_cluster c{2};
  c.node(1).set_extra_args([&] {
    auto args = test_args(c.cluster_args(1));
    args.push_back("--cluster.protocol-version=99");
    return args;
  }());
  c.node(0).start();
  c.node(1).start();
  // n1 dials n2 (the smaller id dials): n2 refuses, both say why.
  CHECK(output_shows(c.node(1), "refusing peer 'n1'"));
  CHECK(output_shows(c.node(0), "refused the handshake"));
  CHECK(metric(c.node(0).ep(), "tidings_cluster_peers_up") == 0);
  CHECK(metric(c.node(1).ep(), "tidings_cluster_peers_up") == 0);
}

namespace {

/// Sends one text and returns its mid, retrying the same cid on errors (as a client must),
/// at most `attempts` times.
std::string send_until_sent(client::ws_client& ws, const std::string& to, const std::string& cid,
                            int attempts = 20) {
  for (int i = 0; i < attempts; ++i) {
    auto reply = ws.request(
        json{{"type", "send"}, {"cid", cid}, {"to", to}, {"kind", "text"}, {"body", cid}}, 60s);
    if (reply["type"] == "sent")
      return reply["mid"].get<std::string>();
    REQUIRE(reply["type"] == "error");
    CHECK(reply["code"] != "not_found");
  }
  throw std::runtime_error("no `sent` for " + cid + " after retries");
}

/// A user homed on node `home` (or, if `home` is negative, on any node but `not_home`).
test_user user_homed(test_cluster& c, std::size_t via, int home, std::size_t not_home,
                     const std::string& prefix) {
  for (int tries = 0; tries < 200; ++tries) {
    auto u = make_user(c.node(via).ep(), prefix);
    auto h = c.home(u.name);
    if (home >= 0 ? h == static_cast<std::size_t>(home) : h != not_home)
      return u;
  }
  throw std::runtime_error("no user name landed where wanted");
}

} // namespace

TEST_CASE("a home node killed mid-stream: every sent message arrives once, in order") {
  test_cluster c{3};
  c.start();
  const std::size_t victim = 1;                                           // n2
  auto live = [&](std::size_t k) { return (victim + 1 + k) % c.size(); }; // the other two
  auto rcpt = user_homed(c, live(0), static_cast<int>(victim), 0, "rcpt");
  std::vector<test_user> senders;
  std::vector<client::ws_client> sessions;
  for (int i = 0; i < 2; ++i) {
    senders.push_back(user_homed(c, live(i), -1, victim, "snd"));
    sessions.push_back(open_session(c.node(live(i)).ep(), senders.back().token));
  }
  auto chat_a = user_homed(c, live(0), -1, victim, "live");
  auto chat_b = user_homed(c, live(1), -1, victim, "live");
  auto wa = open_session(c.node(live(1)).ep(), chat_a.token);
  auto wb = open_session(c.node(live(0)).ep(), chat_b.token);

  constexpr int per_sender = 40;
  std::vector<std::vector<std::string>> mids(senders.size());
  for (int n = 0; n < per_sender; ++n) {
    if (n == per_sender / 2) {
      c.node(victim).kill_hard();
      // Users homed on live nodes keep chatting while it is down.
      auto mid = send_text(wa, chat_b.name, "during-outage");
      CHECK(wait_for(wb, of_type("msg"), 10s)["mid"] == mid);
      // A read of data homed on the dead node is refused, not left hanging.
      auto p = sessions[0].request(json{{"type", "presence_get"}, {"user", rcpt.name}}, 40s);
      CHECK(p["type"] == "error");
      CHECK(p["code"] == "unavailable");
      CHECK(p.contains("retry_ms"));
    }
    for (std::size_t s = 0; s < senders.size(); ++s)
      mids[s].push_back(send_until_sent(sessions[s], rcpt.name,
                                        "s" + std::to_string(s) + "-" + std::to_string(n)));
  }
  c.node(victim).restart();
  for (std::size_t i = 0; i < c.size(); ++i)
    c.wait_peers_up(i, c.size() - 1);
  // The recipient, connected anywhere, gets every message that was `sent`: once each (by mid),
  // in each sender's order.
  auto r = open_session(c.node(live(1)).ep(), rcpt.token);
  std::map<std::string, std::vector<std::string>> got; // sender -> mids in arrival order
  std::set<std::string> seen;
  std::size_t total = senders.size() * per_sender;
  while (seen.size() < total) { // bounded: wait_for throws after 60 s without a message
    auto item = wait_for(r, of_type("msg"), 60s);
    auto mid = item["mid"].get<std::string>();
    if (seen.insert(mid).second)
      got[item["from"].get<std::string>()].push_back(mid);
    r.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  }
  for (std::size_t s = 0; s < senders.size(); ++s)
    CHECK(got[senders[s].name] == mids[s]);
  // Nothing beyond them: the next item is a message sent now.
  auto probe = send_text(sessions[0], rcpt.name, "probe");
  auto next = wait_for(r, of_type("msg"), 20s);
  CHECK(next["mid"] == probe);
  // The sends made while the home was down went through the senders' nodes' handoffs.
  double replayed = 0;
  for (int k = 0; k < 2; ++k) {
    CHECK(metric(c.node(live(k)).ep(), "tidings_handoff_queued") == 0);
    replayed += metric(c.node(live(k)).ep(), "tidings_handoff_replayed_total");
  }
  CHECK(replayed >= senders.size() * (per_sender / 2 - 1));
}
