// Bad input (issue 13, item 3) against a real node: malformed frames of every type over a real
// WebSocket, msgpack ext types, truncated and deeply nested values, 10,000 random frames while
// another user chats, malformed HTTP, slowloris, path traversal in media hashes.
// (Each field rule on its own is unit-tested in tests/net/frames_test.cpp.)

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include "client/http.hpp"
#include "tests/hardening/hardening.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

namespace {

/// Sends `frame` with an id and checks that the answer is an error of one of `codes`, carrying
/// that id; the session must stay usable (a ping answers).
void expect_refused(client::ws_client& ws, json frame,
                    std::initializer_list<const char*> codes = {"bad_request"}) {
  INFO("frame: " << frame.dump().substr(0, 300));
  auto reply = ws.request(frame);
  CHECK(reply["type"] == "error");
  bool known = false;
  for (auto code : codes)
    known = known || reply["code"] == code;
  CHECK_MESSAGE(known, "code " << reply["code"]);
  CHECK(reply["id"].is_number());
  CHECK(ws.request(json{{"type", "ping"}})["type"] == "pong");
}

/// Sends raw bytes; an error without id (the frame was not usable) must come back.
void expect_undecodable(client::ws_client& ws, const std::string& bytes, bool binary) {
  ws.send_raw(bytes, binary);
  auto reply = wait_for(ws, of_type("error"), 10s);
  CHECK(reply["code"] == "bad_request");
  CHECK_FALSE(reply.contains("id"));
  CHECK(ws.request(json{{"type", "ping"}})["type"] == "pong");
}

json with(json frame, const std::string& key, json value) {
  frame[key] = std::move(value);
  return frame;
}

json without(json frame, const std::string& key) {
  frame.erase(key);
  return frame;
}

std::vector<std::string> names(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back("user" + std::to_string(i));
  return out;
}

} // namespace

