// User administration and backups through tidings-inspect against a real node (issue 16 items
// 6 and 7): create with registration closed, users, user, disable/enable, revoke, delete,
// backup and a restore that delivers the pending messages.

#include <doctest/doctest.h>

#include <fstream>

#include "client/http.hpp"
#include "tests/integration/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

const std::string secret = "admin-test-secret";
const std::string password = "correct-horse-battery";

/// tidings-inspect --node --secret ARGS (the secret given explicitly).
inspect_run admin_run(const std::string& node, std::vector<std::string> args,
                      const std::string& with_secret = secret) {
  std::vector<std::string> all{"--node=" + node, "--secret=" + with_secret};
  all.insert(all.end(), args.begin(), args.end());
  return run_inspect(all);
}

/// `create NAME` with the password in a file; the JSON answer.
json admin_create(const std::string& node, const std::string& name, const temp_dir& dir) {
  auto file = dir.path / "password";
  std::ofstream{file} << password << "\n";
  return inspect_json(node, secret, {"create", name, "--password-file=" + file.string()});
}

/// A node with an admin port, and its address.
struct admin_node {
  node_process node;
  std::string admin;
  explicit admin_node(std::vector<std::string> more = {})
      : node{test_args([&] {
          std::vector<std::string> a{"--admin.port=0", "--admin.secret=" + secret};
          a.insert(a.end(), more.begin(), more.end());
          return a;
        }())} {
    node.start();
    admin = admin_address(node);
  }
};

} // namespace

