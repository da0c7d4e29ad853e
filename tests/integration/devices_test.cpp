// Several devices per user (docs/PROTOCOL.md, "Devices") against a real node: per-device
// cursors, the first ack's `delivered`, sent copies, revocation, the device limit, presence of
// a foreground and a background device, restarts and a crash.

#include <doctest/doctest.h>

#include <set>

#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

/// A token of one named device.
struct device_login {
  std::string token;
  uint32_t id = 0;
};

device_login login_device(const client::endpoint& ep, const test_user& u,
                          const std::string& device) {
  auto res = client::http_call(
      ep, "POST", "/v1/sessions",
      json{{"user", u.name}, {"password", u.password}, {"device", device}}.dump());
  REQUIRE_MESSAGE(res.status == 200, res.body);
  auto body = res.json_body();
  REQUIRE(body.contains("device"));
  return {body["token"].get<std::string>(), body["device"].get<uint32_t>()};
}

json list_devices(const client::endpoint& ep, const std::string& token) {
  auto res = client::http_call(ep, "GET", "/v1/devices", {}, "application/json", token);
  REQUIRE_MESSAGE(res.status == 200, res.body);
  return res.json_body()["devices"];
}

void ack(client::ws_client& ws, const json& item) {
  ws.send(json{{"type", "ack"}, {"upto", item["seq"]}});
}

/// Polls /metrics until `name` reaches `at_least` (bounded); returns the last value.
double wait_metric(const client::endpoint& ep, const std::string& name, double at_least) {
  double v = metric(ep, name);
  for (int i = 0; i < 200 && v < at_least; ++i) {
    // Each /metrics request is a round trip through the node: a bounded poll, not a sleep.
    v = metric(ep, name);
  }
  return v;
}

/// Waits for the connection to end and returns its close code.
uint16_t closed_with(client::ws_client& ws) {
  std::vector<json> skipped;
  while (ws.receive(10s)) {
  }
  REQUIRE(ws.closed());
  return ws.close_code();
}

/// A running node with alice, and bob logged in on two named devices (phone, laptop).
struct two_devices {
  explicit two_devices(std::vector<std::string> args = {}) : node{test_args(std::move(args))} {
    node.start();
    alice = make_user(node.ep(), "alice");
    bob = make_user(node.ep(), "bob");
    phone = login_device(node.ep(), bob, "phone");
    laptop = login_device(node.ep(), bob, "laptop");
  }
  node_process node;
  test_user alice;
  test_user bob;
  device_login phone;
  device_login laptop;
};

} // namespace

