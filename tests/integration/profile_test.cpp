// Profiles, contacts and blocking (PROTOCOL.md section 9) against a real node.

#include <doctest/doctest.h>

#include "client/http.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

json profile_set(client::ws_client& ws, json fields) {
  fields["type"] = "profile_set";
  return ws.request(std::move(fields));
}

json profile_get(client::ws_client& ws, const std::string& user) {
  return ws.request(json{{"type", "profile_get"}, {"user", user}});
}

} // namespace

TEST_CASE("a profile round trips and survives a restart and privacy is only shown to its owner") {
  node_process node{test_args()};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto alice = make_user(node.ep(), "alice");
  {
    auto b = open_session(node.ep(), bob.token, net::encoding::msgpack);
    auto fresh = profile_get(b, bob.name);
    CHECK(fresh["name"] == "");
    CHECK(fresh["avatar"].is_null());
    auto set =
        profile_set(b, json{{"name", "  Bob Builder  "},
                            {"about", "can we fix it? ✓"},
                            {"privacy", {{"last_seen", "contacts"}, {"read_receipts", false}}}});
    CHECK(set["type"] == "profile");
    CHECK(set["name"] == "Bob Builder"); // trimmed
    CHECK(set["privacy"]["last_seen"] == "contacts");
    CHECK(set["privacy"]["read_receipts"] == false);
    CHECK(set["updated"].get<int64_t>() > 0);
  }
  node.restart();
  auto b = open_session(node.ep(), bob.token);
  auto own = profile_get(b, bob.name);
  CHECK(own["name"] == "Bob Builder");
  CHECK(own["about"] == "can we fix it? ✓");
  CHECK(own["privacy"]["read_receipts"] == false);
  auto a = open_session(node.ep(), alice.token);
  auto seen = profile_get(a, bob.name);
  CHECK(seen["user"] == bob.name);
  CHECK(seen["name"] == "Bob Builder");
  CHECK_FALSE(seen.contains("privacy"));
  CHECK(profile_get(a, "no-such-user")["code"] == "not_found");
}

TEST_CASE("profile limits and validation answer bad_request") {
  node_process node{test_args({"--limits.max-bad-frames=100"})};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto b = open_session(node.ep(), bob.token);
  CHECK(profile_set(b, json{{"name", std::string(64, 'n')}})["type"] == "profile");
  CHECK(profile_set(b, json{{"name", std::string(64, 'x') + "  "}})["type"] == "profile");
  CHECK(profile_set(b, json{{"name", std::string(32, 'x') + std::string(32, 'e') + "é"}})["code"] ==
        "bad_request");
  CHECK(profile_set(b, json{{"name", std::string(65, 'n')}})["code"] == "bad_request");
  std::string about_256;
  for (int i = 0; i < 256; ++i)
    about_256 += "✓"; // 256 characters, 768 bytes
  CHECK(profile_set(b, json{{"about", about_256}})["type"] == "profile");
  CHECK(profile_set(b, json{{"about", about_256 + "x"}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"name", "tab\there"}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"about", "bell\x07"}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"about", "c1 \xc2\x85 control"}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"name", 42}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"privacy", {{"last_seen", "friends"}}}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"privacy", {{"read_receipts", "no"}}}})["code"] == "bad_request");
  CHECK(profile_set(b, json{{"avatar", "not-a-hash"}})["code"] == "bad_request");
  // A well-formed hash the user may not read.
  CHECK(profile_set(b, json{{"avatar", std::string(64, 'a')}})["code"] == "forbidden");
  auto final = profile_get(b, bob.name);
  CHECK(final["about"] == about_256);
  CHECK(final["avatar"].is_null());
}

