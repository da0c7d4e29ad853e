// The lastseen shard against real and scripted profile shards: privacy decided from the facts
// the owners report, failures, and the order of pushes when answers come late.

#include <atomic>
#include <deque>
#include <functional>
#include <tuple>

#include <doctest/doctest.h>

#include "actors/lastseen.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

/// What a presence query got: (online, last seen), or the error.
struct seen {
  bool online = false;
  int64_t last_seen = -1;
  errc err{};
};

seen query(caf::actor_system& sys, const lastseen_service& shard, const std::string& viewer,
           const std::string& target) {
  caf::scoped_actor self{sys};
  seen out;
  self->request(shard, 10s, atom::presence::value, viewer, target)
      .receive(
          [&](bool online, int64_t last_seen) {
            out.online = online;
            out.last_seen = last_seen;
          },
          [&](const caf::error& err) { out.err = to_errc(err); });
  return out;
}

void set_last_seen_privacy(actor_fixture& f, const std::string& user, const std::string& level) {
  caf::scoped_actor self{*f.sys};
  auto changes =
      net::encode(net::json{{"privacy", {{"last_seen", level}}}}, net::encoding::msgpack);
  bool done = false;
  self->request(f.ctx.profiles.front(), 10s, atom::profile_set::value, user, changes)
      .receive([&](const std::string&) { done = true; }, [](const caf::error&) {});
  REQUIRE(done);
}

template <class List>
void add_to(actor_fixture& f, List, const std::string& owner, const std::string& other) {
  caf::scoped_actor self{*f.sys};
  bool done = false;
  self->request(f.ctx.profiles.front(), 10s, List::value, atom::add_item::value, owner, other)
      .receive([&](bool) { done = true; }, [](const caf::error&) {});
  REQUIRE(done);
}

/// What a viewer who may not see gets: no error, offline, no last seen.
bool hidden(const seen& s) {
  return s.err == errc{} && !s.online && s.last_seen == -1;
}

/// A session that only exists (the shard monitors it).
caf::actor idle_session(caf::actor_system& sys) {
  return sys.spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
}

/// The presence pushes a subscriber session received, in order.
class push_log {
public:
  using push = std::tuple<std::string, bool, int64_t>;

  caf::actor session(caf::actor_system& sys) {
    return sys.spawn([this](caf::event_based_actor*) -> caf::behavior {
      return {[this](atom::presence, const std::string& user, bool online, int64_t last_seen) {
        {
          std::lock_guard<std::mutex> guard{mtx_};
          pushes_.emplace_back(user, online, last_seen);
        }
        count_.raise();
      }};
    });
  }
  /// Waits (bounded) for `n` pushes; returns the first `n` (fewer on timeout).
  std::vector<push> wait(int n) {
    count_.wait_for(n);
    std::lock_guard<std::mutex> guard{mtx_};
    return pushes_;
  }

private:
  std::mutex mtx_;
  std::vector<push> pushes_;
  counter_signal count_;
};

/// A profile shard played by the test: every user's own setting is `everyone`; the n-th
/// `seen_by` (from 1) gets `script(n)`, and is held until `atom::drain` if the script says so.
using profile_stub = profile_service::extend<caf::reacts_to<atom::drain>>;

struct scripted {
  presence_facts facts;
  bool hold = false;
};

struct profile_script {
  std::function<scripted(int)> answer;
  counter_signal asked;    ///< a `seen_by` arrived
  counter_signal released; ///< held answers were sent
};

