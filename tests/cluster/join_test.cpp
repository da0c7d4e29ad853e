// Adding a member to a running cluster (docs/OPERATIONS.md, "Adding a member"): two nodes hold
// users and blobs; a third joins by a rolling restart of the other two with the three-member
// list; the users and blobs now homed on it move there with everything they had, each item
// once, and nothing of them stays behind.

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <thread>

#include "client/http.hpp"
#include "client/media.hpp"
#include "storage/db.hpp"
#include "tests/cluster/cluster_fixture.hpp"
#include "tests/media/media_fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

const cluster::placement two{{"n1", "n2"}};
const cluster::placement three{{"n1", "n2", "n3"}};

/// Registers users through `via` until one is homed on `now` over three members and was on
/// `before` over two (bounded).
test_user user_moving(node_process& via, const std::string& before, const std::string& now,
                      const std::string& prefix) {
  for (int tries = 0; tries < 200; ++tries) {
    auto u = make_user(via.ep(), prefix);
    if (two.home(u.name) == before && three.home(u.name) == now)
      return u;
  }
  throw std::runtime_error("no user name landed where wanted");
}

/// A file of `size` bytes whose hash is homed on n3 once it joins (bounded).
std::string moving_blob(scratch_dir& dir, const std::string& name, std::size_t size) {
  for (unsigned seed = 1; seed < 200; ++seed) {
    auto file = dir.random_file(name + std::to_string(seed), size, seed);
    if (three.home(client::file_sha256(file)) == "n3")
      return file;
  }
  throw std::runtime_error("no blob landed on n3");
}

/// Sends a text from `ws` to `to` until `sent`, as a client does: the same cid again after the
/// `retry_ms` of an `unavailable` (bounded). Any other answer fails the test.
std::string send_through_change(client::ws_client& ws, const std::string& to,
                                const std::string& cid, int* refusals) {
  for (int i = 0; i < 100; ++i) {
    auto reply = ws.request(
        json{{"type", "send"}, {"cid", cid}, {"to", to}, {"kind", "text"}, {"body", cid}}, 30s);
    if (reply["type"] == "sent")
      return reply["mid"].get<std::string>();
    REQUIRE(reply["type"] == "error");
    REQUIRE(reply["code"] == "unavailable");
    ++*refusals;
    // The client's back-off, as the protocol asks (not a synchronisation).
    std::this_thread::sleep_for(std::chrono::milliseconds(reply.value("retry_ms", 200)));
  }
  throw std::runtime_error("no `sent` for " + cid);
}

/// The user (or blob hash) a row of a node's table belongs to, as docs/OPERATIONS.md ("Data
/// layout") describes the keys: stated here independently of the server's own code.
std::string owner_of(storage::table t, std::string_view key, std::string_view value) {
  if (t == storage::table::tokens)
    return std::string{value};
  if (t == storage::table::dedupe) {
    auto rec = json::from_msgpack(std::string{value}, true, false);
    return rec.is_object() ? rec.value("to", "") : "";
  }
  return std::string{key.substr(0, key.find('\0'))};
}

/// Rows of a stopped node's database that belong to any of `owners`, as "table: owner".
std::vector<std::string> rows_of(const fs::path& data, const std::set<std::string>& owners) {
  using storage::table;
  auto db = storage::db::open(storage::db_options{data.string()});
  std::vector<std::string> found;
  for (auto t : {table::inbox, table::inbox_meta, table::dedupe, table::accounts, table::tokens,
                 table::received, table::profiles, table::contacts, table::blocks, table::lastseen,
                 table::media, table::media_readers, table::media_pending, table::avatars}) {
    auto st = db->scan(t, "", std::string(64, '\xff'), SIZE_MAX,
                       [&](std::string_view key, std::string_view value) {
                         if (auto o = owner_of(t, key, value); owners.count(o) > 0)
                           found.push_back(std::string{storage::table_name(t)} + ": " + o);
                         return true;
                       });
    REQUIRE(st.ok());
  }
  return found;
}

fs::path blob_file(node_process& n, const std::string& hash) {
  return n.data_dir() / "media" / hash.substr(0, 2) / hash.substr(2, 2) / hash;
}

} // namespace

