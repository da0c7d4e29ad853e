// The directory's state machine with real inboxes: the drain protocol at shutdown and the idle
// handshake racing a deliver. Inboxes report to a stub (ctx.directory) that passes drain and
// idle reports on to the real directory, under the inbox's identity, and holds receipts (and,
// where asked, idle reports) until the test releases them.

#include <atomic>

#include <doctest/doctest.h>

#include "actors/directory.hpp"
#include "actors/inbox.hpp"
#include "tests/actors/state_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

using users_t = std::vector<std::string>;

} // namespace

TEST_CASE("at shutdown the directory waits for a running ack round before inboxes quit") {
  actor_fixture f;
  actor_guard guard{*f.sys};
  for (const char* user : {"alice", "bob", "carol"})
    f.add_account(user);
  auto directory = guard.add_directory(f.sys->spawn(directory_actor, &f.ctx));
  directory_stub::options opts;
  opts.forward = directory; // drain reports reach the directory; receipts are held
  directory_stub dir{guard, opts};
  f.ctx.directory = dir.actor;
  session_stub bob_session{guard};
  session_stub carol_session{guard};
  REQUIRE(deliver_via(*f.sys, directory, "bob", "alice", "c1").answered);
  REQUIRE(deliver_via(*f.sys, directory, "carol", "alice", "c1").answered);
  auto bob = guard.add(attach_via(*f.sys, directory, "bob", bob_session.actor, 1));
  auto carol = guard.add(attach_via(*f.sys, directory, "carol", carol_session.actor, 1));
  REQUIRE(bob);
  REQUIRE(carol);
  REQUIRE(bob_session.wait_pushes(1));
  caf::anon_send(bob, atom::ack::value, uint64_t{1}, bob_session.actor);
  REQUIRE(dir.receipt_signal().wait_for(1)); // bob's round is running, its receipt held
  down_watch watch{*f.sys};
  for (const any_actor& a : {any_actor{directory}, any_actor{bob}, any_actor{carol}})
    watch.watch(a);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  REQUIRE(dir.drain_signal().wait_for(1));
  CHECK(dir.drains() == users_t{"carol"});
  // Round trips along the chain directory -> bob -> stub -> directory: every drain bob might
  // have reported has reached the directory, which still routes (no `unavailable`).
  CHECK(deliver_error(*f.sys, directory, "nobody") == errc::not_found);
  auto during = deliver_to_inbox(*f.sys, bob, "dave", "sync");
  REQUIRE(during.answered);
  REQUIRE(dir.sync());
  CHECK(deliver_error(*f.sys, directory, "nobody") == errc::not_found);
  CHECK(dir.drains() == users_t{"carol"});
  CHECK_FALSE(watch.any_down());
  REQUIRE(dir.release() == 1);
  REQUIRE(watch.wait_all({directory, bob, carol}));
  CHECK(watch.reason(directory) == caf::exit_reason::user_shutdown);
  CHECK(dir.drains() == users_t{"carol", "bob"});
  // bob's round completed before it quit: only the item delivered during the drain is left.
  auto left = stored_items_of(*f.store, "bob");
  REQUIRE(left.size() == 1);
  CHECK(left[0].mid == during.mid);
}

TEST_CASE("an inbox that reported idle while a deliver was routed to it is not stopped") {
  std::atomic<int64_t> now{1'000'000}; // outlives the actors, which read it through ctx.now
  actor_fixture f;
  actor_guard guard{*f.sys};
  f.ctx.now = [&now] { return now.load(); };
  f.ctx.settings.inbox_idle_stop_ms = 50;
  f.ctx.settings.tick_ms = 10;
  f.add_account("bob");
  auto directory = guard.add_directory(f.sys->spawn(directory_actor, &f.ctx));
  directory_stub::options opts;
  opts.forward = directory;
  opts.hold_idle = true; // idle reports reach the directory only when released
  directory_stub dir{guard, opts};
  f.ctx.directory = dir.actor;
  session_stub session{guard};
  REQUIRE(deliver_via(*f.sys, directory, "bob", "alice", "c1").answered);
  now += 1000; // bob's inbox has been idle long enough from now on
  REQUIRE(dir.idle_signal().wait_for(1));
  auto inbox = guard.add(dir.idle_sender());
  REQUIRE(inbox);
  down_watch watch{*f.sys};
  watch.watch(inbox);
  watch.watch(directory);
  // Routed while the idle report (handled = 1) is on its way to the directory.
  auto raced = deliver_via(*f.sys, directory, "bob", "alice", "c2");
  CHECK(raced.answered);
  REQUIRE(dir.release() >= 1);
  // Handled after the idle reports: the directory still routes to the same inbox.
  CHECK(attach_via(*f.sys, directory, "bob", session.actor, 1) == inbox);
  CHECK_FALSE(watch.any_down());
  REQUIRE(session.wait_pushes(2));
  CHECK(session.pushed_seqs() == std::vector<uint64_t>{1, 2});
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  REQUIRE(watch.wait_all({directory, inbox}));
  int copies = 0;
  auto items = stored_items_of(*f.store, "bob");
  for (const auto& item : items)
    copies += item.mid == raced.mid ? 1 : 0;
  CHECK(items.size() == 2);
  CHECK(copies == 1);
}
