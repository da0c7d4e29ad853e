// The profile shard against a scripted media service: a change that waits for another actor
// (an avatar, asked of the blob's home, possibly another node) holds back only its owner's
// later changes, in order, never other owners' requests.

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "actors/profile.hpp"
#include "net/codec.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;
using net::json;

namespace {

/// A media service that keeps every `avatar` request until the test releases them.
struct held_media {
  std::shared_ptr<std::vector<caf::response_promise>> held =
      std::make_shared<std::vector<caf::response_promise>>();
  counter_signal asked;
  caf::actor actor;

  explicit held_media(caf::actor_system& sys) {
    actor = sys.spawn([this](caf::event_based_actor* self) -> caf::behavior {
      return {
          [this, self](atom::avatar, const std::string&, const std::string&, bool) {
            held->push_back(self->make_response_promise());
            asked.raise();
            return held->back();
          },
          [this](atom::timer) { // release
            for (auto& rp : *held)
              rp.deliver(true);
            held->clear();
          },
      };
    });
  }
};

json decoded(const std::string& msgpack) {
  auto v = net::decode(msgpack, net::encoding::msgpack, nullptr);
  REQUIRE(v);
  return *v;
}

} // namespace

TEST_CASE("a profile change waiting for the media service holds back only its owner's later "
          "changes, which then apply in order") {
  actor_fixture f;
  f.add_account("alice");
  f.add_account("bob");
  held_media media{*f.sys};
  f.ctx.media = caf::actor_cast<media_service>(media.actor);
  auto shard = f.ctx.profiles.front();
  auto hash = std::string(64, 'c');
  auto encode = [](json j) { return net::encode(j, net::encoding::msgpack); };

  caf::scoped_actor self{*f.sys};
  auto first = self->request(shard, 10s, atom::profile_set::value, std::string{"alice"},
                             encode({{"avatar", hash}}));
  REQUIRE(media.asked.wait_for(1));
  // alice's next changes wait behind the avatar; they are queued, not refused.
  auto second = self->request(shard, 10s, atom::profile_set::value, std::string{"alice"},
                              encode({{"name", "Alice Two"}}));
  auto contact = self->request(shard, 10s, atom::contacts::value, atom::add_item::value,
                               std::string{"alice"}, std::string{"bob"});
  // bob is served meanwhile: his change and his contact list do not wait for alice's.
  bool bob_done = false;
  self->request(shard, 5s, atom::profile_set::value, std::string{"bob"}, encode({{"name", "B"}}))
      .receive([&](const std::string& p) { bob_done = decoded(p)["name"] == "B"; },
               [&](const caf::error& err) { FAIL("bob's change failed: " << to_string(err)); });
  CHECK(bob_done);
  std::vector<std::string> alice_contacts{"x"};
  self->request(shard, 5s, atom::contacts::value, atom::list::value, std::string{"alice"})
      .receive([&](const std::vector<std::string>& l) { alice_contacts = l; },
               [&](const caf::error&) {});
  CHECK(alice_contacts.empty()); // the add is still queued behind the avatar

  caf::anon_send(media.actor, atom::timer::value);
  json a1, a2;
  first.receive([&](const std::string& p) { a1 = decoded(p); },
                [&](const caf::error& err) { FAIL("first: " << to_string(err)); });
  second.receive([&](const std::string& p) { a2 = decoded(p); },
                 [&](const caf::error& err) { FAIL("second: " << to_string(err)); });
  CHECK(a1["avatar"] == hash);
  // Applied after the first: it sees the avatar the first one set.
  CHECK(a2["name"] == "Alice Two");
  CHECK(a2["avatar"] == hash);
  bool added = false;
  contact.receive([&](bool ok) { added = ok; }, [&](const caf::error&) {});
  CHECK(added);
  f.stop({media.actor});
}

TEST_CASE("a refused avatar is answered forbidden and frees the owner's queue") {
  actor_fixture f;
  f.add_account("alice");
  auto refuse = f.sys->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](atom::avatar, const std::string&, const std::string&, bool) { return false; }};
  });
  f.ctx.media = caf::actor_cast<media_service>(refuse);
  auto shard = f.ctx.profiles.front();
  caf::scoped_actor self{*f.sys};
  errc got{};
  self->request(shard, 5s, atom::profile_set::value, std::string{"alice"},
                net::encode(json{{"avatar", std::string(64, 'd')}}, net::encoding::msgpack))
      .receive([&](const std::string&) {}, [&](const caf::error& err) { got = to_errc(err); });
  CHECK(got == errc::forbidden);
  bool named = false;
  self->request(shard, 5s, atom::profile_set::value, std::string{"alice"},
                net::encode(json{{"name", "A"}}, net::encoding::msgpack))
      .receive([&](const std::string& p) { named = decoded(p)["name"] == "A"; },
               [&](const caf::error&) {});
  CHECK(named);
  f.stop({refuse});
}

TEST_CASE("privacy settings are served from the shard's cache, and a change made there is "
          "seen at once") {
  actor_fixture f;
  f.add_account("carol");
  auto shard = f.ctx.profiles.front();
  caf::scoped_actor self{*f.sys};
  auto privacy = [&](const std::string& user) {
    std::tuple<bool, bool, std::string> out{false, false, "?"};
    self->request(shard, 5s, atom::privacy::value, user)
        .receive(
            [&](bool exists, bool receipts, const std::string& seen) {
              out = {exists, receipts, seen};
            },
            [&](const caf::error& err) { FAIL("privacy: " << to_string(err)); });
    return out;
  };
  CHECK(privacy("carol") == std::make_tuple(true, true, std::string{"everyone"}));
  CHECK(privacy("nobody_here") == std::make_tuple(false, false, std::string{"nobody"}));
  // A change through the shard updates the cached entry at once.
  bool changed = false;
  self->request(shard, 5s, atom::profile_set::value, std::string{"carol"},
                net::encode(json{{"privacy", {{"read_receipts", false}, {"last_seen", "nobody"}}}},
                            net::encoding::msgpack))
      .receive([&](const std::string&) { changed = true; },
               [&](const caf::error& err) { FAIL("set: " << to_string(err)); });
  REQUIRE(changed);
  CHECK(privacy("carol") == std::make_tuple(true, false, std::string{"nobody"}));
  // The answer comes from the cache: carol's rows gone from storage behind the shard's back
  // (only the administrator's delete does that) do not change it within the cache's time.
  storage::batch b;
  b.del(storage::table::accounts, "carol");
  b.del(storage::table::profiles, "carol");
  REQUIRE(f.store->write(b).ok());
  CHECK(privacy("carol") == std::make_tuple(true, false, std::string{"nobody"}));
  // A user who did not exist is not cached: once created, the next question sees them.
  f.add_account("nobody_here");
  CHECK(std::get<0>(privacy("nobody_here")));
  f.stop({});
}