profile_stub spawn_profile_stub(caf::actor_system& sys, profile_script& script) {
  using facts_promise = caf::typed_response_promise<bool, std::string, bool, bool>;
  return sys.spawn([sc = &script](profile_stub::pointer self) -> profile_stub::behavior_type {
    auto held = std::make_shared<std::deque<std::pair<facts_promise, presence_facts>>>();
    auto n = std::make_shared<int>(0);
    auto refuse = [](auto&&...) -> caf::error { return make_error(errc::unavailable); };
    return {
        [=](atom::seen_by, const std::string&, const std::string&) {
          auto rp = self->make_response_promise<bool, std::string, bool, bool>();
          auto s = sc->answer(++*n);
          if (s.hold)
            held->emplace_back(rp, s.facts);
          else
            rp.deliver(s.facts.exists, s.facts.last_seen, s.facts.viewer_is_contact,
                       s.facts.blocked_viewer);
          sc->asked.raise();
          return rp;
        },
        [=](atom::drain) {
          for (auto& [rp, facts] : *held)
            rp.deliver(facts.exists, facts.last_seen, facts.viewer_is_contact,
                       facts.blocked_viewer);
          held->clear();
          sc->released.raise();
        },
        [](atom::privacy, const std::string&) {
          return caf::result<bool, bool, std::string>{true, true, std::string{"everyone"}};
        },
        [=](atom::profile_get, const std::string&, const std::string&) -> caf::result<std::string> {
          return refuse();
        },
        [=](atom::profile_set, const std::string&, const std::string&) -> caf::result<std::string> {
          return refuse();
        },
        [=](atom::contacts, atom::list,
            const std::string&) -> caf::result<std::vector<std::string>> { return refuse(); },
        [=](atom::contacts, atom::add_item, const std::string&,
            const std::string&) -> caf::result<bool> { return refuse(); },
        [=](atom::contacts, atom::remove_item, const std::string&,
            const std::string&) -> caf::result<bool> { return refuse(); },
        [=](atom::blocks, atom::list, const std::string&) -> caf::result<std::vector<std::string>> {
          return refuse();
        },
        [=](atom::blocks, atom::add_item, const std::string&,
            const std::string&) -> caf::result<bool> { return refuse(); },
        [=](atom::blocks, atom::remove_item, const std::string&,
            const std::string&) -> caf::result<bool> { return refuse(); },
    };
  });
}

presence_facts visible_to_all() {
  presence_facts f;
  f.exists = true;
  return f;
}

presence_facts blocking_the_viewer() {
  auto f = visible_to_all();
  f.blocked_viewer = true;
  return f;
}

/// alice, bob and carol exist; a lastseen shard (started by a test once the profiles are set)
/// and bob's session.
struct presence_fixture : actor_fixture {
  lastseen_service shard;
  caf::actor bob;

  presence_fixture() {
    for (const auto* user : {"alice", "bob", "carol"})
      add_account(user);
  }
  ~presence_fixture() { close(); }

  /// Stops the shard and bob's session and waits for every actor (before the members that
  /// stubs use go away).
  void close() {
    if (!sys)
      return;
    stop({caf::actor_cast<caf::actor>(shard), bob});
    shutdown();
  }

  void start_shard() { shard = sys->spawn(lastseen_actor, &ctx); }
  void bob_online(bool foreground = true) {
    if (!bob)
      bob = idle_session(*sys);
    caf::anon_send(shard, atom::online::value, std::string{"bob"}, bob, foreground);
  }
  seen ask(const std::string& viewer, const std::string& target) {
    return query(*sys, shard, viewer, target);
  }
};

/// A presence fixture whose profile shard is the stub, whose clock the test sets, and where
/// carol's session is subscribed to bob.
struct scripted_fixture : presence_fixture {
  profile_script script;
  std::atomic<int64_t> clock{1000};
  profile_stub stub;
  push_log log;
  caf::actor carol;

  scripted_fixture() {
    stop({caf::actor_cast<caf::actor>(ctx.profiles.front())});
    stub = spawn_profile_stub(*sys, script);
    ctx.profiles = {stub};
    ctx.now = [this] { return clock.load(); };
    start_shard();
    carol = log.session(*sys);
    caf::anon_send(shard, atom::subscribe::value, std::string{"carol"}, carol,
                   std::vector<std::string>{"bob"});
  }
  ~scripted_fixture() {
    if (sys)
      stop({carol});
    close();
  }
};

} // namespace

TEST_CASE("a viewer who hides their own last seen sees nobody's presence") {
  presence_fixture f;
  set_last_seen_privacy(f, "alice", "nobody");
  f.start_shard();
  f.bob_online();
  CHECK(hidden(f.ask("alice", "bob")));
  auto by_carol = f.ask("carol", "bob");
  CHECK(by_carol.online);
  CHECK(by_carol.last_seen > 0);
}

