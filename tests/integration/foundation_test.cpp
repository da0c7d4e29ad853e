// Foundation behaviour against a real node process over real WebSockets.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "client/http.hpp"
#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

TEST_CASE("accounts register and login and logout and tokens survive a restart") {
  node_process node{test_args()};
  node.start();
  auto ep = node.ep();
  auto name = unique_user("acct");
  auto body = json{{"user", name}, {"password", "correct horse"}}.dump();
  auto created = http_call(ep, "POST", "/v1/accounts", body);
  CHECK(created.status == 201);
  CHECK(created.json_body()["user"] == name);
  auto again = http_call(ep, "POST", "/v1/accounts", body);
  CHECK(again.status == 409);
  CHECK(again.json_body()["error"] == "user_exists");
  for (auto bad :
       {R"({"user":"AB","password":"12345678"})", R"({"user":"okname","password":"short"})",
        R"(not json)", R"({"user":"has space","password":"12345678"})"}) {
    auto res = http_call(ep, "POST", "/v1/accounts", bad);
    CHECK(res.status == 400);
    CHECK(res.json_body()["error"] == "bad_request");
  }
  auto wrong = http_call(ep, "POST", "/v1/sessions",
                         json{{"user", name}, {"password", "wrong password"}}.dump());
  CHECK(wrong.status == 401);
  auto token = client::login(ep, name, "correct horse");
  CHECK(token.size() >= 32);
  auto other_token = client::login(ep, name, "correct horse");

  node.restart();
  ep = node.ep();
  auto ws = open_session(ep, token); // the token survived the restart
  ws.close();
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", token).status == 204);
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", token).status == 401);
  client::ws_client revoked{ep};
  revoked.connect();
  auto reply = revoked.auth(token);
  CHECK(reply["type"] == "error");
  CHECK(reply["code"] == "unauthorized");
  CHECK_FALSE(revoked.receive(10s));
  CHECK(revoked.close_code() == 4001);
  open_session(ep, other_token).close(); // revoking one token leaves the others
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("too many failed logins are refused with 429") {
  node_process node{test_args({"--limits.login-failures=3"})};
  node.start();
  auto user = make_user(node.ep(), "throttle");
  auto bad = json{{"user", user.name}, {"password", "not the password"}}.dump();
  for (int i = 0; i < 3; ++i)
    CHECK(http_call(node.ep(), "POST", "/v1/sessions", bad).status == 401);
  auto res = http_call(node.ep(), "POST", "/v1/sessions", bad);
  CHECK(res.status == 429);
  CHECK(res.json_body()["error"] == "rate_limited");
}

TEST_CASE("a thousand messages to an offline user survive a restart and arrive once in order") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token, net::encoding::msgpack);
  auto mids = send_texts(a, bob.name, "bulk", 1000);
  REQUIRE(mids.size() == 1000);
  CHECK(std::set<std::string>(mids.begin(), mids.end()).size() == 1000);
  a.close();

  node.restart();
  auto b = open_session(node.ep(), bob.token, net::encoding::msgpack);
  uint64_t last_seq = 0;
  for (int i = 0; i < 1000; ++i) {
    auto item = wait_for(b, of_type("msg"), 30s);
    CHECK(item["mid"] == mids[static_cast<std::size_t>(i)]);
    CHECK(item["from"] == alice.name);
    CHECK(item["body"] == "bulk message " + std::to_string(i));
    CHECK(item["seq"].get<uint64_t>() > last_seq);
    last_seq = item["seq"].get<uint64_t>();
    if ((i + 1) % 128 == 0 || i == 999)
      b.send(json{{"type", "ack"}, {"upto", last_seq}});
  }
  // A later message comes after anything else the inbox held: nothing more may come before it.
  auto a2 = open_session(node.ep(), alice.token);
  auto last = expect_nothing_before(b, item_naming("msg", send_text(a2, bob.name, "last")));
  b.send(json{{"type", "ack"}, {"upto", last["seq"]}});
  settle(b); // the session has passed the ack on before the restart
  b.close();

  node.restart();
  auto again = open_session(node.ep(), bob.token);
  auto a3 = open_session(node.ep(), alice.token);
  // Acked items are gone for good: a new message is the first thing pushed.
  expect_nothing_before(again, item_naming("msg", send_text(a3, bob.name, "after")));
}