TEST_CASE("two devices both get a message, deleted once both acked, the first ack tells the "
          "sender delivered, and cursors survive a restart") {
  two_devices f;
  auto& [node, alice, bob, phone, laptop] = f;
  CHECK(phone.id != laptop.id);
  std::string m1;
  {
    auto p = open_session(node.ep(), phone.token);
    auto l = open_session(node.ep(), laptop.token);
    auto a = open_session(node.ep(), alice.token);
    m1 = send_text(a, bob.name, "m1");
    auto on_phone = wait_for(p, item_naming("msg", m1), 10s);
    auto on_laptop = wait_for(l, item_naming("msg", m1), 10s);
    CHECK(on_phone["seq"] == on_laptop["seq"]);
    ack(p, on_phone); // the first device's ack: delivered
    auto delivered = wait_for(a, of_type("receipt"), 10s);
    CHECK(delivered["status"] == "delivered");
    CHECK(delivered["mids"] == json::array({m1}));
    ack(a, delivered);
    settle(a);
  }
  // Only the phone acknowledged: m1 stays for the laptop, across a restart. (Alice's receipt,
  // acknowledged, is the one item removed.)
  CHECK(wait_metric(node.ep(), "tidings_items_acked_total", 1) == 1);
  node.restart();
  auto a = open_session(node.ep(), alice.token);
  auto p = open_session(node.ep(), phone.token);
  auto m2 = send_text(a, bob.name, "m2");
  // The phone's cursor survived: m2 is the first thing it gets, not m1 again.
  auto next_on_phone = expect_nothing_before(p, item_naming("msg", m2));
  auto l = open_session(node.ep(), laptop.token);
  auto again = wait_for(l, of_type("msg"), 10s);
  CHECK(again["mid"] == m1);
  auto m2_on_laptop = wait_for(l, item_naming("msg", m2), 10s);
  ack(l, m2_on_laptop);
  // m1 is now acknowledged by both devices: deleted. m2 waits for the phone.
  CHECK(wait_metric(node.ep(), "tidings_items_acked_total", 1) == 1);
  // The laptop's ack was the first for m2 (its receipt names m2 alone: m1 had one already).
  auto receipt = wait_for(a, of_type("receipt"), 10s);
  CHECK(receipt["mids"] == json::array({m2}));
  ack(p, next_on_phone);
  CHECK(wait_metric(node.ep(), "tidings_items_acked_total", 2) == 2);
  // No second delivered receipt for m2: the next receipt alice gets is about m3.
  auto m3 = send_text(a, bob.name, "m3");
  ack(p, wait_for(p, item_naming("msg", m3), 10s));
  CHECK(expect_nothing_before(a, item_naming("receipt", m3))["mids"] == json::array({m3}));
}

TEST_CASE("a message sent from one device appears on the user's other named devices") {
  two_devices f;
  auto& [node, alice, bob, phone, laptop] = f;
  auto p = open_session(node.ep(), phone.token);
  auto l = open_session(node.ep(), laptop.token);
  auto legacy = open_session(node.ep(), bob.token); // names no device: the unnamed device
  auto a = open_session(node.ep(), alice.token);
  auto mid = send_text(p, alice.name, "from-phone");
  auto copy = wait_for(l, of_type("sent_copy"), 10s);
  CHECK(copy["mid"] == mid);
  CHECK(copy["to"] == alice.name);
  CHECK(copy["body"] == "from-phone");
  CHECK(copy["kind"] == "text");
  CHECK(copy["device"] == phone.id);
  CHECK(copy["ts"].is_number_integer());
  CHECK(wait_for(a, item_naming("msg", mid), 10s)["body"] == "from-phone");
  // Neither the sending device nor a client that names no device gets the copy.
  auto reply = send_text(a, bob.name, "reply");
  expect_nothing_before(p, item_naming("msg", reply));
  expect_nothing_before(legacy, item_naming("msg", reply));
  // What the unnamed device sends is copied to the named ones too.
  auto from_legacy = send_text(legacy, alice.name, "from-legacy");
  std::vector<json> skipped;
  auto copy2 = wait_for(
      l,
      [&from_legacy](const json& frame) {
        return frame["type"] == "sent_copy" && frame["mid"] == from_legacy;
      },
      10s, &skipped);
  CHECK(copy2["device"] == 0);
  CHECK(wait_for(p, of_type("sent_copy"), 10s)["mid"] == from_legacy);
}

TEST_CASE("a send right behind the welcome of a named device is copied too") {
  // The session learns its device from the inbox while attaching, after `welcome`: a send that
  // arrives before that must wait for it, not go out uncopied.
  two_devices f;
  auto& [node, alice, bob, phone, laptop] = f;
  auto p = open_session(node.ep(), phone.token);
  settle(p);
  for (int round = 0; round < 20; ++round) {
    auto l = open_session(node.ep(), laptop.token); // replaces the previous round's (4002)
    auto mid = send_text(l, alice.name, "quick-" + std::to_string(round));
    auto copy = wait_for(p, of_type("sent_copy"), 10s);
    REQUIRE(copy["mid"] == mid);
    p.send(json{{"type", "ack"}, {"upto", copy["seq"]}});
  }
}

