// Receipts (PROTOCOL.md sections 5 and 6) against a real node.

#include <doctest/doctest.h>

#include <set>

#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

std::set<std::string> mids_of(const std::vector<json>& receipts) {
  std::set<std::string> out;
  for (const auto& r : receipts)
    for (const auto& m : r["mids"])
      out.insert(m.get<std::string>());
  return out;
}

/// Reads `count` msg items and acks them all with one ack; returns them.
std::vector<json> drain(client::ws_client& ws, int count) {
  auto items = receive_items(ws, "msg", count);
  ws.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
  return items;
}

} // namespace

TEST_CASE("an offline sender gets delivered and read receipts after reconnecting") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  std::vector<std::string> mids;
  {
    auto a = open_session(node.ep(), alice.token);
    mids = send_texts(a, bob.name, "tick", 3);
  } // alice is offline from here on
  auto b = open_session(node.ep(), bob.token);
  drain(b, 3);
  b.send(json{{"type", "read"}, {"from", alice.name}, {"mids", {mids[0], mids[1]}}});
  settle(b);

  auto a = open_session(node.ep(), alice.token);
  auto delivered = wait_for(a, of_type("receipt"), 10s);
  CHECK(delivered["status"] == "delivered");
  CHECK(delivered["by"] == bob.name);
  CHECK(mids_of({delivered}) == std::set<std::string>(mids.begin(), mids.end()));
  auto read = wait_for(a, of_type("receipt"), 10s);
  CHECK(read["status"] == "read");
  CHECK(mids_of({read}) == std::set<std::string>{mids[0], mids[1]});
  CHECK(read["seq"].get<uint64_t>() > delivered["seq"].get<uint64_t>());
  a.send(json{{"type", "ack"}, {"upto", read["seq"]}});
  // Receipts are never answered with receipts: bob's inbox stays empty. A receipt that alice's
  // inbox makes for a later message comes after any her ack above made.
  auto reply = send_text(b, alice.name, "reply");
  auto item = expect_nothing_before(a, item_naming("msg", reply));
  a.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  auto receipt = expect_nothing_before(b, item_naming("receipt", reply));
  CHECK(receipt["mids"] == json::array({reply}));
}