TEST_CASE("every frame type with missing, extra, wrong-typed, oversized and non-UTF-8 fields") {
  node_process node{test_args({"--limits.max-bad-frames=100000"})};
  node.start();
  auto alice = make_user(node.ep(), "bad_a");
  auto bob = make_user(node.ep(), "bad_b");
  for (auto enc : {net::encoding::json, net::encoding::msgpack}) {
    CAPTURE(static_cast<int>(enc));
    auto ws = open_session(node.ep(), alice.token, enc);
    json send{{"type", "send"}, {"cid", "c1"}, {"to", bob.name}, {"kind", "text"}, {"body", "hi"}};
    json image{{"type", "send"},
               {"cid", "i1"},
               {"to", bob.name},
               {"kind", "image"},
               {"media", {{"hash", std::string(64, 'a')}, {"mime", "image/png"}, {"size", 1}}}};
    // send
    for (auto key : {"cid", "to", "kind", "body"})
      expect_refused(ws, without(send, key));
    expect_refused(ws, with(send, "cid", std::string(65, 'c')));
    expect_refused(ws, with(send, "cid", ""));
    expect_refused(ws, with(send, "cid", 7));
    expect_refused(ws, with(send, "to", 7));
    expect_refused(ws, with(send, "to", "UPPER case"));
    expect_refused(ws, with(send, "kind", "sticker"));
    expect_refused(ws, with(send, "body", ""));
    expect_refused(ws, with(send, "body", json::array({"hi"})));
    expect_refused(ws, with(send, "body", std::string(64 * 1024 + 1, 'b')),
                   {"bad_request", "too_large"});
    expect_refused(ws, without(image, "media"));
    expect_refused(ws, with(image, "media", "x"));
    for (auto hash : {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
                      "../../../../etc/passwd" + std::string(42, 'a')}) {
      auto bad = image;
      bad["media"]["hash"] = hash;
      expect_refused(ws, bad);
    }
    auto big_thumb = image;
    big_thumb["media"]["thumb"] = json::binary(std::vector<uint8_t>(16 * 1024 + 1, 1));
    if (enc == net::encoding::json)
      big_thumb["media"]["thumb"] = std::string(22 * 1024, 'A'); // base64 of > 16 KiB
    expect_refused(ws, big_thumb);
    // ack, read, state
    expect_refused(ws, json{{"type", "ack"}});
    expect_refused(ws, json{{"type", "ack"}, {"upto", -1}});
    expect_refused(ws, json{{"type", "ack"}, {"upto", "1"}});
    expect_refused(ws, json{{"type", "read"}, {"mids", {"m"}}});
    expect_refused(ws, json{{"type", "read"}, {"from", bob.name}, {"mids", json::array()}});
    expect_refused(ws, json{{"type", "read"}, {"from", bob.name}, {"mids", names(1025)}});
    expect_refused(ws, json{{"type", "read"}, {"from", bob.name}, {"mids", {1, 2}}});
    expect_refused(ws, json{{"type", "state"}, {"foreground", "yes"}});
    // presence, profiles, contacts, blocks
    expect_refused(ws, json{{"type", "presence_get"}});
    expect_refused(ws, json{{"type", "presence_get"}, {"user", std::string(33, 'u')}});
    expect_refused(ws, json{{"type", "presence_sub"}, {"users", "x"}});
    expect_refused(ws, json{{"type", "presence_sub"}, {"users", names(1025)}});
    expect_refused(ws, json{{"type", "presence_unsub"}, {"users", {7}}});
    expect_refused(ws, json{{"type", "profile_get"}, {"user", 5}});
    expect_refused(ws, json{{"type", "profile_set"}, {"name", std::string(65, 'n')}});
    expect_refused(ws, json{{"type", "profile_set"}, {"about", std::string(257, 'a')}});
    expect_refused(ws, json{{"type", "profile_set"}, {"name", "a\u0001b"}});
    expect_refused(ws, json{{"type", "profile_set"}, {"privacy", {{"last_seen", "sometimes"}}}});
    expect_refused(ws, json{{"type", "profile_set"}, {"avatar", 5}});
    for (auto type : {"contacts_add", "contacts_remove", "block", "unblock"}) {
      expect_refused(ws, json{{"type", type}});
      expect_refused(ws, json{{"type", type}, {"user", alice.name}}); // naming yourself
      expect_refused(ws, json{{"type", type}, {"user", json::object()}});
    }
    // envelope: type and id
    expect_refused(ws, json{{"type", "no_such_type"}});
    expect_refused(ws, json{{"type", 5}});
    expect_refused(ws, json{{"kind", "text"}});
    expect_refused(ws, json{{"type", "auth"}, {"token", alice.token}}); // a second auth
    auto no_id = ws.request(json{{"type", "ping"}});                    // warm-up: nothing queued
    CHECK(no_id["type"] == "pong");
    ws.send(json{{"type", "ping"}, {"id", -1}});
    CHECK(wait_for(ws, of_type("error"), 10s)["code"] == "bad_request");
    ws.send(json{{"type", "ping"}, {"id", std::string(65, 'i')}});
    CHECK(wait_for(ws, of_type("error"), 10s)["code"] == "bad_request");
    // Extra fields are ignored, and a forged sender changes nothing: the node sets it.
    CHECK(ws.request(with(json{{"type", "ping"}}, "extra", {{"x", 1}}))["type"] == "pong");
    auto forged = with(with(send, "from", "mallory"), "ts", 1);
    forged["cid"] = enc == net::encoding::json ? "forged-j" : "forged-m";
    auto sent = ws.request(forged);
    REQUIRE(sent["type"] == "sent");
    auto b = open_session(node.ep(), bob.token);
    auto item = wait_for(b, item_naming("msg", sent["mid"].get<std::string>()), 10s);
    CHECK(item["from"] == alice.name);
    CHECK(item["ts"] != 1);
    b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
    b.close();
  }
}