TEST_CASE("contacts and blocks are listed added and removed") {
  node_process node{test_args()};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto alice = make_user(node.ep(), "alice");
  auto carol = make_user(node.ep(), "carol");
  auto b = open_session(node.ep(), bob.token);
  CHECK(b.request(json{{"type", "contacts_add"}, {"user", alice.name}})["type"] == "ok");
  CHECK(b.request(json{{"type", "contacts_add"}, {"user", carol.name}})["type"] == "ok");
  CHECK(b.request(json{{"type", "contacts_add"}, {"user", "nobody-at-all"}})["code"] ==
        "not_found");
  auto list = b.request(json{{"type", "contacts_list"}});
  CHECK(list["type"] == "contacts");
  CHECK(list["users"] == json::array({alice.name, carol.name}));
  CHECK(b.request(json{{"type", "contacts_remove"}, {"user", alice.name}})["type"] == "ok");
  CHECK(b.request(json{{"type", "contacts_list"}})["users"] == json::array({carol.name}));
  CHECK(b.request(json{{"type", "block"}, {"user", carol.name}})["type"] == "ok");
  auto blocked = b.request(json{{"type", "blocked_list"}});
  CHECK(blocked["type"] == "blocked");
  CHECK(blocked["users"] == json::array({carol.name}));
  CHECK(b.request(json{{"type", "unblock"}, {"user", carol.name}})["type"] == "ok");
  CHECK(b.request(json{{"type", "blocked_list"}})["users"].empty());
  CHECK(b.request(json{{"type", "block"}, {"user", bob.name}})["code"] == "bad_request");
}

TEST_CASE("a blocked sender sees sent but the message is never delivered") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  {
    auto b = open_session(node.ep(), bob.token);
    CHECK(b.request(json{{"type", "block"}, {"user", alice.name}})["type"] == "ok");
  }
  auto a = open_session(node.ep(), alice.token);
  for (int i = 0; i < 3; ++i) // each gets `sent`, like any message (send_text checks it)
    send_text(a, bob.name, "blocked-" + std::to_string(i));
  std::string visible;
  {
    auto b = open_session(node.ep(), bob.token);
    CHECK(b.request(json{{"type", "unblock"}, {"user", alice.name}})["type"] == "ok");
    // Stored after the blocked ones would have been, so pushed after them too.
    visible = send_text(a, bob.name, "after");
    expect_nothing_before(b, item_naming("msg", visible));
  }
  auto b = open_session(node.ep(), bob.token);
  expect_nothing_before(b, item_naming("msg", visible)); // the blocked ones never come
  // Nor later: a newer message is pushed after anything else, and its receipt, naming only what
  // was delivered, comes after any other: alice gets no receipts for the blocked ones.
  auto last = send_text(a, bob.name, "last");
  auto item = expect_nothing_before(b, item_naming("msg", last));
  b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  auto receipt = expect_nothing_before(a, item_naming("receipt", last));
  CHECK(receipt["mids"] == json::array({visible, last}));
}

TEST_CASE("a blocked user sees the profile as it was when blocked") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto carol = make_user(node.ep(), "carol");
  auto b = open_session(node.ep(), bob.token);
  profile_set(b, json{{"name", "Bob before"}, {"about", "old about"}});
  CHECK(b.request(json{{"type", "block"}, {"user", alice.name}})["type"] == "ok");
  profile_set(b, json{{"name", "Bob after"}, {"about", "new about"}});
  auto a = open_session(node.ep(), alice.token);
  auto as_blocked = profile_get(a, bob.name);
  CHECK(as_blocked["name"] == "Bob before");
  CHECK(as_blocked["about"] == "old about");
  auto c = open_session(node.ep(), carol.token);
  CHECK(profile_get(c, bob.name)["name"] == "Bob after");
  CHECK(b.request(json{{"type", "unblock"}, {"user", alice.name}})["type"] == "ok");
  CHECK(profile_get(a, bob.name)["name"] == "Bob after");
}

