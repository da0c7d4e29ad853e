#include <doctest/doctest.h>

#include <map>

#include "cluster/placement.hpp"

using namespace tidings::cluster;

TEST_CASE("the stable hash has the same values on every build") {
  // Fixed here once: a change to these values would move every user's data.
  CHECK(stable_hash("") == 0xf52a15e9a9b5e89bULL);
  CHECK(stable_hash("alice") == 0xc5d1556d66774a5cULL);
  CHECK(stable_hash("alice") == stable_hash(std::string{"alice"}));
  CHECK(stable_hash("alice") != stable_hash("alicf"));
}

TEST_CASE("shards spread users evenly and stay in range") {
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 40'000; ++i)
    counts[shard_of("user" + std::to_string(i), 4)]++;
  REQUIRE(counts.size() == 4);
  for (auto& [shard, n] : counts) {
    CHECK(shard < 4);
    CHECK(n > 9'000); // 10,000 expected each
    CHECK(n < 11'000);
  }
}

TEST_CASE("a user's home does not depend on the order members are listed in") {
  placement a{{"n1", "n2", "n3"}};
  placement b{{"n3", "n1", "n2", "n1"}};
  CHECK(b.members().size() == 3);
  for (int i = 0; i < 1000; ++i) {
    auto user = "u" + std::to_string(i);
    CHECK(a.home(user) == b.home(user));
  }
}

TEST_CASE("removing a member moves only that member's users, evenly to the others") {
  placement three{{"n1", "n2", "n3"}};
  placement two{{"n1", "n2"}};
  std::map<std::string, int> homes;
  int moved_to_n1 = 0;
  int moved_to_n2 = 0;
  for (int i = 0; i < 30'000; ++i) {
    auto user = "user-" + std::to_string(i);
    const auto& before = three.home(user);
    homes[before]++;
    const auto& after = two.home(user);
    if (before != "n3")
      CHECK(after == before);
    else
      (after == "n1" ? moved_to_n1 : moved_to_n2)++;
  }
  for (auto& [member, n] : homes) {
    CHECK(n > 9'000); // 10,000 expected each
    CHECK(n < 11'000);
  }
  CHECK(moved_to_n1 > 4'000);
  CHECK(moved_to_n2 > 4'000);
}