TEST_CASE("non-UTF-8, msgpack ext, truncated and deeply nested values are refused") {
  node_process node{test_args({"--limits.max-bad-frames=100000"})};
  node.start();
  auto alice = make_user(node.ep(), "utf_a");
  auto ws = open_session(node.ep(), alice.token, net::encoding::msgpack);
  auto map1 = [](const std::string& key, const std::string& value_bytes) {
    return std::string{"\x82\xa4type\xa4ping"} + static_cast<char>(0xa0 | key.size()) + key +
           value_bytes;
  };
  // Strings that are not UTF-8 (a lone continuation byte, an overlong '/', a surrogate).
  for (std::string bad :
       {std::string{"\x80"}, std::string{"\xc0\xaf"}, std::string{"\xed\xa0\x80"}})
    expect_undecodable(ws, map1("x", static_cast<char>(0xa0 | bad.size()) + bad), true);
  // msgpack ext (fixext 1, ext 8) and the timestamp ext.
  expect_undecodable(ws, map1("x", std::string{"\xd4\x01\x00", 3}), true);
  expect_undecodable(ws, map1("x", std::string{"\xc7\x02\x05\x00\x00", 5}), true);
  expect_undecodable(ws, map1("x", std::string{"\xd6\xff\x00\x00\x00\x01", 6}), true);
  // Truncated: a map of two entries with one, a string shorter than its length, a lone marker.
  expect_undecodable(ws, std::string{"\x82\xa4type\xa4ping"}, true);
  expect_undecodable(ws, std::string{"\x81\xa4type\xa8ping"}, true);
  expect_undecodable(ws, std::string{"\xdf"}, true);
  expect_undecodable(ws, std::string{}, true);
  // Bytes after the value.
  expect_undecodable(ws, std::string{"\x81\xa4type\xa4ping\xc0"}, true);
  // Deep nesting: 20 levels refused (at most 8), and 100,000 (no stack exhaustion) too, in
  // both encodings.
  expect_undecodable(ws, map1("x", std::string(20, '\x91') + "\xc0"), true);
  expect_undecodable(ws, map1("x", std::string(100'000, '\x91') + "\xc0"), true);
  expect_undecodable(
      ws, R"({"type":"ping","x":)" + std::string(20, '[') + std::string(20, ']') + "}", false);
  expect_undecodable(
      ws, R"({"type":"ping","x":)" + std::string(60'000, '[') + std::string(60'000, ']') + "}",
      false);
  // A few levels are fine.
  ws.send_raw(map1("x", std::string(3, '\x91') + "\xc0"), true);
  CHECK(wait_for(
            ws, [](const json&) { return true; }, 10s)["type"] == "pong");
  // Not an object at all, and keys that are not strings.
  expect_undecodable(ws, std::string{"\x93\x01\x02\x03"}, true);
  expect_undecodable(ws, std::string{"\x81\x01\xa4ping"}, true);
  expect_undecodable(ws, "[1,2,3]", false);
  expect_undecodable(ws, "{\"type\":", false);
  // A text frame that is not UTF-8 breaks the WebSocket protocol itself: close 1007.
  client::ws_client raw{node.ep()};
  raw.connect(alice.token);
  wait_for(raw, of_type("welcome"), 10s);
  raw.send_raw(std::string{"{\"type\":\"ping\",\"x\":\"\xff\"}"}, false);
  CHECK_FALSE(raw.receive(10s));
  CHECK(raw.close_code() == 1007);
  CHECK(http_call(node.ep(), "GET", "/healthz").status == 200);
}

TEST_CASE("10,000 random frames on one connection while another user chats unaffected") {
  node_process node{test_args({"--limits.max-bad-frames=500"})};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "calm_a");
  auto bob = make_user(ep, "calm_b");
  auto mallory = make_user(ep, "noisy");
  auto a = open_session(ep, alice.token);
  auto b = open_session(ep, bob.token);

  std::atomic<bool> noisy_done{false};
  std::atomic<int> frames{0}, reconnects{0}, replies{0};
  std::thread noise([&] {
    std::mt19937 rng{20261203};
    auto random_bytes = [&](std::size_t n) {
      std::string s(n, '\0');
      for (auto& c : s)
        c = static_cast<char>(rng());
      return s;
    };
    const std::vector<std::string> types{"send",         "ack",
                                         "read",         "state",
                                         "ping",         "presence_get",
                                         "presence_sub", "profile_get",
                                         "profile_set",  "contacts_add",
                                         "block",        "blocked_list",
                                         "auth",         "x"};
    auto random_value = [&]() -> json {
      switch (rng() % 7) {
      case 0:
        return static_cast<int64_t>(rng()) - (1LL << 31);
      case 1:
        return random_bytes(rng() % 8).size() > 3 ? "user" + std::to_string(rng() % 50) : "";
      case 2:
        return json::array({rng() % 5, "x"});
      case 3:
        return json::object({{"k", rng() % 3}});
      case 4:
        return rng() % 2 == 0;
      case 5:
        return nullptr;
      default:
        return std::string(rng() % 100, 'z');
      }
    };
    auto ws = std::make_unique<client::ws_client>(ep);
    auto connect = [&] {
      ws = std::make_unique<client::ws_client>(ep, rng() % 2 ? net::encoding::json
                                                             : net::encoding::msgpack);
      ws->connect(mallory.token);
      ++reconnects;
    };
    connect();
    for (int attempts = 0; frames < 10'000 && attempts < 20'000; ++attempts) {
      if (ws->closed())
        connect(); // the bad-frame limit closed it (4003): a hostile client comes back
      std::string bytes;
      bool binary = true;
      switch (rng() % 3) {
      case 0:
        bytes = random_bytes(rng() % 200);
        break;
      case 1: {
        json f{{"type", types[rng() % types.size()]}};
        for (auto key : {"id", "cid", "to", "kind", "body", "upto", "user", "users", "mids", "from",
                         "foreground", "name"})
          if (rng() % 3 == 0)
            f[key] = random_value();
        binary = rng() % 2 == 0;
        bytes = net::encode(f, binary ? net::encoding::msgpack : net::encoding::json);
        break;
      }
      default: {
        bytes = net::encode(json{{"type", "send"},
                                 {"cid", "x"},
                                 {"to", "someone"},
                                 {"kind", "text"},
                                 {"body", "mutated"}},
                            net::encoding::msgpack);
        for (int k = 0; k < 3; ++k)
          bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      }
      try {
        ws->send_raw(std::move(bytes), binary);
        ++frames;
        while (auto reply = ws->receive(0ms))
          ++replies;
      } catch (const std::runtime_error&) {
        // closed under us (4003, or a frame Beast refuses): reconnect at the next frame
      }
    }
    noisy_done = true;
  });

  std::vector<double> ms;
  int i = 0;
  while (!noisy_done || i < 100) {
    auto start = std::chrono::steady_clock::now();
    auto mid = send_text(a, bob.name, "calm-" + std::to_string(i++));
    auto item = wait_for(b, item_naming("msg", mid), 10s);
    b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    REQUIRE(i < 100'000);
  }
  noise.join();
  auto s = summarize(ms);
  MESSAGE("random frames " << frames.load() << " (connections " << reconnects.load() << ", replies "
                           << replies.load() << "); calm round trips meanwhile: " << s.describe());
  CHECK(frames == 10'000);
  CHECK(s.p99 < 200.0);
  CHECK(s.max < 1000.0);
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
  open_session(ep, mallory.token).close();
}

TEST_CASE("HTTP with bad JSON, huge headers, huge bodies and wrong methods gets 4xx") {
  node_process node{test_args()};
  node.start();
  auto ep = node.ep();
  auto user = make_user(ep, "http_bad");
  for (auto body : {"", "{", "[]", "null", "{\"user\":5,\"password\":\"12345678\"}",
                    "{\"user\":\"okname\"}", "\xff\xfe"}) {
    CHECK(http_call(ep, "POST", "/v1/accounts", body).status == 400);
    CHECK(http_call(ep, "POST", "/v1/sessions", body).status == 400);
  }
  // Bodies that are not UTF-8 are quoted in the error safely, and the accounts service stays.
  make_user(ep, "after_bad_json");
  // A body over 64 KiB: 413 (declared, or chunked).
  auto big = http_call(ep, "POST", "/v1/sessions", std::string(1 << 20, 'x'));
  CHECK(big.status == 413);
  CHECK(big.json_body()["error"] == "too_large");
  // A header over 16 KiB: 400, connection closed.
  auto huge = http_call(ep, "GET", "/healthz", {}, "", {}, 10s,
                        {{"X-Padding", std::string(20 * 1024, 'p')}});
  CHECK(huge.status == 400);
  // Wrong methods.
  CHECK(http_call(ep, "PUT", "/v1/accounts", "{}").status == 404);
  CHECK(http_call(ep, "GET", "/v1/sessions").status == 404);
  CHECK(http_call(ep, "DELETE", "/healthz").status == 400);
  CHECK(http_call(ep, "GET", "/v1/media", {}, "", user.token).status == 400);
  CHECK(http_call(ep, "PATCH", "/v1/media/" + std::string(64, 'a'), "x", "text/plain", user.token)
            .status == 400);
  CHECK(http_call(ep, "BREW", "/healthz").status >= 400);
  // Not HTTP at all.
  raw_connection junk{"127.0.0.1", ep.port};
  junk.write(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16));
  CHECK(junk.read_for(5s).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
}

TEST_CASE("path traversal in media hashes never leaves the media folder") {
  node_process node{test_args()};
  node.start();
  auto ep = node.ep();
  auto user = make_user(ep, "traverse");
  auto up = http_call(ep, "POST", "/v1/media", "secret", "text/plain", user.token);
  REQUIRE(up.status == 201);
  auto hash = up.json_body()["hash"].get<std::string>();
  for (auto target :
       {"/v1/media/../../../../etc/passwd", "/v1/media/..%2f..%2f..%2fetc%2fpasswd",
        "/v1/media/%2e%2e/%2e%2e/etc/passwd", "/v1/media/./", "/v1/media//etc/passwd"}) {
    auto res = http_call(ep, "GET", target, {}, "", user.token);
    INFO(target);
    CHECK(res.status == 404);
    CHECK(res.body.find("root:") == std::string::npos);
  }
  auto upper = hash;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (auto bad : {hash.substr(0, 63), hash + "0", upper, hash.substr(0, 2) + "/" + hash,
                   "../" + hash.substr(3), hash + "/..", hash + "%00"})
    CHECK(http_call(ep, "GET", "/v1/media/" + bad, {}, "", user.token).status == 404);
  CHECK(http_call(ep, "GET", "/v1/media/" + hash, {}, "", user.token).body == "secret");
}

TEST_CASE("slowloris: many trickling connections are bounded while a normal client is served") {
  node_process node{
      test_args({"--net.header-timeout-ms=4000", "--net.max-connections-per-address=32"})};
  node.start();
  auto ep = node.ep();
  // 64 connections from another address, each sending its header a byte at a time.
  std::vector<std::unique_ptr<raw_connection>> slow;
  for (int i = 0; i < 64; ++i) {
    slow.push_back(std::make_unique<raw_connection>("127.0.0.1", ep.port, "127.0.0.2"));
    slow.back()->write("GET /healthz HTTP/1.1\r\n");
  }
  auto started = std::chrono::steady_clock::now();
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    while (trickling) {
      for (auto& c : slow)
        if (!c->closed())
          c->write("X");
      std::this_thread::sleep_for(100ms); // the attacker's pace, not a synchronisation
    }
  });
  // Meanwhile a normal client from 127.0.0.1 registers, logs in and chats, promptly.
  std::vector<double> ms;
  auto timed = [&](auto f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  };
  test_user alice, bob;
  timed([&] { alice = make_user(ep, "patient_a"); });
  timed([&] { bob = make_user(ep, "patient_b"); });
  auto a = open_session(ep, alice.token);
  auto b = open_session(ep, bob.token);
  for (int i = 0; i < 20; ++i)
    timed([&] {
      auto mid = send_text(a, bob.name, "p" + std::to_string(i));
      wait_for(b, item_naming("msg", mid), 10s);
    });
  auto s = summarize(ms);
  MESSAGE("normal client while 32 connections trickle: " << s.describe());
  CHECK(s.max < 1000.0);
  CHECK(std::chrono::steady_clock::now() - started < 4s); // served while they were held
  // Past the per-address limit: 503 overloaded at once. The others are cut at the header
  // timeout (4 s), though still trickling, without an answer.
  std::size_t refused = 0, cut = 0;
  for (auto& c : slow) {
    auto deadline = started + 8s;
    if (!c->closed())
      c->read_for(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
    if (c->received().rfind("HTTP/1.1 503", 0) == 0) {
      ++refused;
      CHECK(c->received().find("\"overloaded\"") != std::string::npos);
      CHECK(c->received().find("\"retry_ms\"") != std::string::npos);
    } else {
      CHECK(c->received().empty());
      cut += c->closed();
    }
  }
  trickling = false;
  trickle.join();
  CHECK(refused == 32);
  CHECK(cut == 32);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(metric(ep, "tidings_connections_refused_total") >= 32);
}