TEST_CASE("unacknowledged items are pushed again in the next session within the window") {
  node_process node{test_args({"--limits.push-window=10"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto mids = send_texts(a, bob.name, "win", 25);
  {
    auto early = open_session(node.ep(), bob.token);
    CHECK(receive_items(early, "msg", 10).front()["mid"] == mids[0]);
    // A newer session makes the inbox close this one after every push it sent it: nothing
    // before the close means the window holds the other 15 back.
    auto b = open_session(node.ep(), bob.token);
    CHECK_FALSE(early.receive(10s));
    CHECK(early.close_code() == 4002);
    auto first = receive_items(b, "msg", 10);
    CHECK(first.front()["mid"] == mids[0]);
    b.send(json{{"type", "ack"}, {"upto", first[4]["seq"]}});
    auto more = receive_items(b, "msg", 5);
    CHECK(more.front()["mid"] == mids[10]);
    b.drop(); // items 6..15 were pushed but not acked
  }
  auto b = open_session(node.ep(), bob.token);
  auto redelivered = receive_items(b, "msg", 10);
  CHECK(redelivered.front()["mid"] == mids[5]);
  CHECK(redelivered.back()["mid"] == mids[14]);
  // An ack beyond what was pushed only covers what was pushed.
  b.send(json{{"type", "ack"}, {"upto", 1000000}});
  auto rest = receive_items(b, "msg", 10);
  CHECK(rest.front()["mid"] == mids[15]);
  CHECK(rest.back()["mid"] == mids[24]);
}

TEST_CASE("a repeated cid gets the same sent reply across a restart and is stored once") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto frame = json{{"type", "send"},
                    {"cid", "dup-1"},
                    {"to", bob.name},
                    {"kind", "text"},
                    {"body", "only once"}};
  std::string mid;
  {
    auto a = open_session(node.ep(), alice.token);
    auto sent = a.request(frame);
    REQUIRE(sent["type"] == "sent");
    mid = sent["mid"];
    auto repeat = a.request(frame);
    CHECK(repeat["mid"] == mid);
    CHECK(repeat["ts"] == sent["ts"]);
  }
  node.restart();
  auto a = open_session(node.ep(), alice.token);
  auto after = a.request(frame);
  CHECK(after["type"] == "sent");
  CHECK(after["mid"] == mid);
  auto b = open_session(node.ep(), bob.token);
  auto item = wait_for(b, of_type("msg"), 10s);
  CHECK(item["mid"] == mid);
  // A later message is pushed after any second copy would have been.
  expect_nothing_before(b, item_naming("msg", send_text(a, bob.name, "dup-2")));
}

TEST_CASE("a new session replaces the older one with close code 4002") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto first = open_session(node.ep(), alice.token);
  auto second = open_session(node.ep(), alice.token);
  CHECK_FALSE(first.receive(10s));
  CHECK(first.closed());
  CHECK(first.close_code() == 4002);
  CHECK(second.request(json{{"type", "ping"}})["type"] == "pong");
}

TEST_CASE("garbage frames get bad_request and the connection keeps working until too many") {
  node_process node{test_args({"--limits.max-bad-frames=5"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto ws = open_session(node.ep(), alice.token);
  std::vector<std::pair<std::string, bool>> garbage{
      {"not json at all", false},
      {std::string("\xc1\x00\x01", 3), true},
      {R"({"type":"send","id":5,"cid":"x","to":"someone","kind":"text"})", false}, // no body
      {R"({"type":"no_such_type","id":6})", false},
      {R"({"type":"ack","upto":"ten"})", false},
  };
  for (auto& [bytes, binary] : garbage) {
    ws.send_raw(bytes, binary);
    auto reply = wait_for(ws, of_type("error"), 10s);
    CHECK(reply["code"] == "bad_request");
    CHECK(ws.request(json{{"type", "ping"}})["type"] == "pong");
  }
  CHECK(ws.request(json{{"type", "ping"}, {"id", "own-id"}})["type"] == "pong");
  ws.send_raw("{", false); // the sixth: policy violation
  wait_for(ws, of_type("error"), 10s);
  CHECK_FALSE(ws.receive(10s));
  CHECK(ws.close_code() == 4003);
}

TEST_CASE("wrong sends get the protocol's error codes with the request's id") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto ws = open_session(node.ep(), alice.token, net::encoding::msgpack);
  auto unknown = ws.request(json{
      {"type", "send"}, {"cid", "c1"}, {"to", "nobody-here"}, {"kind", "text"}, {"body", "hi"}});
  CHECK(unknown["type"] == "error");
  CHECK(unknown["code"] == "not_found");
  auto too_long = ws.request(json{{"type", "send"},
                                  {"cid", std::string(65, 'c')},
                                  {"to", alice.name},
                                  {"kind", "text"},
                                  {"body", "hi"}});
  CHECK(too_long["code"] == "bad_request");
  auto big_body = ws.request(json{{"type", "send"},
                                  {"cid", "c2"},
                                  {"to", alice.name},
                                  {"kind", "text"},
                                  {"body", std::string(64 * 1024 + 1, 'x')}});
  CHECK(big_body["code"] == "bad_request");
  auto media = ws.request(
      json{{"type", "send"},
           {"cid", "c3"},
           {"to", alice.name},
           {"kind", "image"},
           {"media", {{"hash", std::string(64, 'a')}, {"mime", "image/jpeg"}, {"size", 10}}}});
  CHECK(media["code"] == "forbidden");
}

TEST_CASE("a frame over the size limit closes the connection with 1009") {
  node_process node{test_args({"--limits.frame-bytes=4096"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto ws = open_session(node.ep(), alice.token);
  try {
    ws.send_raw(std::string(5000, ' '), false);
  } catch (const std::runtime_error&) {
    // The server may close before the whole frame is written: the close code tells.
  }
  CHECK_FALSE(ws.receive(10s));
  CHECK(ws.close_code() == 1009);
}

TEST_CASE("auth by header and bad token and no auth first and auth timeout") {
  node_process node{test_args({"--limits.auth-timeout-ms=300"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  {
    client::ws_client ws{node.ep()};
    ws.connect(alice.token);
    auto welcome = wait_for(ws, of_type("welcome"), 10s);
    CHECK(welcome["user"] == alice.name);
  }
  {
    client::ws_client ws{node.ep()};
    ws.connect();
    auto reply = ws.auth("definitely-not-a-token");
    CHECK(reply["code"] == "unauthorized");
    CHECK_FALSE(ws.receive(10s));
    CHECK(ws.close_code() == 4001);
  }
  {
    client::ws_client ws{node.ep()};
    ws.connect();
    ws.send(json{{"type", "ping"}});
    CHECK(wait_for(ws, of_type("error"), 10s)["code"] == "unauthorized");
    CHECK_FALSE(ws.receive(10s));
    CHECK(ws.close_code() == 4001);
  }
  {
    client::ws_client ws{node.ep()};
    ws.connect();
    CHECK(wait_for(ws, of_type("error"), 10s)["code"] == "unauthorized");
    CHECK_FALSE(ws.receive(10s));
    CHECK(ws.close_code() == 4001);
  }
}

TEST_CASE("an idle session is closed with 1000") {
  node_process node{test_args({"--limits.idle-timeout-ms=1500"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto idle = open_session(node.ep(), alice.token);
  CHECK_FALSE(idle.receive(20s));
  CHECK(idle.closed());
  CHECK(idle.close_code() == 1000);
}

TEST_CASE("SIGTERM closes sessions with 1001 and exits 0 and nothing sent is lost") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto mids = send_texts(a, bob.name, "term", 50);
  CHECK(node.stop() == 0);
  CHECK_FALSE(a.receive(10s));
  CHECK(a.close_code() == 1001);
  node.start();
  auto b = open_session(node.ep(), bob.token);
  auto items = receive_items(b, "msg", 50);
  CHECK(items.back()["mid"] == mids.back());
}

TEST_CASE("options can come from a config file") {
  auto file = std::filesystem::temp_directory_path() / (unique_user("cfg") + ".ini");
  {
    std::ofstream out{file};
    out << "[limits]\npush-window=3\n";
  }
  node_process node{test_args({"--config-file=" + file.string()})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  send_texts(a, bob.name, "cfg", 5);
  auto b = open_session(node.ep(), bob.token);
  receive_items(b, "msg", 3);
  // A newer session makes the inbox close this one after every push it sent it: nothing
  // before the close means the window from the file holds the other two back.
  auto newer = open_session(node.ep(), bob.token);
  CHECK_FALSE(b.receive(10s));
  CHECK(b.close_code() == 4002);
  std::filesystem::remove(file);
}

TEST_CASE("metrics count what the node did in Prometheus text") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  send_texts(a, bob.name, "m", 3);
  a.send_raw("garbage", false);
  wait_for(a, of_type("error"), 10s);
  auto res = http_call(node.ep(), "GET", "/metrics");
  CHECK(res.status == 200);
  CHECK(res.header("content-type").rfind("text/plain", 0) == 0);
  CHECK(res.body.find("tidings_messages_stored_total 3\n") != std::string::npos);
  CHECK(res.body.find("tidings_sessions_live 1\n") != std::string::npos);
  CHECK(res.body.find("tidings_errors_total{code=\"bad_request\"} 1\n") != std::string::npos);
  CHECK(res.body.find("# TYPE tidings_frames_received_total counter") != std::string::npos);
}

TEST_CASE("a burst of large items reaches a reading client whole with the default limits") {
  node_process node{test_args()};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token, net::encoding::msgpack);
  std::vector<std::string> mids;
  for (int i = 0; i < 160; ++i) {
    auto sent = a.request(json{{"type", "send"},
                               {"cid", "big-" + std::to_string(i)},
                               {"to", bob.name},
                               {"kind", "text"},
                               {"body", std::string(60 * 1024, static_cast<char>('a' + i % 26))}});
    REQUIRE(sent["type"] == "sent");
    mids.push_back(sent["mid"]);
  }
  // 9.4 MiB waiting, more than the 8 MiB write queue: the window's byte bound keeps each burst
  // within the write queue, so the reader is never mistaken for a slow consumer (close 4004).
  auto b = open_session(node.ep(), bob.token, net::encoding::msgpack);
  for (int i = 0; i < 160; ++i) {
    auto item = wait_for(b, of_type("msg"), 30s);
    CHECK(item["mid"] == mids[static_cast<std::size_t>(i)]);
    if (i % 20 == 19)
      b.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  }
  settle(b);
  CHECK_FALSE(b.closed());
}

TEST_CASE("an idle inbox actor stops and a new one picks up where it left off") {
  node_process node{test_args({"--limits.inbox-idle-ms=200"})};
  node.start();
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  std::vector<std::string> mids;
  {
    auto a = open_session(node.ep(), alice.token);
    mids = send_texts(a, bob.name, "idle", 3);
  }
  auto inboxes_live = [&] {
    auto body = http_call(node.ep(), "GET", "/metrics").body;
    auto at = body.find("\ntidings_inboxes_live ");
    REQUIRE(at != std::string::npos);
    return std::stoi(body.substr(at + 22));
  };
  CHECK(inboxes_live() >= 1);
  // Both inboxes have no session: they stop on their own (polled with a deadline).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (inboxes_live() > 0 && std::chrono::steady_clock::now() < deadline) {
  }
  CHECK(inboxes_live() == 0);
  auto b = open_session(node.ep(), bob.token);
  auto items = receive_items(b, "msg", 3);
  CHECK(items.front()["mid"] == mids.front());
  CHECK(items.back()["seq"].get<uint64_t>() == 3);
}