TEST_CASE("500 messages acknowledged in one ack produce grouped receipts naming all 500") {
  node_process node{test_args({"--limits.push-window=600"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto carol = make_user(node.ep(), "carol");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token, net::encoding::msgpack);
  auto c = open_session(node.ep(), carol.token, net::encoding::msgpack);
  auto from_alice = send_texts(a, bob.name, "a", 300);
  auto from_carol = send_texts(c, bob.name, "c", 200);
  auto b = open_session(node.ep(), bob.token, net::encoding::msgpack);
  drain(b, 500);
  settle(b);
  auto ra = wait_for(a, of_type("receipt"), 30s);
  auto rc = wait_for(c, of_type("receipt"), 30s);
  CHECK(ra["mids"].size() == 300); // one receipt per sender, not one per message
  CHECK(rc["mids"].size() == 200);
  CHECK(mids_of({ra}) == std::set<std::string>(from_alice.begin(), from_alice.end()));
  CHECK(mids_of({rc}) == std::set<std::string>(from_carol.begin(), from_carol.end()));
  // No other receipt for the 500: bob's inbox sends one for a later message after any of them.
  auto last = send_text(a, bob.name, "last");
  auto item = expect_nothing_before(b, item_naming("msg", last));
  b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  auto receipt = expect_nothing_before(a, item_naming("receipt", last));
  CHECK(receipt["mids"] == json::array({last}));
}

TEST_CASE("receipts survive a node restart until the sender acknowledges them") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  std::vector<std::string> mids;
  {
    auto a = open_session(node.ep(), alice.token);
    mids = send_texts(a, bob.name, "r", 2);
  }
  {
    auto b = open_session(node.ep(), bob.token);
    drain(b, 2);
    b.send(json{{"type", "read"}, {"from", alice.name}, {"mids", mids}});
    settle(b);
  }
  node.restart();
  {
    auto a = open_session(node.ep(), alice.token);
    auto receipts = receive_items(a, "receipt", 2);
    CHECK(receipts[0]["status"] == "delivered");
    CHECK(receipts[1]["status"] == "read");
    // Not acked: after another restart they are pushed again.
  }
  node.restart();
  auto a = open_session(node.ep(), alice.token);
  auto receipts = receive_items(a, "receipt", 2);
  CHECK(mids_of(receipts) == std::set<std::string>(mids.begin(), mids.end()));
}

TEST_CASE("nobody can plant receipts about messages that were not delivered to them") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto eve = make_user(node.ep(), "eve");
  auto a = open_session(node.ep(), alice.token);
  auto mids = send_texts(a, bob.name, "secret", 2);
  auto e = open_session(node.ep(), eve.token);
  // eve first gets a message of her own: her session then knows her inbox, and her ack of it
  // makes a receipt that comes after any her read made.
  auto hello = send_text(a, eve.name, "hello");
  auto to_eve = wait_for(e, of_type("msg"), 10s);
  // eve names alice's messages to bob: she never received them.
  e.send(json{{"type", "read"}, {"from", alice.name}, {"mids", mids}});
  e.send(json{{"type", "ack"}, {"upto", to_eve["seq"]}});
  CHECK(expect_nothing_before(a, item_naming("receipt", hello))["by"] == eve.name);
  auto b = open_session(node.ep(), bob.token);
  auto items = receive_items(b, "msg", 2);
  // bob reads before acknowledging (not delivered yet) and names the wrong sender: nothing.
  b.send(json{{"type", "read"}, {"from", alice.name}, {"mids", mids}});
  b.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
  b.send(json{{"type", "read"}, {"from", eve.name}, {"mids", mids}});
  // His inbox takes the early read before the ack: a receipt from it would come first.
  auto delivered = expect_nothing_before(a, of_type("receipt"));
  CHECK(delivered["status"] == "delivered");
  // So no read receipt from any of the above reached alice (the wrong-sender one would go to
  // eve: see the end). Now the real read: accepted once, and a repeat sends nothing more.
  b.send(json{{"type", "read"}, {"from", alice.name}, {"mids", mids}});
  auto read = expect_nothing_before(a, of_type("receipt"));
  CHECK(read["status"] == "read");
  CHECK(read["by"] == bob.name);
  CHECK(mids_of({read}) == std::set<std::string>(mids.begin(), mids.end()));
  b.send(json{{"type", "read"}, {"from", alice.name}, {"mids", mids}});
  // bob's inbox sends receipts for later messages after any that the repeat (to alice) or the
  // wrong-sender read (to eve) made.
  auto last_a = send_text(a, bob.name, "last-a");
  auto last_e = send_text(e, bob.name, "last-e");
  auto lasts = receive_items(b, "msg", 2);
  b.send(json{{"type", "ack"}, {"upto", lasts.back()["seq"]}});
  CHECK(expect_nothing_before(a, item_naming("receipt", last_a))["status"] == "delivered");
  // The third user saw none of it.
  CHECK(expect_nothing_before(e, item_naming("receipt", last_e))["status"] == "delivered");
}

TEST_CASE("a node killed mid-stream never leaves a sent message missing") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token, net::encoding::msgpack);
  std::set<std::string> acknowledged;
  int sent_frames = 0;
  for (int i = 0; i < 400; ++i, ++sent_frames)
    a.send(json{{"type", "send"},
                {"cid", "k" + std::to_string(i)},
                {"to", bob.name},
                {"kind", "text"},
                {"body", "crash " + std::to_string(i)}});
  // Collect some sent replies, then kill the node while the rest are in flight.
  while (acknowledged.size() < 50) {
    auto reply = wait_for(a, of_type("sent"), 30s);
    acknowledged.insert(reply["mid"].get<std::string>());
  }
  node.kill_hard();
  while (auto frame = a.receive(2s))
    if ((*frame)["type"] == "sent")
      acknowledged.insert((*frame)["mid"].get<std::string>());
  node.start();
  auto b = open_session(node.ep(), bob.token, net::encoding::msgpack);
  std::set<std::string> stored;
  auto missing = [&] {
    for (const auto& mid : acknowledged)
      if (!stored.count(mid))
        return true;
    return false;
  };
  // Reads until every acknowledged mid is found (or the deadline fails the test below).
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (missing() && std::chrono::steady_clock::now() < deadline) {
    auto frame = b.receive(5s);
    if (!frame)
      break;
    if ((*frame)["type"] == "msg") {
      CHECK(stored.insert((*frame)["mid"].get<std::string>()).second); // never twice
      b.send(json{{"type", "ack"}, {"upto", (*frame)["seq"]}});
    }
  }
  INFO("acknowledged " << acknowledged.size() << ", stored " << stored.size());
  for (const auto& mid : acknowledged)
    CHECK(stored.count(mid) == 1);
}
