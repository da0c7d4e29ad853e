// User administration in a cluster of 2 real nodes: every command asked of node 0 runs on the
// home of the user it names (node 1), and the user's session on node 0 is closed.

#include <doctest/doctest.h>

#include <fstream>

#include "client/http.hpp"
#include "tests/cluster/cluster_fixture.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using namespace tidings::test;

TEST_CASE("admin commands asked of any node run on the user's home node") {
  const std::string secret = "cluster-admin-secret";
  test_cluster c{2, {"--admin.port=0", "--admin.secret=" + secret}};
  c.start();
  auto admin = admin_address(c.node(0));
  auto dave = user_homed_on(c, 1, "dave");
  auto erin = user_homed_on(c, 0, "erin");
  auto e = open_session(c.node(0).ep(), erin.token);
  send_texts(e, dave.name, "waiting", 2);

  // users: the accounts of both nodes, each with its home.
  auto users = inspect_json(admin, secret, {"users"});
  REQUIRE(users["users"].size() == 2);
  for (const auto& u : users["users"])
    CHECK(u["home"] == (u["user"] == dave.name ? c.id(1) : c.id(0)));
  auto shown = inspect_json(admin, secret, {"user", dave.name});
  CHECK(shown["home"] == c.id(1));
  CHECK(shown["account"]["tokens"] == 1);
  CHECK(shown["account"]["inbox_depth"] == 2);

  // dave's session is on node 0, his home (and registry) on node 1.
  auto d = open_session(c.node(0).ep(), dave.token);
  auto disabled = inspect_json(admin, secret, {"disable", dave.name});
  CHECK(disabled["home"] == c.id(1));
  auto [error, code] = closed_by_server(d);
  CHECK(error["message"] == "account disabled");
  CHECK(code == 4001);
  CHECK(login_status(c.node(0).ep(), dave.name, dave.password) == 403);
  inspect_json(admin, secret, {"enable", dave.name});
  CHECK(login_status(c.node(0).ep(), dave.name, dave.password) == 200);

  // create: on the new user's home, whichever node is asked.
  temp_dir tmp;
  std::ofstream{tmp.path / "pw"} << "correct-horse-battery\n";
  auto fay = name_homed_on(c, 1, "fay");
  auto created =
      inspect_json(admin, secret, {"create", fay, "--password-file=" + (tmp.path / "pw").string()});
  CHECK(created["home"] == c.id(1));
  CHECK(login_status(c.node(0).ep(), fay, "correct-horse-battery") == 200);

  // delete: the home removes the user's rows, every other member the media rows it keeps.
  auto deleted = inspect_json(admin, secret, {"delete", dave.name, "--yes"});
  CHECK(deleted["home"] == c.id(1));
  CHECK(deleted["removed"]["inbox"] == 2);
  REQUIRE(deleted["members"].size() == 1);
  CHECK(deleted["members"][0]["id"] == c.id(0));
  CHECK(deleted["members"][0].contains("media_removed"));
  CHECK(inspect_json(admin, secret, {"user", dave.name})["account"]["exists"] == false);
  auto unknown = run_inspect({"--node=" + admin, "--secret=" + secret, "revoke", dave.name});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("not_found") != std::string::npos);
}
