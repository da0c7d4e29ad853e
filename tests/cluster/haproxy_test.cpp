// The cluster behind a real load balancer (cluster issue, item 7): clients know only HAProxy's
// port, so their HTTP calls and WebSocket sessions land on whichever node HAProxy picks.

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/cluster/cluster_fixture.hpp"
#include "tests/cluster/haproxy_process.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

std::vector<client::endpoint> node_endpoints(test_cluster& c) {
  std::vector<client::endpoint> out;
  for (std::size_t i = 0; i < c.size(); ++i)
    out.push_back(c.node(i).ep());
  return out;
}

/// tidings_sessions_opened_total of every node.
std::vector<double> sessions_opened(test_cluster& c) {
  std::vector<double> out;
  for (std::size_t i = 0; i < c.size(); ++i)
    out.push_back(metric(c.node(i).ep(), "tidings_sessions_opened_total"));
  return out;
}

/// The node that opened the one session opened since `counts` (which is brought up to date).
/// Sessions are opened one at a time and the counter moves when the session starts, before its
/// `welcome`, so exactly one node has moved by exactly one.
std::size_t node_that_opened(test_cluster& c, std::vector<double>& counts) {
  auto now = sessions_opened(c);
  std::vector<std::size_t> moved;
  for (std::size_t i = 0; i < now.size(); ++i)
    if (now[i] != counts[i])
      moved.push_back(i);
  REQUIRE(moved.size() == 1);
  REQUIRE(now[moved[0]] == counts[moved[0]] + 1);
  counts = now;
  return moved[0];
}

/// A user who reached the cluster only through the load balancer, and the node serving it.
struct balanced_user {
  test_user user;
  client::ws_client ws;
  std::size_t node = 0;
};

} // namespace

TEST_CASE("behind HAProxy: sessions spread over the nodes, chats, receipts, presence and one "
          "live session per user hold") {
  test_cluster c{3};
  c.start();
  haproxy_process lb{node_endpoints(c)};
  lb.start();
  auto counts = sessions_opened(c);

  constexpr std::size_t n_users = 6;
  std::vector<balanced_user> users;
  std::map<std::size_t, int> per_node;
  for (std::size_t i = 0; i < n_users; ++i) {
    auto u = make_user(lb.ep(), "lb");
    auto ws = open_session(lb.ep(), u.token);
    auto at = node_that_opened(c, counts);
    ++per_node[at];
    users.push_back(balanced_user{std::move(u), std::move(ws), at});
  }
  std::string spread;
  for (auto& [node, n] : per_node)
    spread += " " + c.id(node) + "=" + std::to_string(n);
  MESSAGE("sessions per node through HAProxy:" << spread);
  REQUIRE(per_node.size() >= 2); // a real spread: not every session on one node

  // Each user writes to the next one: the ring crosses nodes at least once.
  int cross_node = 0;
  for (std::size_t i = 0; i < n_users; ++i) {
    auto& from = users[i];
    auto& to = users[(i + 1) % n_users];
    cross_node += from.node != to.node;
    auto mids = send_texts(from.ws, to.user.name, "lb" + std::to_string(i), 3);
    auto items = receive_items(to.ws, "msg", 3, 10s);
    for (std::size_t k = 0; k < items.size(); ++k) {
      CHECK(items[k]["mid"] == mids[k]);
      CHECK(items[k]["from"] == from.user.name);
    }
    to.ws.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
    auto delivered = wait_for(from.ws, of_type("receipt"), 10s);
    CHECK(delivered["status"] == "delivered");
    CHECK(delivered["by"] == to.user.name);
    CHECK(delivered["mids"].size() == 3);
    to.ws.send(json{{"type", "read"}, {"from", from.user.name}, {"mids", {mids[2]}}});
    auto read = wait_for(from.ws, of_type("receipt"), 10s);
    CHECK(read["status"] == "read");
    CHECK(read["mids"] == json::array({mids[2]}));
  }
  MESSAGE(cross_node << " of " << n_users << " conversations crossed nodes");
  CHECK(cross_node >= 1);

  // Presence of a user served by another node than the subscriber (if the spread allows).
  auto& watcher = users[0];
  auto watched_at = std::size_t{1};
  for (std::size_t i = 1; i < n_users; ++i)
    if (users[i].node != watcher.node) {
      watched_at = i;
      break;
    }
  auto& watched = users[watched_at];
  watcher.ws.request(json{{"type", "presence_sub"}, {"users", {watched.user.name}}});
  // Same path as the subscription (the gate of the watched user's home): it is in place now.
  auto now = watcher.ws.request(json{{"type", "presence_get"}, {"user", watched.user.name}});
  CHECK(now["online"] == true);
  watched.ws.request(json{{"type", "state"}, {"foreground", false}});
  auto away = wait_for(watcher.ws, of_type("presence"), 10s);
  CHECK(away["user"] == watched.user.name);
  CHECK(away["online"] == false);
  watched.ws.request(json{{"type", "state"}, {"foreground", true}});
  auto back = wait_for(watcher.ws, of_type("presence"), 10s);
  CHECK(back["online"] == true);
  watched.ws.close();
  auto gone = wait_for(watcher.ws, of_type("presence"), 10s);
  CHECK(gone["online"] == false);
  CHECK(gone["last_seen"].is_number());

  // One live session per user: a second connection through HAProxy replaces the first, on
  // whichever node each landed. Bounded: repeat until one replacement crossed nodes.
  auto& solo = users[watched_at == 2 ? 3 : 2];
  bool crossed = false;
  for (int round = 0; round < 10 && !crossed; ++round) {
    auto second = open_session(lb.ep(), solo.user.token);
    auto at = node_that_opened(c, counts);
    CHECK_THROWS(wait_for(solo.ws, of_type("never"), 10s));
    CHECK(solo.ws.closed());
    CHECK(solo.ws.close_code() == 4002);
    CHECK(second.request(json{{"type", "ping"}})["type"] == "pong");
    MESSAGE("replacement " << round + 1 << ": " << c.id(solo.node) << " -> " << c.id(at));
    crossed = at != solo.node;
    solo.ws = std::move(second);
    solo.node = at;
  }
  CHECK(crossed);
}