TEST_CASE("the admin creates, lists, disables, enables and revokes users of a closed node") {
  temp_dir tmp;
  admin_node n{{"--accounts.registration=closed"}};
  auto& node = n.node;
  const auto& admin = n.admin;
  auto alice = unique_user("alice");
  auto bob = unique_user("bob");

  // Registration is closed to clients; the admin creates accounts.
  CHECK_THROWS_AS(client::register_user(node.ep(), alice, password), client::api_error);
  auto created = admin_create(admin, alice, tmp);
  CHECK(created["command"] == "create");
  CHECK(created["user"] == alice);
  admin_create(admin, bob, tmp);
  auto again =
      admin_run(admin, {"create", alice, "--password-file=" + (tmp.path / "password").string()});
  CHECK(again.status == 1);
  CHECK(again.err.find("user_exists") != std::string::npos);

  // users: every account in name order, paged.
  auto all = inspect_json(admin, secret, {"users"});
  REQUIRE(all["users"].size() == 2);
  CHECK(all["more"] == false);
  auto first = std::min(alice, bob);
  CHECK(all["users"][0]["user"] == first);
  CHECK(all["users"][0]["created"].get<int64_t>() > 0);
  CHECK(all["users"][0]["disabled"] == false);
  CHECK(all["users"][0]["home"] == "local");
  auto page = inspect_json(admin, secret, {"users", "--limit", "1"});
  REQUIRE(page["users"].size() == 1);
  CHECK(page["more"] == true);
  CHECK(page["next"] == first);
  auto rest = inspect_json(admin, secret, {"users", "--after", first});
  REQUIRE(rest["users"].size() == 1);
  CHECK(rest["users"][0]["user"] == std::max(alice, bob));
  CHECK(rest["more"] == false);

  // disable: the live session ends (unauthorized, 4001), logins get 403, the token is refused.
  auto token = client::login(node.ep(), alice, password);
  auto ws = open_session(node.ep(), token);
  auto disabled = inspect_json(admin, secret, {"disable", alice});
  CHECK(disabled["tokens_revoked"] == 1);
  auto [error, code] = closed_by_server(ws);
  CHECK(error["code"] == "unauthorized");
  CHECK(error["message"] == "account disabled");
  CHECK(code == 4001);
  try {
    client::login(node.ep(), alice, password);
    FAIL("a disabled user logged in");
  } catch (const client::api_error& e) {
    CHECK(e.status() == 403);
    CHECK(e.code() == "forbidden");
    CHECK(e.message() == "account disabled");
  }
  CHECK_THROWS(open_session(node.ep(), token));
  auto shown = inspect_json(admin, secret, {"user", alice});
  CHECK(shown["account"]["disabled"] == true);
  CHECK(shown["account"]["tokens"] == 0);
  auto table = admin_run(admin, {"users"});
  CHECK(table.status == 0);
  CHECK(table.out.find("yes") != std::string::npos);

  // enable: the password works again (old tokens stay revoked).
  inspect_json(admin, secret, {"enable", alice});
  CHECK(login_status(node.ep(), alice, password) == 200);

  // revoke: every token of the user goes, and the session using one of them.
  auto t1 = client::login(node.ep(), bob, password);
  auto t2 = client::login(node.ep(), bob, password);
  auto bws = open_session(node.ep(), t1);
  CHECK(inspect_json(admin, secret, {"user", bob})["account"]["tokens"] == 2);
  auto revoked = admin_run(admin, {"revoke", bob});
  CHECK(revoked.status == 0);
  CHECK(revoked.out.find("2 tokens revoked") != std::string::npos);
  auto [rerror, rcode] = closed_by_server(bws);
  CHECK(rerror["message"] == "token revoked");
  CHECK(rcode == 4001);
  CHECK_THROWS(open_session(node.ep(), t2));
  CHECK(login_status(node.ep(), bob, password) == 200); // not disabled: a new login works

  // An unknown user is answered clearly; so is a wrong secret.
  auto unknown = admin_run(admin, {"disable", "nobody-such"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("not_found: no such user") != std::string::npos);
  auto nobody = admin_run(admin, {"user", "nobody-such"});
  CHECK(nobody.status == 0);
  CHECK(nobody.out.find("no such user") != std::string::npos);
  auto wrong = admin_run(admin, {"disable", alice}, "not-the-secret");
  CHECK(wrong.status == 1);
  CHECK(wrong.err.find("unauthorized") != std::string::npos);
  CHECK(login_status(node.ep(), alice, password) == 200); // the refused request changed nothing
  CHECK(admin_run(admin, {"delete", alice}).status == 2); // delete wants --yes
}

TEST_CASE("delete removes a user's account, tokens, inbox, profile, contacts and blocks") {
  admin_node n;
  auto& node = n.node;
  const auto& admin = n.admin;
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto carol = make_user(node.ep(), "carol");
  {
    auto b = open_session(node.ep(), bob.token);
    REQUIRE(b.request(json{{"type", "profile_set"}, {"name", "Bob"}})["type"] == "profile");
    REQUIRE(b.request(json{{"type", "contacts_add"}, {"user", alice.name}})["type"] == "ok");
    REQUIRE(b.request(json{{"type", "block"}, {"user", carol.name}})["type"] == "ok");
  }
  auto a = open_session(node.ep(), alice.token);
  send_texts(a, bob.name, "pending", 3);
  auto before = inspect_json(admin, secret, {"user", bob.name});
  CHECK(before["account"]["profile"]["name"] == "Bob");
  CHECK(before["account"]["inbox_depth"] == 3);

  auto bws = open_session(node.ep(), bob.token); // live while deleted
  auto out = admin_run(admin, {"delete", bob.name, "--yes"});
  REQUIRE(out.status == 0);
  CHECK(out.out.find("deleted on local") != std::string::npos);
  auto [error, code] = closed_by_server(bws);
  CHECK(error["message"] == "account deleted");
  CHECK(code == 4001);
  auto gone = inspect_json(admin, secret, {"user", bob.name});
  CHECK(gone["report"]["exists"] == false);
  CHECK(gone["account"]["exists"] == false);
  CHECK(login_status(node.ep(), bob.name, password) == 401);
  auto refused = a.request(json{
      {"type", "send"}, {"cid", "after"}, {"to", bob.name}, {"kind", "text"}, {"body", "hello?"}});
  CHECK(refused["code"] == "not_found");

  // The same name registered again starts empty: nothing of the old account is left.
  client::register_user(node.ep(), bob.name, password);
  auto fresh = inspect_json(admin, secret, {"user", bob.name});
  CHECK(fresh["account"]["exists"] == true);
  CHECK(fresh["account"]["inbox_depth"] == 0);
  CHECK(fresh["account"]["profile"].is_null());
  CHECK(fresh["account"]["tokens"] == 0);
  CHECK(fresh["report"]["contacts"] == 0);
  CHECK(fresh["report"]["blocked"] == 0);
  CHECK(fresh["report"]["inbox"]["depth"] == 0);
}

TEST_CASE("a backup of a live node restores into a new node that delivers the pending messages") {
  temp_dir tmp;
  admin_node n;
  auto& node = n.node;
  const auto& admin = n.admin;
  auto alice = make_user(node.ep(), "alice");
  auto bob = make_user(node.ep(), "bob");
  auto a = open_session(node.ep(), alice.token);
  auto mids = send_texts(a, bob.name, "kept", 3);

  auto dir = tmp.path / "backup";
  auto relative = admin_run(admin, {"backup", "backup-here"});
  CHECK(relative.status == 1); // DIR must be absolute (on the node's machine)
  auto done = inspect_json(admin, secret, {"backup", dir.string()});
  CHECK(done["dir"] == dir.string());
  CHECK(std::filesystem::exists(dir / "CURRENT"));
  CHECK(admin_run(admin, {"backup", dir.string()}).status == 1); // never over an old one
  send_texts(a, bob.name, "later", 1);                           // after the backup: not in it

  node_process restored{test_args(), dir};
  restored.start();
  auto b = open_session(restored.ep(), bob.token);
  auto items = receive_items(b, "msg", 3);
  REQUIRE(items.size() == 3);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(items[i]["mid"] == mids[i]);
  b.send(json{{"type", "ping"}, {"id", 1}});
  std::vector<json> skipped;
  auto pong = wait_for(b, of_type("pong"), 10s, &skipped);
  CHECK(pong["id"] == 1);
  for (const auto& f : skipped) // nothing after the backup was in it
    CHECK(f["type"] != "msg");
}
