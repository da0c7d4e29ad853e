// tidings-inspect against a cluster of real nodes: any node answers for every member, a down
// member shows as down without a hang.

#include <doctest/doctest.h>

#include <thread>

#include "tests/cluster/cluster_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

const std::string secret = "cluster-inspect-secret";

std::vector<std::string> admin_args() {
  return {"--admin.port=0", "--admin.secret=" + secret};
}

} // namespace

TEST_CASE("any node of a cluster answers the inspector for every member") {
  test_cluster c{3, admin_args()};
  c.start();
  std::vector<std::string> admins;
  for (std::size_t i = 0; i < c.size(); ++i)
    admins.push_back(admin_address(c.node(i)));
  auto bob = user_homed_on(c, 2, "bob");
  auto alice = user_homed_on(c, 1, "alice");
  auto carol = user_homed_on(c, 0, "carol");
  {
    auto b = open_session(c.node(0).ep(), bob.token);
    REQUIRE(b.request(json{{"type", "block"}, {"user", carol.name}})["type"] == "ok");
  }
  // alice is connected to node 0 (her home is node 1) and sends bob (homed on node 2) 4 texts.
  auto a = open_session(c.node(0).ep(), alice.token);
  send_texts(a, bob.name, "x", 4);

  auto nodes = inspect_json(admins[0], secret, {"nodes"});
  REQUIRE(nodes["nodes"].size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    auto n = nodes["nodes"][i];
    CHECK(n["up"] == true);
    CHECK(n["answered"] == true);
    CHECK(n["report"]["node"] == n["id"]);
  }
  CHECK(nodes["nodes"][0]["id"] == c.id(0));

  // Asked through node 0, answered by bob's home, node 2.
  auto user = inspect_json(admins[0], secret, {"user", bob.name});
  CHECK(user["home"] == c.id(2));
  auto r = user["report"];
  CHECK(r["inbox"]["depth"] == 4);
  CHECK(r["blocked"] == 1);
  CHECK(r["session"] == false);
  auto online = inspect_json(admins[2], secret, {"user", alice.name})["report"];
  CHECK(online["home"] == c.id(1));
  CHECK(online["session"] == true);
  CHECK(online["session_node"] == c.id(0)); // her session is on node 0, her home is node 1

  auto inboxes = inspect_json(admins[1], secret, {"inboxes", "--top", "3"});
  REQUIRE(inboxes["deepest"].size() >= 1);
  CHECK(inboxes["deepest"][0]["user"] == bob.name);
  CHECK(inboxes["deepest"][0]["node"] == c.id(2));
  CHECK(inboxes["nodes"].size() == 3);

  auto ring = inspect_json(admins[1], secret, {"ring", bob.name});
  REQUIRE(ring["members"].size() == 3);
  double share = 0;
  for (const auto& m : ring["members"])
    share += m["share"].get<double>();
  CHECK(share == doctest::Approx(1.0));
  CHECK(ring["user"]["home"] == c.id(2));

  // A member that is down shows as down, promptly; its users' home as down too.
  c.node(2).kill_hard();
  c.wait_peers_up(0, 1);
  auto started = std::chrono::steady_clock::now();
  auto after = inspect_json(admins[0], secret, {"nodes"});
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(after["nodes"][2]["up"] == false);
  CHECK(after["nodes"][2]["answered"] == false);
  CHECK(after["nodes"][1]["answered"] == true);
  auto lost = inspect_json(admins[0], secret, {"user", bob.name});
  CHECK(lost["home_up"] == false);
  auto table = run_inspect({"--node=" + admins[0], "--secret=" + secret, "nodes"});
  CHECK(table.status == 0);
  CHECK(table.out.find("down") != std::string::npos);
}