TEST_CASE("HAProxy's health checks take a stopped node out of rotation") {
  test_cluster c{3};
  c.start();
  haproxy_process lb{node_endpoints(c)};
  lb.start();
  c.node(2).kill_hard();
  lb.wait_server_status("n3", "DOWN");
  CHECK(lb.server_status()["n1"] == "UP");
  CHECK(lb.server_status()["n2"] == "UP");
  // Every request reaches a live node; without the checks leastconn would pick the idle n3.
  for (int i = 0; i < 9; ++i)
    CHECK(client::http_call(lb.ep(), "GET", "/healthz").status == 200);
  // Users homed on live nodes register, log in and chat through HAProxy as before.
  std::vector<client::ws_client> sessions;
  std::vector<std::string> names;
  for (int tries = 0; tries < 100 && names.size() < 4; ++tries) {
    auto name = unique_user("down");
    if (c.home(name) == 2)
      continue; // its home is down: the node would answer 503 unavailable
    client::register_user(lb.ep(), name, "correct-horse-battery");
    auto token = client::login(lb.ep(), name, "correct-horse-battery");
    sessions.push_back(open_session(lb.ep(), token));
    names.push_back(name);
  }
  REQUIRE(names.size() == 4);
  auto mid = send_text(sessions[0], names[1], "while-n3-is-down");
  CHECK(wait_for(sessions[1], of_type("msg"), 10s)["mid"] == mid);
}

TEST_CASE("through HAProxy an idle WebSocket lives by the tunnel timeout, not the client one") {
  node_process node{test_args()};
  node.start();
  auto token = make_user(node.ep(), "tunnel").token;
  haproxy_timeouts short_http{1s, 1s, 3600s};

  SUBCASE("a long tunnel timeout keeps the idle session") {
    haproxy_process lb{{node.ep()}, short_http};
    lb.start();
    auto ws = open_session(lb.ep(), token);
    // Idle for 2.5 times HAProxy's client and server timeouts: nothing arrives, nothing closes.
    CHECK_THROWS(wait_for(ws, of_type("never"), 2500ms));
    CHECK(!ws.closed());
    CHECK(ws.request(json{{"type", "ping"}})["type"] == "pong");
  }
  SUBCASE("a short tunnel timeout closes it (the check above can fail)") {
    auto cut = short_http;
    cut.tunnel = 1s;
    haproxy_process lb{{node.ep()}, cut};
    lb.start();
    auto ws = open_session(lb.ep(), token);
    CHECK_THROWS(wait_for(ws, of_type("never"), 10s));
    CHECK(ws.closed());
  }
}
