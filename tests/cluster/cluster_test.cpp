// The cluster (issue: many nodes as one service) against real node processes on loopback:
// users connected to nodes that are not their home, peers restarting, incompatible peers, TLS
// between the nodes.

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "tests/cluster/cluster_fixture.hpp"
#include "tests/support/temp_dir.hpp"

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

/// Users on nodes that are not their home exchange messages, receipts, profiles and presence.
void exchange_away_from_home(test_cluster& c) {
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

} // namespace

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

TEST_CASE("users on nodes that are not their home exchange messages and receipts") {
  test_cluster c{3};
  c.start();
  exchange_away_from_home(c);
}

TEST_CASE("contacts and blocks name users homed on other nodes") {
  test_cluster c{3};
  c.start();
  // alice and bob have different homes; each is connected to a third node or the other's home.
  auto alice = user_homed(c, 0, 0, 0, "alice");
  auto bob = user_homed(c, 0, 1, 0, "bob");
  auto a = open_session(c.node(2).ep(), alice.token);
  auto b = open_session(c.node(0).ep(), bob.token);
  auto added = a.request(json{{"type", "contacts_add"}, {"user", bob.name}});
  CHECK(added["type"] == "ok");
  auto list = a.request(json{{"type", "contacts_list"}});
  CHECK(list["users"] == json::array({bob.name}));
  auto nobody = a.request(json{{"type", "contacts_add"}, {"user", "no_such_user_x"}});
  CHECK(nobody["code"] == "not_found");
  // A block of a user homed elsewhere takes effect on alice's home: bob's sends are answered
  // `sent` and never delivered.
  CHECK(a.request(json{{"type", "block"}, {"user", bob.name}})["type"] == "ok");
  auto hidden = send_text(b, alice.name, "blocked-1");
  CHECK(a.request(json{{"type", "unblock"}, {"user", bob.name}})["type"] == "ok");
  auto shown = send_text(b, alice.name, "after-unblock");
  auto item = expect_nothing_before(a, item_naming("msg", shown)); // not `hidden` first
  CHECK(item["mid"] != hidden);
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

TEST_CASE("revoking a token through any node closes its session on another node") {
  test_cluster c{3};
  c.start();
  auto u = make_user(c.node(0).ep(), "revoked");
  auto at = c.elsewhere(u.name);
  auto via = (at + 1) % c.size(); // neither the session's node nor (maybe) the home
  auto ws = open_session(c.node(at).ep(), u.token);
  settle(ws);
  CHECK(client::http_call(c.node(via).ep(), "DELETE", "/v1/sessions", {}, "", u.token).status ==
        204);
  auto error = wait_for(ws, of_type("error"), 10s);
  CHECK(error["code"] == "unauthorized");
  CHECK_FALSE(ws.receive(10s));
  CHECK(ws.close_code() == 4001);
}

TEST_CASE("two devices of one user on two nodes: both get each message, copies and revocation "
          "cross nodes") {
  test_cluster c{2};
  c.start();
  auto alice = make_user(c.node(0).ep(), "alice");
  auto bob = make_user(c.node(0).ep(), "bob");
  auto home = c.home(bob.name);
  auto away = c.elsewhere(bob.name);
  // Logins naming a device, through either node (registered with the home's inbox).
  auto login = [&](std::size_t node, const std::string& device) {
    auto res = client::http_call(
        c.node(node).ep(), "POST", "/v1/sessions",
        json{{"user", bob.name}, {"password", bob.password}, {"device", device}}.dump());
    REQUIRE_MESSAGE(res.status == 200, res.body);
    return res.json_body();
  };
  auto phone = login(away, "phone");
  auto laptop = login(home, "laptop");
  auto p = open_session(c.node(home).ep(), phone["token"].get<std::string>());
  auto l = open_session(c.node(away).ep(), laptop["token"].get<std::string>());
  auto a = open_session(c.node(c.elsewhere(alice.name)).ep(), alice.token);
  auto mid = send_text(a, bob.name, "both");
  auto on_phone = wait_for(p, item_naming("msg", mid), 10s);
  wait_for(l, item_naming("msg", mid), 10s);
  p.send(json{{"type", "ack"}, {"upto", on_phone["seq"]}});
  CHECK(wait_for(a, of_type("receipt"), 10s)["mids"] == json::array({mid}));
  auto from_laptop = send_text(l, alice.name, "copied");
  auto copy = wait_for(p, of_type("sent_copy"), 10s);
  CHECK(copy["mid"] == from_laptop);
  CHECK(copy["device"] == laptop["device"]);
  auto removed = client::http_call(c.node(away).ep(), "DELETE",
                                   "/v1/devices/" + std::to_string(laptop["device"].get<int>()), {},
                                   "application/json", phone["token"].get<std::string>());
  CHECK(removed.status == 204);
  CHECK_THROWS(wait_for(l, of_type("never"), 10s));
  CHECK(l.close_code() == 4001);
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
    // Everything received is read too: a read receipt per sender, across nodes.
    for (auto& [s, mids] : got)
      users[r].ws.send(json{{"type", "read"}, {"from", users[s].user.name}, {"mids", mids}});
  }
  // Every sender gets delivered and read receipts naming all 50 of its messages.
  for (std::size_t s = 0; s < n_users; ++s) {
    std::set<std::string> expected;
    for (auto t : targets(s))
      expected.insert(sent[{s, t}].begin(), sent[{s, t}].end());
    std::map<std::string, std::set<std::string>> reported; // status -> mids
    auto take = [&](const json& r) {
      auto status = r["status"].get<std::string>();
      CHECK((status == "delivered" || status == "read"));
      for (const auto& m : r["mids"])
        reported[status].insert(m.get<std::string>());
    };
    for (const auto& f : early[s])
      if (f["type"] == "receipt")
        take(f);
    // Bounded: wait_for throws after 30 s without a receipt.
    while (reported["delivered"].size() < expected.size() ||
           reported["read"].size() < expected.size())
      take(wait_for(users[s].ws, of_type("receipt"), 30s));
    CHECK(reported["delivered"] == expected);
    CHECK(reported["read"] == expected);
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

  // The recipient is online (on a live node) when its home dies.
  auto early_session = open_session(c.node(live(1)).ep(), rcpt.token);
  constexpr int per_sender = 40;
  std::vector<std::vector<std::string>> mids(senders.size());
  for (int n = 0; n < per_sender; ++n) {
    if (n == per_sender / 2) {
      c.node(victim).kill_hard();
      // Its session sees its inbox gone and no home to attach to again: closed with 1011 at
      // once (the client reconnects later), not left hanging.
      CHECK_THROWS(wait_for(early_session, of_type("never"), 20s));
      CHECK(early_session.close_code() == 1011);
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

TEST_CASE("over TLS, users on nodes that are not their home exchange messages and receipts") {
  test_ca ca;
  test_cluster c{3, {}, [&](const std::string& id) { return ca.tls_args(id); }};
  c.start();
  for (std::size_t i = 0; i < c.size(); ++i)
    CHECK(output_shows(c.node(i), "cluster node '" + c.id(i) + "' (TLS)"));
  exchange_away_from_home(c);
}

TEST_CASE("TLS nodes and a plaintext node refuse each other, and each dialer says why") {
  test_ca ca;
  test_cluster c{3, {}, [&](const std::string& id) {
                   return id == "n2" ? std::vector<std::string>{} : ca.tls_args(id);
                 }};
  for (std::size_t i = 0; i < c.size(); ++i)
    c.node(i).start();
  c.wait_peers_up(0, 1); // n1 and n3 reach each other over TLS
  c.wait_peers_up(2, 1);
  // The smaller id dials: n1 (TLS) dials n2 (plaintext), n2 dials n3 (TLS). Both fail in the
  // handshake; once both dialers have said so, n2 has no peer and cannot get one.
  CHECK(output_shows(c.node(0), "peer 'n2' cannot connect over TLS: the handshake failed"));
  CHECK(output_shows(c.node(1), "peer 'n3' cannot connect: the peer closed the connection "
                                "during the handshake (does it require TLS?"));
  CHECK(metric(c.node(1).ep(), "tidings_cluster_peers_up") == 0);
  CHECK(metric(c.node(0).ep(), "tidings_cluster_peers_up") == 1);
  CHECK(metric(c.node(2).ep(), "tidings_cluster_peers_up") == 1);
}

TEST_CASE("a node whose certificate another CA signed is refused, as dialer and as dialed") {
  test_ca ca;
  test_ca rogue{"rogue-ca"};
  test_cluster c{3, {}, [&](const std::string& id) {
                   if (id != "n2")
                     return ca.tls_args(id);
                   auto args = rogue.identity(
                       id); // n2 trusts the cluster's CA but is not vouched for by it
                   args.push_back(ca.trust());
                   return args;
                 }};
  for (std::size_t i = 0; i < c.size(); ++i)
    c.node(i).start();
  c.wait_peers_up(0, 1);
  c.wait_peers_up(2, 1);
  // n1 rejects n2's server certificate; n3 rejects n2's client certificate (mutual TLS).
  CHECK(output_shows(c.node(0), "peer 'n2' cannot connect over TLS: the handshake failed"));
  CHECK(output_shows(c.node(1), "peer 'n3' cannot connect over TLS: the handshake failed"));
  CHECK(metric(c.node(1).ep(), "tidings_cluster_peers_up") == 0);
}

TEST_CASE("a key protected by a passphrase serves TLS with cluster.tls-passphrase") {
  test_ca ca;
  test_cluster c{2, {}, [&](const std::string& id) {
                   if (id != "n1")
                     return ca.tls_args(id);
                   auto args = ca.identity(id, "sesame");
                   args.push_back(ca.trust());
                   args.push_back("--cluster.tls-passphrase=sesame");
                   return args;
                 }};
  c.start(); // both connected: n1 dialed n2 with its decrypted key
}

TEST_CASE("missing, unreadable or mismatched TLS files stop the node with status 2, named") {
  test_ca ca;
  temp_dir data;
  auto run = [&](std::vector<std::string> tls) {
    auto args = test_args({"--port=0", "--bind=127.0.0.1", "--data-dir=" + data.path.string(),
                           "--cluster.node-id=n1", "--cluster.port=0"});
    args.insert(args.end(), tls.begin(), tls.end());
    return run_node_to_exit(args);
  };
  auto n1 = ca.identity("n1");
  auto n2 = ca.identity("n2");
  auto missing = (ca.dir() / "missing.key").string();
  auto garbage = (ca.dir() / "garbage.pem").string();
  std::ofstream{garbage} << "not a certificate\n";
  struct refusal {
    std::vector<std::string> tls;
    std::string says;
  };
  std::vector<refusal> cases{
      {{n1[0], "--cluster.tls-key=" + missing, ca.trust()},
       "cluster.tls-key: cannot read " + missing + ": No such file or directory"},
      {{"--cluster.tls-certificate=" + garbage, n1[1], ca.trust()},
       "cluster.tls-certificate: " + garbage + " holds no PEM certificate"},
      {{n1[0], n2[1], ca.trust()}, "is not the key of"},
      {{n1[0], n1[1], "--cluster.tls-ca=" + garbage},
       "cluster.tls-ca: " + garbage + " holds no PEM certificate"},
      {{n1[0], n1[1]}, "cluster.tls-ca is missing"},
      {{ca.identity("n1", "sesame")[1], n1[0], ca.trust(), "--cluster.tls-passphrase=wrong"},
       "cluster.tls-passphrase does not open it"},
  };
  for (const auto& x : cases) {
    auto exit = run(x.tls);
    INFO("expected: " << x.says << "\nnode output:\n" << exit.output);
    CHECK(exit.status == 2);
    CHECK(exit.output.find(x.says) != std::string::npos);
  }
}

TEST_CASE("periods too long to count in milliseconds stop the node with status 2, named") {
  // Found by the `config` fuzz target (docs/SECURITY.md): these overflowed int64 milliseconds.
  temp_dir data;
  for (std::string option :
       {"limits.dedupe-hours=9000000000000000", "limits.read-receipt-days=5000000000000",
        "media.retention-days=1000000000000"}) {
    auto exit = run_node_to_exit(test_args(
        {"--port=0", "--bind=127.0.0.1", "--data-dir=" + data.path.string(), "--" + option}));
    INFO("node output:\n" << exit.output);
    CHECK(exit.status == 2);
    CHECK(exit.output.find(option.substr(0, option.find('=')) + " is too large") !=
          std::string::npos);
  }
}

TEST_CASE("the handoff is bounded: past --limits.handoff-max sends get overloaded") {
  test_cluster c{2, {"--limits.handoff-max=5"}};
  c.start();
  auto rcpt = user_homed(c, 0, 1, 0, "far");
  auto sender = user_homed(c, 0, 0, 0, "near");
  auto s = open_session(c.node(0).ep(), sender.token);
  c.node(1).kill_hard();
  c.wait_peers_up(0, 0);
  for (int i = 0; i < 5; ++i) {
    auto reply = s.request(json{{"type", "send"},
                                {"cid", "h" + std::to_string(i)},
                                {"to", rcpt.name},
                                {"kind", "text"},
                                {"body", "kept"}});
    CHECK(reply["type"] == "sent");
  }
  auto refused = s.request(
      json{{"type", "send"}, {"cid", "h5"}, {"to", rcpt.name}, {"kind", "text"}, {"body", "x"}});
  CHECK(refused["type"] == "error");
  CHECK(refused["code"] == "overloaded");
  CHECK(refused.contains("retry_ms"));
  CHECK(metric(c.node(0).ep(), "tidings_handoff_queued") == 5);
}
