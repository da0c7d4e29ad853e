// Media in a cluster (docs/DESIGN.md, "The cluster"): every blob has a home node (rendezvous
// over its hash) that keeps its file, record and grants; uploads and downloads work through
// any node, which fetches the bytes from the home in chunks.

#include <doctest/doctest.h>

#include "tests/cluster/cluster_fixture.hpp"
#include "tests/cluster/haproxy_process.hpp"
#include "tests/media/media_fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

constexpr uint64_t blob_size = 3 * 1024 * 1024 + 17; // a dozen chunks between nodes

fs::path stored_at(node_process& n, const std::string& hash) {
  return n.data_dir() / "media" / hash.substr(0, 2) / hash.substr(2, 2) / hash;
}

/// Whether any file of the node's media directory (blobs, cache, temporary files) is `hash`.
bool holds_anything_of(node_process& n, const std::string& hash) {
  for (const auto& f : files_under(n.data_dir() / "media"))
    if (f.filename() == hash)
      return true;
  return false;
}

} // namespace

TEST_CASE("a blob uploaded through one node is sent to a user on another and downloaded with a "
          "Range through a third that held nothing of it and others get 403 everywhere") {
  test_cluster c{3, media_args()};
  c.start();
  scratch_dir dir;
  auto file = dir.random_file("photo.jpg", blob_size, 7);
  auto hash = client::file_sha256(file);
  auto home = c.home(hash); // the blob's home: rendezvous over the hash, like a user's
  auto through = (home + 1) % c.size();
  auto third = (home + 2) % c.size();
  auto alice = make_user(c.node(through).ep(), "ma");
  auto bob = make_user(c.node(third).ep(), "mb");
  auto carol = make_user(c.node(home).ep(), "mc");

  auto up = client::upload_media(c.node(through).ep(), alice.token, file, "image/jpeg");
  CHECK(up["hash"] == hash);
  CHECK(up["size"] == blob_size);
  CHECK(fs::exists(stored_at(c.node(home), hash)));          // stored on its home
  CHECK_FALSE(fs::exists(stored_at(c.node(through), hash))); // only a cache copy there
  CHECK_FALSE(holds_anything_of(c.node(third), hash));

  // The same bytes again through the third node: the same hash, stored once.
  auto again = client::upload_media(c.node(third).ep(), alice.token, file, "image/jpeg");
  CHECK(again["hash"] == hash);

  // alice (on a node that is not her home) sends it to bob (likewise).
  auto a = open_session(c.node(c.elsewhere(alice.name)).ep(), alice.token);
  auto b = open_session(c.node(c.elsewhere(bob.name)).ep(), bob.token);
  json media{{"hash", hash}, {"mime", "image/jpeg"}, {"size", blob_size}};
  auto sent = a.request(
      {{"type", "send"}, {"cid", "m-1"}, {"to", bob.name}, {"kind", "image"}, {"media", media}});
  REQUIRE(sent["type"] == "sent");
  auto msg = wait_for(b, of_type("msg"), 10s);
  CHECK(msg["media"]["hash"] == hash);

  // carol may not send it (she may not read it), through any node.
  auto cs = open_session(c.node(through).ep(), carol.token);
  auto refused = cs.request(
      {{"type", "send"}, {"cid", "c-1"}, {"to", bob.name}, {"kind", "image"}, {"media", media}});
  CHECK(refused["code"] == "forbidden");

  // A restart empties the third node's cache, so it holds nothing of the blob; bob then
  // downloads through it, first a range (a resumed download), then the whole.
  c.node(third).restart();
  for (std::size_t i = 0; i < c.size(); ++i)
    c.wait_peers_up(i, c.size() - 1);
  CHECK_FALSE(holds_anything_of(c.node(third), hash));
  auto bytes = read_all(file);
  unsigned status = 0;
  auto tail = download_all(c.node(third).ep(), hash, bob.token, blob_size - 1000, &status);
  CHECK(status == 206);
  CHECK(tail == bytes.substr(blob_size - 1000));
  CHECK(download_all(c.node(third).ep(), hash, bob.token, 0, &status) == bytes);
  CHECK(status == 200);
  for (std::size_t i = 0; i < c.size(); ++i) {
    CAPTURE(i);
    CHECK(download_all(c.node(i).ep(), hash, bob.token, 0, &status) == bytes);
    CHECK(status == 200);
    auto denied =
        client::http_call(c.node(i).ep(), "GET", "/v1/media/" + hash, {}, {}, carol.token);
    CHECK(denied.status == 403);
    auto head = client::http_call(c.node(i).ep(), "HEAD", "/v1/media/" + hash, {}, {}, alice.token);
    CHECK(head.status == 200);
    auto unknown = client::http_call(c.node(i).ep(), "GET", "/v1/media/" + std::string(64, 'a'), {},
                                     {}, bob.token);
    CHECK(unknown.status == 404);
    CHECK(
        client::http_call(c.node(i).ep(), "GET", "/v1/media/" + hash, {}, {}, "nobody:x").status ==
        401);
  }
}

