// Last seen and presence (PROTOCOL.md section 7) against a real node. The exact timing
// rules are proven with an injected clock in tests/actors/presence_book_test.cpp; these
// tests prove the wiring: which frames move last seen, privacy, pushes, persistence.

#include <doctest/doctest.h>

#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

json presence(client::ws_client& ws, const std::string& user) {
  auto p = ws.request(json{{"type", "presence_get"}, {"user", user}});
  REQUIRE(p["type"] == "presence");
  return p;
}

void privacy(client::ws_client& ws, const std::string& level) {
  auto p = ws.request(json{{"type", "profile_set"}, {"privacy", {{"last_seen", level}}}});
  REQUIRE(p["type"] == "profile");
}

/// A server-side clock reading: the `ts` of a fresh `sent` reply.
int64_t server_now(client::ws_client& ws, const std::string& to) {
  static int n = 0;
  auto sent = ws.request(json{{"type", "send"},
                              {"cid", "clock-" + std::to_string(++n)},
                              {"to", to},
                              {"kind", "text"},
                              {"body", "tick"}});
  REQUIRE(sent["type"] == "sent");
  return sent["ts"].get<int64_t>();
}

} // namespace

TEST_CASE("online follows the foreground and last seen is set when foreground use ends") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto never = presence(a, bob.name);
  CHECK(never["online"] == false);
  CHECK(never["last_seen"].is_null());
  auto b = open_session(node.ep(), bob.token, net::encoding::json, true);
  settle(b);
  CHECK(presence(a, bob.name)["online"] == true);
  auto before_bg = server_now(a, alice.name);
  CHECK(b.request(json{{"type", "state"}, {"foreground", false}})["type"] == "ok");
  auto p = presence(a, bob.name);
  CHECK(p["online"] == false);
  CHECK(p["last_seen"].get<int64_t>() >= before_bg);
  CHECK(b.request(json{{"type", "state"}, {"foreground", true}})["type"] == "ok");
  CHECK(presence(a, bob.name)["online"] == true);
  b.close();
  settle(a);
  auto after = presence(a, bob.name);
  for (int i = 0; i < 100 && after["online"] == true; ++i) // the close reaches the node
    after = presence(a, bob.name);
  CHECK(after["online"] == false);
  CHECK(after["last_seen"].get<int64_t>() >= p["last_seen"].get<int64_t>());
}

TEST_CASE("a background session receiving and acknowledging never moves last seen") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  {
    auto b = open_session(node.ep(), bob.token);
    settle(b);
  }
  auto a = open_session(node.ep(), alice.token);
  auto p = presence(a, bob.name);
  for (int i = 0; i < 100 && p["online"] == true; ++i)
    p = presence(a, bob.name);
  REQUIRE(p["online"] == false);
  auto last = p["last_seen"].get<int64_t>();
  send_texts(a, bob.name, "bg", 5);
  {
    auto b = open_session(node.ep(), bob.token, net::encoding::json, false);
    auto items = receive_items(b, "msg", 5);
    b.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
    settle(b);                               // a background ping is not user activity either
    send_texts(b, alice.name, "from-bg", 1); // nor is a send from the background
    CHECK(presence(a, bob.name)["online"] == false);
    CHECK(presence(a, bob.name)["last_seen"] == last);
  }
  // bob's session actor is gone, and with it its lastseen shard was sent the session's end.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metric(node.ep(), "tidings_sessions_live") > 1 &&
         std::chrono::steady_clock::now() < deadline) {
  }
  REQUIRE(metric(node.ep(), "tidings_sessions_live") == 1);
  CHECK(presence(a, bob.name)["last_seen"] == last); // nor its end
}