TEST_CASE("devices are listed, and revoking one closes its session and releases its items") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  // A user who never named a device has the unnamed one only.
  auto only = list_devices(node.ep(), bob.token);
  REQUIRE(only.size() == 1);
  CHECK(only[0]["id"] == 0);
  CHECK(only[0]["name"].is_null());
  CHECK(only[0]["current"] == true);
  auto phone = login_device(node.ep(), bob, "phone");
  auto laptop = login_device(node.ep(), bob, "laptop");
  auto again = login_device(node.ep(), bob, "phone"); // the same name: the same device
  CHECK(again.id == phone.id);
  auto listed = list_devices(node.ep(), laptop.token);
  REQUIRE(listed.size() == 2);
  std::set<std::string> names;
  for (const auto& d : listed) {
    names.insert(d["name"].get<std::string>());
    CHECK(d["current"] == (d["id"] == laptop.id));
    CHECK_FALSE(d.contains("tokens"));
  }
  CHECK(names == std::set<std::string>{"laptop", "phone"});

  auto p = open_session(node.ep(), phone.token);
  auto l = open_session(node.ep(), laptop.token);
  auto a = open_session(node.ep(), alice.token);
  auto mid = send_text(a, bob.name, "held");
  ack(p, wait_for(p, item_naming("msg", mid), 10s));
  wait_for(l, item_naming("msg", mid), 10s); // pushed, never acknowledged
  wait_for(a, of_type("receipt"), 10s);      // the phone's ack is done
  CHECK(metric(node.ep(), "tidings_items_acked_total") == 0);

  auto bad = client::http_call(node.ep(), "DELETE", "/v1/devices/abc", {}, "application/json",
                               phone.token);
  CHECK(bad.status == 400);
  auto unknown = client::http_call(node.ep(), "DELETE", "/v1/devices/999", {}, "application/json",
                                   phone.token);
  CHECK(unknown.status == 404);
  auto removed = client::http_call(node.ep(), "DELETE", "/v1/devices/" + std::to_string(laptop.id),
                                   {}, "application/json", phone.token);
  CHECK(removed.status == 204);
  CHECK(closed_with(l) == 4001);
  // Its token is gone, and what it alone held back is released.
  auto refused =
      client::http_call(node.ep(), "GET", "/v1/devices", {}, "application/json", laptop.token);
  CHECK(refused.status == 401);
  CHECK(wait_metric(node.ep(), "tidings_items_acked_total", 1) == 1);
  auto left = list_devices(node.ep(), phone.token);
  REQUIRE(left.size() == 1);
  CHECK(left[0]["id"] == phone.id);
  CHECK(left[0]["online"] == true);
}

TEST_CASE("at most --limits.devices devices online, and the same device again replaces the older") {
  node_process node{test_args({"--limits.devices=2"})};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto phone = login_device(node.ep(), bob, "phone");
  auto laptop = login_device(node.ep(), bob, "laptop");
  auto tablet = login_device(node.ep(), bob, "tablet");
  auto p = open_session(node.ep(), phone.token);
  auto l = open_session(node.ep(), laptop.token);
  settle(p);
  settle(l);
  auto t = open_session(node.ep(), tablet.token);
  auto refusal = wait_for(t, of_type("error"), 10s);
  CHECK(refusal["code"] == "forbidden");
  CHECK(closed_with(t) == 4005);
  auto p2 = open_session(node.ep(), phone.token);
  CHECK(closed_with(p) == 4002);
  CHECK(p2.request(json{{"type", "ping"}})["type"] == "pong");
  CHECK(l.request(json{{"type", "ping"}})["type"] == "pong");
}

