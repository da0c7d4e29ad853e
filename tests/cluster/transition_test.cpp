// Who hands over what to whom when members are added (cluster/transition.hpp), with chosen
// member lists: pure functions of the lists, no nodes.

#include <doctest/doctest.h>

#include "cluster/transition.hpp"

using namespace tidings::cluster;

namespace {

std::vector<std::string> ids(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

/// Keys homed on `node` over `after` whose home over `before` was `from`, among `count` names.
std::vector<std::string> moving(const std::vector<std::string>& before,
                                const std::vector<std::string>& after, const std::string& from,
                                const std::string& node, int count) {
  placement b{before}, a{after};
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i)
    if (auto key = "user" + std::to_string(i); transition::moves(b, a, key, from, node))
      out.push_back(key);
  return out;
}

} // namespace

TEST_CASE("member lists are stored sorted and read back") {
  CHECK(encode_members(ids({"n3", "n1", "n2", "n1"})) == "n1,n2,n3");
  CHECK(decode_members("n3,n1,,n2") == ids({"n1", "n2", "n3"}));
  CHECK(decode_members("").empty());
  CHECK(encode_members({}).empty());
}

TEST_CASE("a new node awaits exactly the keys that move to it from each old member, until each "
          "one's handover is complete") {
  transition t{"n3", ids({"n1", "n2", "n3"}), {}};
  auto from1 = moving(ids({"n1", "n2"}), ids({"n1", "n2", "n3"}), "n1", "n3", 300);
  auto from2 = moving(ids({"n1", "n2"}), ids({"n1", "n2", "n3"}), "n2", "n3", 300);
  REQUIRE(!from1.empty());
  REQUIRE(!from2.empty());
  // Before it has heard every peer it cannot know whether it joins or forms a cluster.
  CHECK(t.awaiting(from1[0]));
  CHECK(t.awaited() == ids({"n1", "n2"}));
  t.heard("n1", ids({"n1", "n2"}));
  CHECK(t.awaiting(from2[0])); // n2 not heard yet: it is on n1's list, so it has it too
  CHECK(t.awaiting(from1[0]));
  CHECK(t.awaited() == ids({"n1", "n2"}));
  {
    // n1's handover completes before n2 is even restarted: n1's former users are served.
    auto early = t;
    early.received("n1", ids({"n1", "n2"}));
    CHECK_FALSE(early.awaiting(from1[0]));
    CHECK(early.awaiting(from2[0]));
    CHECK(early.awaited() == ids({"n2"}));
  }
  t.heard("n2", ids({"n1", "n2"}));
  CHECK_FALSE(t.settled());
  for (const auto& k : from1)
    CHECK(t.awaiting(k));
  for (const auto& k : from2)
    CHECK(t.awaiting(k));
  CHECK(t.owed().empty()); // a fresh node owes nobody
  t.received("n1", ids({"n2", "n1"}));
  for (const auto& k : from1)
    CHECK_FALSE(t.awaiting(k));
  for (const auto& k : from2)
    CHECK(t.awaiting(k));
  CHECK(t.awaited() == ids({"n2"}));
  // A handover completed for another list does not count.
  t.received("n2", ids({"n2", "n4"}));
  CHECK(t.awaiting(from2[0]));
  t.received("n2", ids({"n1", "n2"}));
  CHECK(t.settled());
  CHECK_FALSE(t.awaiting(from2[0]));
  CHECK(t.changed());
  t.completed();
  CHECK_FALSE(t.changed());
  CHECK(t.previous() == ids({"n1", "n2", "n3"}));
}

TEST_CASE("an old member owes the new ones and awaits nothing; keys homed elsewhere are never "
          "awaited") {
  transition t{"n1", ids({"n1", "n2", "n3", "n4"}), ids({"n1", "n2"})};
  CHECK(t.owed() == ids({"n3", "n4"}));
  CHECK(t.settled()); // peers not heard owe it nothing: it was a member
  t.heard("n3", {});
  t.heard("n2", ids({"n1", "n2"}));
  CHECK(t.settled());
  for (int i = 0; i < 100; ++i)
    CHECK_FALSE(t.awaiting("user" + std::to_string(i)));
  CHECK(t.removed().empty());
  transition shrunk{"n1", ids({"n1", "n2"}), ids({"n1", "n2", "n3"})};
  CHECK(shrunk.removed() == ids({"n3"}));
  CHECK(shrunk.owed().empty());
}

TEST_CASE("two members joining at once: each expects the old list only of old members") {
  transition t{"n3", ids({"n1", "n2", "n3", "n4"}), {}};
  t.heard("n4", {}); // the other new member: it owes nothing
  CHECK(t.awaited() == ids({"n1", "n2"}));
  t.heard("n1", ids({"n1", "n2"}));
  t.received("n1", ids({"n1", "n2"}));
  CHECK(t.awaited() == ids({"n2"})); // n2 inferred from n1's list
  t.received("n2", ids({"n1", "n2"}));
  CHECK(t.settled()); // n2 not heard: its handover already came
}

TEST_CASE("fresh nodes that hear only empty lists form a new cluster: nothing is awaited") {
  transition t{"n2", ids({"n1", "n2", "n3"}), {}};
  t.heard("n1", {});
  CHECK_FALSE(t.settled());
  t.heard("n3", {});
  CHECK(t.settled());
  for (int i = 0; i < 100; ++i)
    CHECK_FALSE(t.awaiting("user" + std::to_string(i)));
  // A node alone has nobody to wait for.
  CHECK(transition{"solo", ids({"solo"}), {}}.settled());
}

TEST_CASE("keys move only to the added member, each from its one previous home") {
  auto before = ids({"a", "b", "c"});
  auto after = ids({"a", "b", "c", "d"});
  placement pb{before}, pa{after};
  int moved = 0;
  for (int i = 0; i < 2000; ++i) {
    auto key = "k" + std::to_string(i);
    if (pb.home(key) != pa.home(key)) {
      CHECK(pa.home(key) == "d");
      CHECK(transition::moves(pb, pa, key, pb.home(key), "d"));
      ++moved;
    }
  }
  CHECK(moved > 350); // about a quarter
  CHECK(moved < 650);
}