TEST_CASE("a contacts-only last seen is shown to the user's contacts only") {
  presence_fixture f;
  set_last_seen_privacy(f, "bob", "contacts");
  add_to(f, atom::contacts::value, "bob", "alice");
  add_to(f, atom::contacts::value, "carol", "bob"); // carol's list says nothing of bob's
  f.start_shard();
  f.bob_online();
  CHECK(f.ask("alice", "bob").online);
  CHECK(hidden(f.ask("carol", "bob")));
}

TEST_CASE("a blocked viewer never sees the blocker's presence") {
  presence_fixture f;
  add_to(f, atom::contacts::value, "bob", "alice");
  add_to(f, atom::blocks::value, "bob", "alice");
  f.start_shard();
  f.bob_online();
  CHECK(hidden(f.ask("alice", "bob")));
  CHECK(f.ask("carol", "bob").online);
  CHECK(f.ask("bob", "alice").err == errc{}); // the blocker still may ask
}

TEST_CASE("a user who does not exist is not found") {
  presence_fixture f;
  f.start_shard();
  CHECK(f.ask("alice", "ghost").err == errc::not_found);
}

TEST_CASE("a profile shard that answers an error makes the query unavailable, not hidden") {
  presence_fixture f;
  f.start_shard();
  f.bob_online();
  f.fail_reads(storage::table::blocks);
  CHECK(f.ask("alice", "bob").err == errc::unavailable);
  f.fail_reads(storage::table::blocks, false);
  f.fail_reads(storage::table::profiles);
  CHECK(f.ask("alice", "bob").err == errc::unavailable);
  f.fail_reads(storage::table::profiles, false);
  CHECK(f.ask("alice", "bob").online); // the error responses did not end the shard
}

TEST_CASE("a profile shard that is gone makes the query unavailable") {
  presence_fixture f;
  f.start_shard();
  f.stop({caf::actor_cast<caf::actor>(f.ctx.profiles.front())});
  CHECK(f.ask("alice", "bob").err == errc::unavailable);
}

TEST_CASE("the lastseen shard reads no table of another service") {
  scripted_fixture f;
  f.script.answer = [](int) { return scripted{visible_to_all()}; };
  for (auto t : {storage::table::accounts, storage::table::profiles, storage::table::contacts,
                 storage::table::blocks})
    f.fail_reads(t);
  f.bob_online();
  auto by_alice = f.ask("alice", "bob");
  CHECK(by_alice.err == errc{});
  CHECK(by_alice.online);
  CHECK(by_alice.last_seen == 1000);
  CHECK(f.log.wait(1).size() == 1); // carol's push, too
}

TEST_CASE("a slow answer pushes the presence as it is when the answer arrives") {
  scripted_fixture f;
  f.script.answer = [](int) { return scripted{visible_to_all(), true}; };
  f.bob_online();
  REQUIRE(f.script.asked.wait_for(1));
  f.clock = 2000;
  caf::anon_send(f.shard, atom::touch::value, std::string{"bob"}, f.bob); // pushes nothing
  caf::anon_send(f.stub, atom::drain::value);
  auto pushes = f.log.wait(1);
  REQUIRE(pushes.size() == 1);
  CHECK(pushes[0] == push_log::push{"bob", true, 2000});
}

TEST_CASE("a late answer never overwrites a push of newer facts") {
  scripted_fixture f;
  // bob goes online (1: visible, answered late), to the background (2: bob has blocked carol
  // meanwhile), online again (3: unblocked).
  f.script.answer = [](int n) {
    if (n == 1)
      return scripted{visible_to_all(), true};
    return scripted{n == 2 ? blocking_the_viewer() : visible_to_all()};
  };
  f.bob_online();
  REQUIRE(f.script.asked.wait_for(1));
  f.clock = 2000;
  f.bob_online(false);
  auto first = f.log.wait(1);
  REQUIRE(first.size() == 1);
  CHECK(first[0] == push_log::push{"bob", false, -1});
  // The late answer reaches the shard before the next change does.
  caf::anon_send(f.stub, atom::drain::value);
  REQUIRE(f.script.released.wait_for(1));
  f.clock = 3000;
  f.bob_online();
  auto pushes = f.log.wait(2);
  REQUIRE(pushes.size() >= 2);
  CHECK(pushes[1] == push_log::push{"bob", true, 3000});
  CHECK(pushes.size() == 2);
}