TEST_CASE("presence with a foreground and a background device") {
  two_devices f;
  auto& [node, alice, bob, phone, laptop] = f;
  auto a = open_session(node.ep(), alice.token);
  auto presence = [&a, user = f.bob.name] {
    auto r = a.request(json{{"type", "presence_get"}, {"user", user}});
    REQUIRE(r["type"] == "presence");
    return r;
  };
  auto p = open_session(node.ep(), phone.token, net::encoding::json, false); // in the pocket
  settle(p);
  CHECK(presence()["online"] == false);
  auto l = open_session(node.ep(), laptop.token, net::encoding::json, true);
  settle(l);
  CHECK(presence()["online"] == true);
  CHECK(l.request(json{{"type", "state"}, {"foreground", false}})["type"] == "ok");
  auto after_laptop = presence();
  CHECK(after_laptop["online"] == false); // the phone is still in the background
  auto seen = after_laptop["last_seen"].get<int64_t>();
  // Whatever the background phone does never moves last seen.
  send_text(p, alice.name, "bg-send");
  CHECK(p.request(json{{"type", "ping"}})["type"] == "pong");
  CHECK(presence()["last_seen"] == seen);
  CHECK(p.request(json{{"type", "state"}, {"foreground", true}})["type"] == "ok");
  auto front = presence();
  CHECK(front["online"] == true);
  CHECK(front["last_seen"].get<int64_t>() >= seen);
}

TEST_CASE("a crash under a stream to a two-device user loses nothing on either device") {
  two_devices f;
  auto& [node, alice, bob, phone, laptop] = f;
  std::set<std::string> sent; // every mid alice got `sent` for
  std::set<std::string> on_phone, on_laptop;
  auto collect = [](client::ws_client& ws, std::set<std::string>& into, bool do_ack) {
    // Takes what has arrived (a short wait each), acknowledging the last item seen.
    json last;
    while (auto f = ws.receive(50ms)) {
      if ((*f)["type"] == "msg")
        into.insert((*f)["mid"].get<std::string>());
      if (f->contains("seq"))
        last = *f;
    }
    if (do_ack && !last.is_null() && !ws.closed())
      ws.send(json{{"type", "ack"}, {"upto", last["seq"]}});
  };
  {
    auto a = open_session(node.ep(), alice.token);
    auto p = open_session(node.ep(), phone.token);
    auto l = open_session(node.ep(), laptop.token);
    int next = 0;
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 50; ++i, ++next)
        a.send(json{{"type", "send"},
                    {"id", next},
                    {"cid", "s-" + std::to_string(next)},
                    {"to", bob.name},
                    {"kind", "text"},
                    {"body", "stream " + std::to_string(next)}});
      if (round == 3)
        break; // 50 sends just written: the crash comes while they are stored
      while (auto f = a.receive(20ms))
        if ((*f)["type"] == "sent")
          sent.insert((*f)["mid"].get<std::string>());
      collect(p, on_phone, true);
      collect(l, on_laptop, round % 2 == 0); // the laptop acks less often
    }
    node.kill_hard(); // mid-stream: sends, pushes and acks in flight
    while (auto f = a.receive(50ms))
      if ((*f)["type"] == "sent")
        sent.insert((*f)["mid"].get<std::string>());
  }
  REQUIRE(sent.size() >= 50);
  node.start();
  auto p = open_session(node.ep(), phone.token);
  auto l = open_session(node.ep(), laptop.token);
  // Bounded: each round takes what arrived and acknowledges it.
  for (int i = 0; i < 400; ++i) {
    bool phone_done = std::includes(on_phone.begin(), on_phone.end(), sent.begin(), sent.end());
    bool laptop_done = std::includes(on_laptop.begin(), on_laptop.end(), sent.begin(), sent.end());
    if (phone_done && laptop_done)
      break;
    collect(p, on_phone, true);
    collect(l, on_laptop, true);
  }
  CHECK(std::includes(on_phone.begin(), on_phone.end(), sent.begin(), sent.end()));
  CHECK(std::includes(on_laptop.begin(), on_laptop.end(), sent.begin(), sent.end()));
}