TEST_CASE("the last seen privacy matrix") {
  node_process node{test_args()};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto friend_ = make_user(node.ep(), "friend");
  auto stranger = make_user(node.ep(), "stranger");
  auto hider = make_user(node.ep(), "hider");
  auto b = open_session(node.ep(), bob.token);
  auto f = open_session(node.ep(), friend_.token);
  auto s = open_session(node.ep(), stranger.token);
  auto h = open_session(node.ep(), hider.token);
  CHECK(b.request(json{{"type", "contacts_add"}, {"user", friend_.name}})["type"] == "ok");
  privacy(h, "nobody");
  auto visible = [&](client::ws_client& viewer) {
    auto p = presence(viewer, bob.name);
    return p["online"] == true && !p["last_seen"].is_null();
  };
  // everyone (the default)
  CHECK(visible(f));
  CHECK(visible(s));
  CHECK_FALSE(visible(h)); // reciprocity: who hides their own sees nobody's
  // contacts
  privacy(b, "contacts");
  CHECK(visible(f));
  CHECK_FALSE(visible(s));
  CHECK_FALSE(visible(h));
  // nobody
  privacy(b, "nobody");
  CHECK_FALSE(visible(f));
  CHECK_FALSE(visible(s));
  auto hidden = presence(f, bob.name);
  CHECK(hidden["online"] == false);
  CHECK(hidden["last_seen"].is_null());
  // blocked users never see it
  privacy(b, "everyone");
  CHECK(b.request(json{{"type", "block"}, {"user", stranger.name}})["type"] == "ok");
  CHECK_FALSE(visible(s));
  CHECK(visible(f));
  // bob sees himself whatever his setting
  privacy(b, "nobody");
  CHECK(presence(b, bob.name)["online"] == true);
}

TEST_CASE("subscribers get presence pushes and a closed subscriber leaves nothing behind") {
  node_process node{test_args()};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto carol = make_user(node.ep(), "carol");
  auto eve = make_user(node.ep(), "eve");
  auto c = open_session(node.ep(), carol.token);
  CHECK(c.request(json{{"type", "presence_sub"}, {"users", {bob.name}}})["type"] == "ok");
  {
    auto e = open_session(node.ep(), eve.token);
    CHECK(e.request(json{{"type", "presence_sub"}, {"users", {bob.name}}})["type"] == "ok");
  } // eve's session ends: its subscription must go with it
  auto b = open_session(node.ep(), bob.token);
  auto up = wait_for(c, of_type("presence"), 10s);
  CHECK(up["user"] == bob.name);
  CHECK(up["online"] == true);
  CHECK(b.request(json{{"type", "state"}, {"foreground", false}})["type"] == "ok");
  auto down = wait_for(c, of_type("presence"), 10s);
  CHECK(down["online"] == false);
  CHECK(down["last_seen"].is_number());
  CHECK(c.request(json{{"type", "presence_unsub"}, {"users", {bob.name}}})["type"] == "ok");
  CHECK(b.request(json{{"type", "state"}, {"foreground", true}})["type"] == "ok");
  // bob's shard answers carol after taking his change: a push of it would come first.
  CHECK(presence(c, bob.name)["online"] == true);
  CHECK(c.queued() == 0);
  // A new session of eve has no subscription: bob's changes reach it no more.
  auto e = open_session(node.ep(), eve.token);
  CHECK(b.request(json{{"type", "state"}, {"foreground", false}})["type"] == "ok");
  CHECK(presence(e, bob.name)["online"] == false); // as for carol above
  CHECK(e.queued() == 0);
}

TEST_CASE("last seen is still known after a restart") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  int64_t last = 0;
  {
    auto b = open_session(node.ep(), bob.token);
    CHECK(b.request(json{{"type", "state"}, {"foreground", false}})["type"] == "ok");
    auto a = open_session(node.ep(), alice.token);
    last = presence(a, bob.name)["last_seen"].get<int64_t>();
  }
  node.restart();
  auto a = open_session(node.ep(), alice.token);
  auto p = presence(a, bob.name);
  CHECK(p["online"] == false);
  CHECK(p["last_seen"] == last);
}