TEST_CASE("an upload through a node whose blob home is down is refused with 503 and works once "
          "the home is back") {
  test_cluster c{3, media_args()};
  c.start();
  scratch_dir dir;
  auto file = dir.random_file("doc.pdf", 100'000, 11);
  auto hash = client::file_sha256(file);
  auto home = c.home(hash);
  auto through = (home + 1) % c.size();
  // A user homed elsewhere than the blob's home, so the token is still answered.
  test_user alice;
  do
    alice = make_user(c.node(through).ep(), "md");
  while (c.home(alice.name) == home);
  c.node(home).stop();
  auto refused =
      client::http_upload(c.node(through).ep(), "/v1/media", file, "application/pdf", alice.token);
  CHECK(refused.status == 503);
  c.node(home).start();
  for (std::size_t i = 0; i < c.size(); ++i)
    c.wait_peers_up(i, c.size() - 1);
  auto up = client::upload_media(c.node(through).ep(), alice.token, file, "application/pdf");
  CHECK(up["hash"] == hash);
  CHECK(fs::exists(stored_at(c.node(home), hash)));
}

TEST_CASE("behind HAProxy media are uploaded and sent and downloaded with ranges whichever nodes "
          "the requests land on") {
  test_cluster c{3, media_args()};
  c.start();
  std::vector<client::endpoint> nodes;
  for (std::size_t i = 0; i < c.size(); ++i)
    nodes.push_back(c.node(i).ep());
  haproxy_process lb{nodes};
  lb.start();
  scratch_dir dir;
  auto alice = make_user(lb.ep(), "mh");
  auto bob = make_user(lb.ep(), "mi");
  auto carol = make_user(lb.ep(), "mj");
  auto a = open_session(lb.ep(), alice.token);
  auto b = open_session(lb.ep(), bob.token);
  // Enough blobs that their homes and the nodes serving the requests differ.
  for (unsigned i = 0; i < 6; ++i) {
    CAPTURE(i);
    auto file = dir.random_file("f" + std::to_string(i), 300'000 + i, 100 + i);
    auto hash = client::upload_media(lb.ep(), alice.token, file, "image/png")["hash"];
    json media{{"hash", hash}, {"mime", "image/png"}, {"size", 300'000 + i}};
    auto sent = a.request({{"type", "send"},
                           {"cid", "h-" + std::to_string(i)},
                           {"to", bob.name},
                           {"kind", "image"},
                           {"media", media}});
    REQUIRE(sent["type"] == "sent");
    auto msg = wait_for(b, of_type("msg"), 10s);
    CHECK(msg["media"]["hash"] == hash);
    auto bytes = read_all(file);
    unsigned status = 0;
    CHECK(download_all(lb.ep(), hash, bob.token, 1000, &status) == bytes.substr(1000));
    CHECK(status == 206);
    CHECK(client::http_call(lb.ep(), "GET", "/v1/media/" + hash.get<std::string>(), {}, {},
                            carol.token)
              .status == 403);
  }
}

TEST_CASE("an avatar whose blob is homed on another node than its owner is visible through any "
          "node to whom the owner has not blocked, and only while it is the avatar") {
  test_cluster c{3, media_args()};
  c.start();
  scratch_dir dir;
  auto file = dir.random_file("me.png", 5000, 11);
  auto hash = client::file_sha256(file);
  auto hash_home = c.home(hash);
  // An owner and two viewers, each homed away from the blob (the owner's shard and the media
  // actor of the blob's home then live on different nodes).
  std::vector<test_user> users;
  for (int i = 0; users.size() < 3 && i < 100; ++i)
    if (auto u = make_user(c.node(0).ep(), "av"); c.home(u.name) != hash_home)
      users.push_back(std::move(u));
  REQUIRE(users.size() == 3);
  auto& owner = users[0];
  auto& viewer = users[1];
  auto& blocked = users[2];
  client::upload_media(c.node(hash_home).ep(), owner.token, file, "image/png");
  auto target = "/v1/media/" + hash;
  auto status_for = [&](std::size_t node, const test_user& who) {
    return client::http_call(c.node(node).ep(), "GET", target, {}, {}, who.token).status;
  };
  CHECK(status_for(hash_home, viewer) == 403);

  auto o = open_session(c.node(c.elsewhere(owner.name)).ep(), owner.token);
  REQUIRE(o.request({{"type", "block"}, {"user", blocked.name}})["type"] == "ok");
  auto set = o.request({{"type", "profile_set"}, {"avatar", hash}});
  REQUIRE(set["type"] == "profile");
  CHECK(set["avatar"] == hash);
  for (std::size_t i = 0; i < c.size(); ++i) {
    CAPTURE(i);
    CHECK(status_for(i, viewer) == 200);
    CHECK(status_for(i, blocked) == 403); // the owner's shard, on another node, says so
  }
  // The viewer may forward the avatar (who may read may send); the blocked user may not.
  auto v = open_session(c.node(hash_home).ep(), viewer.token);
  json media{{"hash", hash}, {"mime", "image/png"}, {"size", 5000}};
  CHECK(v.request({{"type", "send"},
                   {"cid", "f-1"},
                   {"to", owner.name},
                   {"kind", "image"},
                   {"media", media}})["type"] == "sent");
  auto bl = open_session(c.node(hash_home).ep(), blocked.token);
  CHECK(bl.request({{"type", "send"},
                    {"cid", "f-2"},
                    {"to", viewer.name},
                    {"kind", "image"},
                    {"media", media}})["code"] == "forbidden");

  // No longer the avatar: the access it gave is withdrawn when the change is answered.
  auto cleared = o.request({{"type", "profile_set"}, {"avatar", nullptr}});
  REQUIRE(cleared["type"] == "profile");
  CHECK(cleared["avatar"].is_null());
  auto third = make_user(c.node(0).ep(), "avlate");
  for (std::size_t i = 0; i < c.size(); ++i) {
    CAPTURE(i);
    CHECK(status_for(i, third) == 403);
  }
}
