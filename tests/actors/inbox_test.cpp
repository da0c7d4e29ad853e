// The inbox actor under storage failures and failing peers: real actors and RocksDB, with the
// directory played by a stub.

#include <doctest/doctest.h>

#include "actors/directory.hpp"
#include "actors/inbox.hpp"
#include "storage/inbox_log.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

std::size_t stored_items(storage::db& store, const std::string& user) {
  storage::inbox_log log{store, user};
  return log.size();
}

} // namespace

TEST_CASE("a read receipt that cannot be stored leaves the reader's inbox running") {
  actor_fixture f;
  f.add_account("alice");
  f.add_account("bob");
  // bob received m1 from alice, so his `read` of it makes a receipt.
  storage::batch b;
  b.put(storage::table::received, std::string("bob\0m1", 6), received_value("alice", 1));
  REQUIRE(f.store->write(b).ok());
  counter_signal refused;
  // The stub plays only the part the test needs: the receipt the read makes.
  auto stub = f.sys->spawn([&refused](caf::event_based_actor* self) -> caf::behavior {
    return {[self, &refused](const receipt_delivery&) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      rp.deliver(make_error(errc::unavailable)); // e.g. the sender's inbox is overloaded
      refused.raise();                           // after the error is in the reader's mailbox
      return rp;
    }};
  });
  f.ctx.directory = caf::actor_cast<directory_service>(stub);
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  caf::anon_send(inbox, atom::read::value, std::string{"alice"}, std::vector<std::string>{"m1"});
  REQUIRE(refused.wait_for(1));
  // Handled after the error response: the inbox must still be there to store it.
  auto reply = deliver_text(*f.sys, inbox, "bob", "alice", "c1");
  CHECK_FALSE(reply.err);
  CHECK_FALSE(reply.mid.empty());
  // The received record stays, so a later `read` can still report it.
  CHECK(f.store->get(storage::table::received, std::string("bob\0m1", 6)).found());
  CHECK(f.metrics.read_receipts_failed.load() == 1);
  f.stop({inbox, f.ctx.directory});
}

TEST_CASE("a dedupe record that cannot be read is never taken for a new message") {
  actor_fixture f;
  f.add_account("bob");
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto first = deliver_text(*f.sys, inbox, "bob", "alice", "c1");
  REQUIRE_FALSE(first.err);
  f.fail_reads(storage::table::dedupe);
  auto retry = deliver_text(*f.sys, inbox, "bob", "alice", "c1");
  CHECK(to_errc(retry.err) == errc::unavailable);
  f.fail_reads(storage::table::dedupe, false);
  auto again = deliver_text(*f.sys, inbox, "bob", "alice", "c1");
  CHECK(again.mid == first.mid);
  f.stop({inbox});
  f.shutdown();
  CHECK(stored_items(*f.store, "bob") == 1);
}

TEST_CASE("a block list that cannot be read never lets the blocked sender's message through") {
  actor_fixture f;
  f.add_account("bob");
  storage::batch b;
  b.put(storage::table::blocks, std::string("bob\0mallory", 11), "");
  REQUIRE(f.store->write(b).ok());
  f.fail_reads(storage::table::blocks);
  // The inbox asks the profile shard for bob's blocks when it starts; that read fails.
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto reply = deliver_text(*f.sys, inbox, "bob", "mallory", "c1");
  CHECK(reply.err);
  CHECK(reply.mid.empty());
  f.fail_reads(storage::table::blocks, false);
  auto next = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto retry = deliver_text(*f.sys, next, "bob", "mallory", "c1");
  CHECK_FALSE(retry.err); // `sent`, and nothing stored: the block is not revealed
  f.stop({next});
  f.shutdown();
  CHECK(stored_items(*f.store, "bob") == 0);
}

TEST_CASE("an inbox whose counters cannot be read refuses work instead of starting empty") {
  actor_fixture f;
  f.add_account("bob");
  f.fail_reads(storage::table::inbox_meta);
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto reply = deliver_text(*f.sys, inbox, "bob", "alice", "c1");
  CHECK(reply.err);
  CHECK(reply.mid.empty());
  f.fail_reads(storage::table::inbox_meta, false);
  f.shutdown();
  CHECK(stored_items(*f.store, "bob") == 0);
}

TEST_CASE("a running inbox follows blocks and unblocks told by the profile shard") {
  actor_fixture f;
  f.add_account("bob");
  f.add_account("mallory");
  auto directory = f.sys->spawn(directory_actor, &f.ctx);
  f.ctx.directory = directory;
  // Spawned through the directory, so the shard's news reaches it.
  REQUIRE_FALSE(deliver_text(*f.sys, directory, "bob", "mallory", "c1").err);
  auto ask_profile = [&f](auto op) {
    caf::scoped_actor self{*f.sys};
    self->request(f.ctx.profiles.front(), 5s, atom::blocks::value, op, std::string{"bob"},
                  std::string{"mallory"})
        .receive([](bool) {}, [](const caf::error& err) { FAIL(caf::to_string(err)); });
  };
  ask_profile(atom::add_item::value);
  REQUIRE_FALSE(deliver_text(*f.sys, directory, "bob", "mallory", "c2").err); // `sent`, not stored
  ask_profile(atom::remove_item::value);
  REQUIRE_FALSE(deliver_text(*f.sys, directory, "bob", "mallory", "c3").err);
  f.stop({directory});
  f.shutdown();
  CHECK(stored_items(*f.store, "bob") == 2); // c1 and c3; c2 came while mallory was blocked
}

TEST_CASE("a message whose write fails is answered unavailable and never seen; later ones are") {
  actor_fixture f;
  f.add_account("bob");
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  REQUIRE_FALSE(deliver_text(*f.sys, inbox, "bob", "alice", "c1").err);
  f.fail_writes();
  auto failed = deliver_text(*f.sys, inbox, "bob", "alice", "c2");
  CHECK(to_errc(failed.err) == errc::unavailable);
  f.fail_writes(false);
  // The retry of the same cid is a new message (nothing of c2 was stored), then c3.
  auto retried = deliver_text(*f.sys, inbox, "bob", "alice", "c2");
  REQUIRE_FALSE(retried.err);
  REQUIRE_FALSE(deliver_text(*f.sys, inbox, "bob", "alice", "c3").err);
  // A session attached now gets the three stored messages in seq order; the failed write's
  // seq is a hole no one sees, and no seq is used twice.
  caf::scoped_actor session{*f.sys};
  session->request(inbox, 5s, attach_request{"bob", session, 1})
      .receive([](const attached_inbox&) {},
               [](const caf::error& err) { FAIL(caf::to_string(err)); });
  std::vector<uint64_t> seqs;
  std::vector<std::string> mids;
  for (int i = 0; i < 3; ++i)
    session->receive(
        [&](atom::push, uint64_t seq, const std::string& item) {
          seqs.push_back(seq);
          mids.push_back(net::decode(item, net::encoding::msgpack, nullptr)->value("mid", ""));
        },
        caf::after(5s) >> [] { FAIL("no push"); });
  REQUIRE(seqs.size() == 3);
  CHECK(seqs[0] < seqs[1]);
  CHECK(seqs[1] < seqs[2]);
  CHECK(seqs[1] == seqs[0] + 2); // seq 2 went to the failed write
  CHECK(mids[1] == retried.mid);
  CHECK(f.metrics.storage_errors.load() >= 1);
  f.stop({inbox});
}