TEST_CASE("read_receipts off means no read receipts either way") {
  node_process node{test_args({"--limits.push-window=1"})}; // see `next` below
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto b = open_session(node.ep(), bob.token);
  // alice sends a message and bob receives it. With a window of one, bob's inbox pushes it only
  // once his last ack round is over and the reads that waited on it are handled.
  auto next = [&](const std::string& cid) {
    auto mid = send_text(a, bob.name, cid);
    return std::make_pair(mid, expect_nothing_before(b, item_naming("msg", mid)));
  };
  // bob acks and reads it. alice's inbox stores his delivered receipt after any read receipt
  // his inbox sent her before: that comes first, if any.
  auto ack_and_read = [&](const std::pair<std::string, json>& msg) {
    b.send(json{{"type", "ack"}, {"upto", msg.second["seq"]}});
    auto delivered = expect_nothing_before(a, item_naming("receipt", msg.first));
    CHECK(delivered["status"] == "delivered"); // delivered receipts are not a privacy setting
    a.send(json{{"type", "ack"}, {"upto", delivered["seq"]}});
    auto read = json{{"type", "read"}, {"from", alice.name}, {"mids", json::array({msg.first})}};
    CHECK(b.request(read)["type"] == "ok");
  };
  // The reader has them off: sends none.
  profile_set(b, json{{"privacy", {{"read_receipts", false}}}});
  ack_and_read(next("one"));
  auto two = next("two"); // the read of "one" is handled before the settings change
  // The sender has them off: receives none.
  profile_set(b, json{{"privacy", {{"read_receipts", true}}}});
  profile_set(a, json{{"privacy", {{"read_receipts", false}}}});
  ack_and_read(two); // no read receipt of "one" before this delivered one
  auto three = next("three");
  // Both on: the read receipt comes (after the delivered one: none of "two" came before).
  profile_set(a, json{{"privacy", {{"read_receipts", true}}}});
  ack_and_read(three);
  auto read = expect_nothing_before(a, of_type("receipt"));
  CHECK(read["status"] == "read");
  CHECK(read["mids"] == json::array({three.first}));
}

TEST_CASE(
    "an avatar must be readable by its owner and is then readable by who may see the profile") {
  node_process node{test_args()};
  node.start();
  auto bob = make_user(node.ep(), "bob");
  auto alice = make_user(node.ep(), "alice");
  auto eve = make_user(node.ep(), "eve");
  std::string png(3000, '\x89');
  auto up = client::http_call(node.ep(), "POST", "/v1/media", png, "image/png", bob.token);
  REQUIRE(up.status == 201);
  auto hash = up.json_body()["hash"].get<std::string>();
  auto target = "/v1/media/" + hash;
  CHECK(client::http_call(node.ep(), "GET", target, {}, "", alice.token).status == 403);
  // alice may not use bob's upload as her avatar
  auto a = open_session(node.ep(), alice.token);
  CHECK(profile_set(a, json{{"avatar", hash}})["code"] == "forbidden");
  auto b = open_session(node.ep(), bob.token);
  CHECK(b.request(json{{"type", "block"}, {"user", eve.name}})["type"] == "ok");
  auto set = profile_set(b, json{{"avatar", hash}});
  CHECK(set["avatar"] == hash);
  CHECK(profile_get(a, bob.name)["avatar"] == hash);
  auto got = client::http_call(node.ep(), "GET", target, {}, "", alice.token);
  CHECK(got.status == 200);
  CHECK(got.body == png);
  // eve is blocked: she sees neither the new avatar nor its bytes
  auto e = open_session(node.ep(), eve.token);
  CHECK(profile_get(e, bob.name)["avatar"].is_null());
  CHECK(client::http_call(node.ep(), "GET", target, {}, "", eve.token).status == 403);
  // removing the avatar withdraws the access it gave
  CHECK(profile_set(b, json{{"avatar", nullptr}})["avatar"].is_null());
  CHECK(client::http_call(node.ep(), "GET", target, {}, "", alice.token).status == 403);
}
