// Every row of PROTOCOL.md section 7's privacy rules, as a pure function of the facts the
// target's and the viewer's profile shards report.

#include <doctest/doctest.h>

#include "actors/presence_privacy.hpp"

using tidings::may_see_presence;
using tidings::presence_facts;

namespace {

presence_facts target(const std::string& setting) {
  presence_facts f;
  f.exists = true;
  f.last_seen = setting;
  return f;
}

presence_facts contact_of(const std::string& setting) {
  auto f = target(setting);
  f.viewer_is_contact = true;
  return f;
}

} // namespace

TEST_CASE("everyone's last seen is seen by everyone") {
  CHECK(may_see_presence("alice", "bob", target("everyone"), "everyone"));
  CHECK(may_see_presence("alice", "bob", target("everyone"), "contacts"));
}

TEST_CASE("a contacts-only last seen is seen by the target's contacts only") {
  CHECK(may_see_presence("alice", "bob", contact_of("contacts"), "everyone"));
  CHECK_FALSE(may_see_presence("alice", "bob", target("contacts"), "everyone"));
}

TEST_CASE("a hidden last seen is seen by nobody, not even contacts") {
  CHECK_FALSE(may_see_presence("alice", "bob", target("nobody"), "everyone"));
  CHECK_FALSE(may_see_presence("alice", "bob", contact_of("nobody"), "everyone"));
}

TEST_CASE("who hides their own last seen sees nobody's") {
  CHECK_FALSE(may_see_presence("alice", "bob", target("everyone"), "nobody"));
  CHECK_FALSE(may_see_presence("alice", "bob", contact_of("contacts"), "nobody"));
}

TEST_CASE("a blocked viewer never sees the blocker's presence") {
  auto blocked = contact_of("everyone");
  blocked.blocked_viewer = true;
  CHECK_FALSE(may_see_presence("alice", "bob", blocked, "everyone"));
}

TEST_CASE("a user always sees their own presence, whatever their setting") {
  CHECK(may_see_presence("bob", "bob", target("nobody"), "nobody"));
  CHECK(may_see_presence("bob", "bob", target("contacts"), "contacts"));
}

TEST_CASE("nobody sees the presence of a user that does not exist") {
  presence_facts unknown; // exists = false
  CHECK_FALSE(may_see_presence("alice", "ghost", unknown, "everyone"));
  CHECK_FALSE(may_see_presence("ghost", "ghost", unknown, "everyone"));
}

TEST_CASE("an unknown setting hides the last seen") {
  CHECK_FALSE(may_see_presence("alice", "bob", contact_of("friends"), "everyone"));
}
