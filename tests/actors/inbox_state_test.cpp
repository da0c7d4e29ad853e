// The inbox's state machine: ack rounds (merging, retry), reads deferred behind a round and
// out-of-order attaches. A real inbox actor and RocksDB; the directory and the sessions are
// stubs that record what the inbox sends them and hold receipts until the test releases them.

#include <doctest/doctest.h>

#include "actors/inbox.hpp"
#include "net/msgpack_map.hpp"
#include "tests/actors/state_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

using mids_t = std::vector<std::string>;

/// Stops `inbox` with `atom::stop` (it quits once its writes completed) and waits for it.
bool stop_and_wait(caf::actor_system& sys, const inbox_service& inbox) {
  down_watch watch{sys};
  watch.watch(inbox);
  caf::anon_send(inbox, atom::stop::value);
  return watch.wait_all({inbox});
}

std::string received_key_of(const std::string& reader, const std::string& mid) {
  return reader + std::string(1, '\0') + mid;
}

} // namespace

TEST_CASE("acks that arrive during an ack round are merged into one round up to the highest") {
  actor_fixture f;
  actor_guard guard{*f.sys};
  directory_stub dir{guard, {}}; // holds every receipt until released
  f.ctx.directory = dir.actor;
  session_stub session{guard};
  auto inbox = guard.add(f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"}));
  mids_t mids;
  for (int i = 1; i <= 4; ++i) {
    auto d = deliver_to_inbox(*f.sys, inbox, "alice", "c" + std::to_string(i));
    REQUIRE(d.answered);
    mids.push_back(d.mid);
  }
  REQUIRE(attach_to_inbox(*f.sys, inbox, session.actor, 1) == inbox);
  REQUIRE(session.wait_pushes(4));
  caf::anon_send(inbox, atom::ack::value, uint64_t{1}, session.actor);
  REQUIRE(dir.receipt_signal().wait_for(1));
  // The round for seq 1 waits for its receipt; two more acks arrive meanwhile, the highest
  // first. They are in the inbox's mailbox before the receipt's answer is sent.
  caf::anon_send(inbox, atom::ack::value, uint64_t{3}, session.actor);
  caf::anon_send(inbox, atom::ack::value, uint64_t{2}, session.actor);
  REQUIRE(dir.release() == 1);
  REQUIRE(dir.receipt_signal().wait_for(2));
  REQUIRE(dir.release() == 1);
  REQUIRE(stop_and_wait(*f.sys, inbox)); // after the second round's removal was written
  REQUIRE(dir.sync());
  auto receipts = dir.receipts();
  REQUIRE(receipts.size() == 2);
  CHECK(receipts[0].status == "delivered");
  CHECK(receipts[0].to == "alice");
  CHECK(receipts[0].mids == mids_t{mids[0]});
  CHECK(receipts[1].status == "delivered");
  CHECK(receipts[1].mids == mids_t{mids[1], mids[2]});
  auto left = stored_items_of(*f.store, "bob");
  REQUIRE(left.size() == 1);
  CHECK(left[0].seq == 4);
}

TEST_CASE("an ack round whose receipts fail is retried on a tick and deletes nothing before") {
  actor_fixture f;
  actor_guard guard{*f.sys};
  f.ctx.settings.tick_ms = 20;
  directory_stub::options opts;
  opts.fail_first_per_sender = true; // the first round fails, the retried one is held
  directory_stub dir{guard, opts};
  f.ctx.directory = dir.actor;
  session_stub session{guard};
  auto inbox = guard.add(f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"}));
  auto m1 = deliver_to_inbox(*f.sys, inbox, "alice", "c1");
  auto m2 = deliver_to_inbox(*f.sys, inbox, "carol", "c1");
  auto m3 = deliver_to_inbox(*f.sys, inbox, "alice", "c2");
  REQUIRE((m1.answered && m2.answered && m3.answered));
  REQUIRE(attach_to_inbox(*f.sys, inbox, session.actor, 1) == inbox);
  REQUIRE(session.wait_pushes(3));
  caf::anon_send(inbox, atom::ack::value, uint64_t{3}, session.actor);
  // Two failed receipts, then the retried round's two, held.
  REQUIRE(dir.receipt_signal().wait_for(4));
  for (uint64_t seq = 1; seq <= 3; ++seq)
    CHECK(f.store->get(storage::table::inbox, storage::inbox_log::item_key("bob", seq)).found());
  CHECK_FALSE(f.store->get(storage::table::received, received_key_of("bob", m1.mid)).found());
  REQUIRE(dir.release() == 2);
  REQUIRE(stop_and_wait(*f.sys, inbox));
  REQUIRE(dir.sync());
  auto receipts = dir.receipts();
  REQUIRE(receipts.size() == 4);
  std::map<std::string, int> stored;
  std::map<std::string, int> failed;
  for (const auto& r : receipts) {
    CHECK(r.status == "delivered");
    CHECK(r.by == "bob");
    CHECK(r.mids == (r.to == "alice" ? mids_t{m1.mid, m3.mid} : mids_t{m2.mid}));
    if (r.result == receipt_request::stored)
      ++stored[r.to];
    if (r.result == receipt_request::failed)
      ++failed[r.to];
  }
  CHECK(stored == std::map<std::string, int>{{"alice", 1}, {"carol", 1}});
  CHECK(failed == std::map<std::string, int>{{"alice", 1}, {"carol", 1}});
  CHECK(stored_items_of(*f.store, "bob").empty());
  CHECK(storage::inbox_log{*f.store, "bob"}.first_seq() == 4);
  for (const auto* m : {&m1, &m2, &m3})
    CHECK(f.store->get(storage::table::received, received_key_of("bob", m->mid)).found());
}

TEST_CASE("a read that arrives during an ack round is deferred until the round has ended") {
  actor_fixture f;
  actor_guard guard{*f.sys};
  f.add_account("alice");
  f.add_account("bob");
  // bob received m0 from alice in an earlier round: a read of it alone could go out at once.
  storage::batch b;
  b.put(storage::table::received, received_key_of("bob", "m0"), received_value("alice", 1));
  REQUIRE(f.store->write(b).ok());
  directory_stub dir{guard, {}};
  f.ctx.directory = dir.actor;
  session_stub session{guard};
  auto inbox = guard.add(f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"}));
  auto m1 = deliver_to_inbox(*f.sys, inbox, "alice", "c1");
  REQUIRE(m1.answered);
  REQUIRE(attach_to_inbox(*f.sys, inbox, session.actor, 1) == inbox);
  REQUIRE(session.wait_pushes(1));
  caf::anon_send(inbox, atom::ack::value, uint64_t{1}, session.actor);
  REQUIRE(dir.receipt_signal().wait_for(1));
  caf::anon_send(inbox, atom::read::value, std::string{"alice"}, mids_t{"m0", m1.mid});
  // Round trips: the inbox has handled the read, the stub whatever it sent.
  REQUIRE(deliver_to_inbox(*f.sys, inbox, "dave", "sync").answered);
  REQUIRE(dir.sync());
  CHECK(dir.receipts().size() == 1); // no read receipt while the round runs
  REQUIRE(dir.release() == 1);
  REQUIRE(dir.receipt_signal().wait_for(2));
  auto receipts = dir.receipts();
  REQUIRE(receipts.size() == 2);
  CHECK(receipts[0].status == "delivered");
  CHECK(receipts[0].mids == mids_t{m1.mid});
  CHECK(receipts[1].status == "read");
  CHECK(receipts[1].to == "alice");
  CHECK(receipts[1].by == "bob");
  // m1 counts as received only once the round stored it: the read covers both.
  CHECK(receipts[1].mids == mids_t{"m0", m1.mid});
}

TEST_CASE("an older session's late attach is replaced and the newer session keeps the inbox") {
  actor_fixture f;
  actor_guard guard{*f.sys};
  directory_stub dir{guard, {}};
  f.ctx.directory = dir.actor;
  session_stub newer{guard};
  session_stub older{guard};
  auto inbox = guard.add(f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"}));
  auto m1 = deliver_to_inbox(*f.sys, inbox, "alice", "c1");
  REQUIRE(m1.answered);
  REQUIRE(attach_to_inbox(*f.sys, inbox, newer.actor, 2000) == inbox);
  REQUIRE(newer.wait_pushes(1));
  // The older connection (opened at 1000) attaches second, delayed under load.
  REQUIRE(attach_to_inbox(*f.sys, inbox, older.actor, 1000) == inbox);
  CHECK(older.replaced_signal().wait_for(1));
  auto m2 = deliver_to_inbox(*f.sys, inbox, "alice", "c2");
  REQUIRE(m2.answered);
  REQUIRE(newer.wait_pushes(2));
  using pushes_t = std::vector<std::pair<uint64_t, std::string>>;
  CHECK(newer.pushes() == pushes_t{{1, m1.mid}, {2, m2.mid}}); // nothing pushed twice
  CHECK(newer.replaced_signal().count() == 0);
  CHECK(older.pushes().empty());
  // Only the newer session's acks count: the older one's ack up to 2 is ignored.
  caf::anon_send(inbox, atom::ack::value, uint64_t{2}, older.actor);
  caf::anon_send(inbox, atom::ack::value, uint64_t{1}, newer.actor);
  REQUIRE(dir.receipt_signal().wait_for(1));
  CHECK(dir.receipts()[0].mids == mids_t{m1.mid});
}

TEST_CASE("a sent copy is recognised by its first pairs, never by a body that looks like one") {
  auto content = net::msgpack_map_builder{std::string{"\x82\xa4kind\xa4text\xa4"
                                                      "body\xa2hi"}}
                     .finish();
  REQUIRE(content);
  for (uint64_t device : {uint64_t{0}, uint64_t{7}, uint64_t{200}, uint64_t{70000}}) {
    auto copy = net::msgpack_map_builder{*content}
                    .add("type", "sent_copy")
                    .add("device", device)
                    .add("mid", "m1")
                    .finish();
    REQUIRE(copy);
    CHECK(copy_origin(*copy) == static_cast<int64_t>(device));
  }
  // A message whose body holds the copy's bytes is still a message.
  auto msg = net::msgpack_map_builder{*content}
                 .add("type", "msg")
                 .add("body2", std::string{"\xa4type\xa9sent_copy\xa6"
                                           "device\x01"})
                 .finish();
  REQUIRE(msg);
  CHECK(copy_origin(*msg) == -1);
  CHECK(copy_origin("") == -1);
  CHECK(copy_origin("\x81") == -1);
}