TEST_CASE("a third node joins two by a rolling restart: the users and blobs homed on it move "
          "there whole, once, and leave nothing behind") {
  test_cluster c{3, media_args()};
  for (std::size_t i = 0; i < 2; ++i)
    c.node(i).set_extra_args(media_args(c.cluster_args(i, 2)));
  c.node(0).start();
  c.node(1).start();
  c.wait_peers_up(0, 1);
  c.wait_peers_up(1, 1);
  auto& n1 = c.node(0);
  auto& n2 = c.node(1);
  auto& n3 = c.node(2);

  // alice and bob will move to n3 (from n1 and from n2); the others stay where they are.
  auto alice = user_moving(n1, "n1", "n3", "alice");
  auto bob = user_moving(n2, "n2", "n3", "bob");
  auto s1 = user_moving(n1, "n1", "n1", "s1");
  auto s2 = user_moving(n2, "n2", "n2", "s2");
  auto pest = user_moving(n1, "n1", "n1", "pest");

  // alice: a profile, a contact, a block and an avatar whose blob moves too; then offline.
  scratch_dir dir;
  auto avatar_file = moving_blob(dir, "avatar", 4000);
  auto avatar = client::upload_media(n2.ep(), alice.token, avatar_file, "image/png")["hash"]
                    .get<std::string>();
  {
    auto a = open_session(n2.ep(), alice.token);
    REQUIRE(
        a.request({{"type", "profile_set"}, {"name", "Alice Moved"}, {"avatar", avatar}})["type"] ==
        "profile");
    REQUIRE(a.request({{"type", "contacts_add"}, {"user", s1.name}})["type"] == "ok");
    REQUIRE(a.request({{"type", "block"}, {"user", pest.name}})["type"] == "ok");
  }
  // bob sends to s1 while s1 is offline, then goes offline himself; s1 then acks and reads,
  // so bob's inbox holds a delivered and a read receipt for him.
  std::vector<std::string> to_s1;
  {
    auto b = open_session(n1.ep(), bob.token);
    to_s1 = send_texts(b, s1.name, "b2s", 3);
  }
  {
    auto s = open_session(n2.ep(), s1.token);
    auto got = receive_items(s, "msg", 3);
    s.send(json{{"type", "ack"}, {"upto", got.back()["seq"]}});
    s.send(json{{"type", "read"}, {"from", bob.name}, {"mids", {to_s1[0]}}});
    settle(s);
  }
  auto receipts_at_bobs_home = [&] { return metric(n2.ep(), "tidings_receipts_stored_total"); };
  for (int i = 0; i < 200 && receipts_at_bobs_home() < 2; ++i)
    std::this_thread::sleep_for(50ms); // polling the home's own count, bounded
  REQUIRE(receipts_at_bobs_home() >= 2);

  // Pending for alice (offline): texts from s1 and s2, and a media message whose blob moves.
  auto photo_file = moving_blob(dir, "photo", 300'000);
  auto photo =
      client::upload_media(n1.ep(), s1.token, photo_file, "image/jpeg")["hash"].get<std::string>();
  std::map<std::string, std::vector<std::string>> expected; // sender -> mids in order
  auto ws1 = open_session(n2.ep(), s1.token);
  auto ws2 = open_session(n2.ep(), s2.token); // n2 is restarted last: it carries the sends
  expected[s1.name] = send_texts(ws1, alice.name, "s1a", 5);
  expected[s2.name] = send_texts(ws2, alice.name, "s2a", 5);
  json media{{"hash", photo}, {"mime", "image/jpeg"}, {"size", 300'000}};
  auto sent = ws1.request({{"type", "send"},
                           {"cid", "s1-photo"},
                           {"to", alice.name},
                           {"kind", "image"},
                           {"media", media}});
  REQUIRE(sent["type"] == "sent");
  expected[s1.name].push_back(sent["mid"].get<std::string>());
  // A backlog, so the handover has some volume to move (and its time is printed).
  constexpr int backlog = 2000;
  for (auto& mid : send_texts(ws1, alice.name, "s1bulk", backlog))
    expected[s1.name].push_back(std::move(mid));
  auto before = ws1.request({{"type", "presence_get"}, {"user", alice.name}});
  REQUIRE(before["type"] == "presence");
  REQUIRE(before["online"] == false);
  REQUIRE(before["last_seen"].is_number());

  // The join: n3 starts with the three-member list, then n1 and n2 are restarted with it, one
  // by one. Sends to alice go on meanwhile (each `sent`, or `unavailable` and retried).
  int refusals = 0;
  int cid = 0;
  auto send_now = [&] {
    auto id = "t" + std::to_string(cid++);
    try {
      expected[s2.name].push_back(send_through_change(ws2, alice.name, id, &refusals));
    } catch (const std::exception& e) {
      FAIL(e.what() << "\nn1:\n"
                    << n1.recent_output_text() << "\nn2:\n"
                    << n2.recent_output_text() << "\nn3:\n"
                    << n3.recent_output_text());
    }
  };
  n3.start();
  send_now();
  ws1.close();
  n1.set_extra_args(media_args(c.cluster_args(0)));
  n1.restart();
  c.wait_peers_up(0, 2);
  send_now(); // through n2 (old list) to n1, which passes it on to n3: likely `unavailable`
  REQUIRE(output_shows(n1, "handover to 'n3' complete"));
  for (const auto& line : n1.recent_output())
    if (line.find("handover to 'n3' complete") != std::string::npos)
      MESSAGE("n1 (alice's " << backlog << "+ items among its rows): " << line);
  send_now();
  ws2.close();
  n2.set_extra_args(media_args(c.cluster_args(1)));
  n2.restart();
  for (std::size_t i = 0; i < 3; ++i)
    c.wait_peers_up(i, 2);
  auto s2_again = open_session(n1.ep(), s2.token);
  ws2 = std::move(s2_again);
  send_now();
  // Every node completes the new list once its handovers are done (n3: both received).
  for (std::size_t i = 0; i < 3; ++i)
    REQUIRE(output_shows(c.node(i), "member list n1,n2,n3 complete on this node", 20s));
  CHECK(output_shows(n3, "handover from 'n1' complete"));
  CHECK(output_shows(n3, "handover from 'n2' complete"));
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(metric(c.node(i).ep(), "tidings_handover_pending") == 0);
  CHECK(metric(n1.ep(), "tidings_handover_rows_sent_total") > 0);
  CHECK(metric(n2.ep(), "tidings_handover_rows_sent_total") > 0);
  CHECK(metric(n1.ep(), "tidings_handover_blobs_sent_total") +
            metric(n2.ep(), "tidings_handover_blobs_sent_total") ==
        2);
  CHECK(metric(n3.ep(), "tidings_handover_rows_received_total") >=
        metric(n1.ep(), "tidings_handover_rows_sent_total") +
            metric(n2.ep(), "tidings_handover_rows_sent_total"));
  MESSAGE("sends refused with `unavailable` during the change: " << refusals);
  // Her last seen, as it was before the move (she has not been online since).
  auto after = ws2.request({{"type", "presence_get"}, {"user", alice.name}});
  CHECK(after["online"] == false);
  CHECK(after["last_seen"] == before["last_seen"]);

  // alice, with her old token, through a node that is not her new home: every pending message
  // once, in each sender's order, the photo among them; then nothing more.
  REQUIRE(c.home(alice.name) == 2);
  auto a = open_session(n1.ep(), alice.token);
  std::map<std::string, std::vector<std::string>> got;
  std::set<std::string> seen;
  std::size_t total = 0;
  for (const auto& [from, mids] : expected)
    total += mids.size();
  while (seen.size() < total) { // bounded: wait_for throws after 20 s without a message
    auto item = wait_for(a, of_type("msg"), 20s);
    auto mid = item["mid"].get<std::string>();
    CHECK(seen.insert(mid).second); // never twice
    got[item["from"].get<std::string>()].push_back(mid);
    if (item.contains("media"))
      CHECK(item["media"]["hash"] == photo);
    if (seen.size() % 100 == 0 || seen.size() == total)
      a.send(json{{"type", "ack"}, {"upto", item["seq"]}});
  }
  CHECK(got == expected);
  auto probe = send_text(ws2, alice.name, "probe");
  CHECK(wait_for(a, of_type("msg"), 20s)["mid"] == probe);
  unsigned status = 0;
  CHECK(download_all(n2.ep(), photo, alice.token, 0, &status) == read_all(photo_file));
  CHECK(status == 200);

  // Her profile, contacts, blocks and avatar came along.
  auto profile = ws2.request({{"type", "profile_get"}, {"user", alice.name}});
  CHECK(profile["name"] == "Alice Moved");
  CHECK(profile["avatar"] == avatar);
  CHECK(a.request({{"type", "contacts_list"}})["users"] == json::array({s1.name}));
  CHECK(a.request({{"type", "blocked_list"}})["users"] == json::array({pest.name}));
  CHECK(client::http_call(n2.ep(), "GET", "/v1/media/" + avatar, {}, {}, s2.token).status == 200);
  CHECK(client::http_call(n1.ep(), "GET", "/v1/media/" + avatar, {}, {}, pest.token).status == 403);
  a.close();

  // Her password and bob's old token still work; bob finds his receipts.
  CHECK(!client::login(n2.ep(), alice.name, alice.password).empty());
  auto b = open_session(n2.ep(), bob.token);
  auto delivered = wait_for(b, of_type("receipt"), 20s);
  CHECK(delivered["status"] == "delivered");
  CHECK(delivered["mids"] == json(to_s1));
  auto read = wait_for(b, of_type("receipt"), 20s);
  CHECK(read["status"] == "read");
  CHECK(read["mids"] == json::array({to_s1[0]}));
  b.close();
  ws2.close();

  // Nothing of the movers and their blobs is left on the old nodes.
  n1.stop();
  n2.stop();
  for (auto* old : {&n1, &n2}) {
    CHECK(rows_of(old->data_dir(), {alice.name, bob.name, avatar, photo}).empty());
    CHECK_FALSE(fs::exists(blob_file(*old, avatar)));
    CHECK_FALSE(fs::exists(blob_file(*old, photo)));
  }
  CHECK(fs::exists(blob_file(n3, avatar)));
  CHECK(fs::exists(blob_file(n3, photo)));
}
