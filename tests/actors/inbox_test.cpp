// The inbox actor under storage failures and failing peers: real actors and RocksDB, with the
// directory played by a stub.

#include <doctest/doctest.h>

#include "actors/inbox.hpp"
#include "storage/inbox_log.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

/// Delivers one message to `inbox` and returns the reply: (mid, ts) or the error.
struct delivery {
  std::string mid;
  caf::error err;
};

delivery deliver(caf::actor_system& sys, const caf::actor& inbox, const std::string& from,
                 const std::string& cid) {
  caf::scoped_actor self{sys};
  delivery out;
  self->request(inbox, 5s, atom::deliver::value, from, cid, text_content("hi"), std::string{})
      .receive([&](const std::string& mid, int64_t) { out.mid = mid; },
               [&](const caf::error& err) { out.err = err; });
  return out;
}

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
  f.ctx.directory = f.sys->spawn([&refused](caf::event_based_actor* self) -> caf::behavior {
    return {[self, &refused](atom::receipt, const std::string&,
                             const std::string&) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      rp.deliver(make_error(errc::unavailable)); // e.g. the sender's inbox is overloaded
      refused.raise();                           // after the error is in the reader's mailbox
      return rp;
    }};
  });
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  caf::anon_send(inbox, atom::read::value, std::string{"alice"}, std::vector<std::string>{"m1"});
  REQUIRE(refused.wait_for(1));
  // Handled after the error response: the inbox must still be there to store it.
  auto reply = deliver(*f.sys, inbox, "alice", "c1");
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
  auto first = deliver(*f.sys, inbox, "alice", "c1");
  REQUIRE_FALSE(first.err);
  f.fail_reads(storage::table::dedupe);
  auto retry = deliver(*f.sys, inbox, "alice", "c1");
  CHECK(to_errc(retry.err) == errc::unavailable);
  f.fail_reads(storage::table::dedupe, false);
  auto again = deliver(*f.sys, inbox, "alice", "c1");
  CHECK(again.mid == first.mid);
  f.stop({inbox});
  f.sys.reset();
  CHECK(stored_items(*f.store, "bob") == 1);
}

TEST_CASE("a block that cannot be read never lets the blocked sender's message through") {
  actor_fixture f;
  f.add_account("bob");
  storage::batch b;
  b.put(storage::table::blocks, std::string("bob\0mallory", 11), "");
  REQUIRE(f.store->write(b).ok());
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  f.fail_reads(storage::table::blocks);
  auto reply = deliver(*f.sys, inbox, "mallory", "c1");
  CHECK(to_errc(reply.err) == errc::unavailable);
  f.fail_reads(storage::table::blocks, false);
  auto retry = deliver(*f.sys, inbox, "mallory", "c1");
  CHECK_FALSE(retry.err); // `sent`, and nothing stored: the block is not revealed
  f.stop({inbox});
  f.sys.reset();
  CHECK(stored_items(*f.store, "bob") == 0);
}

TEST_CASE("an inbox whose counters cannot be read refuses work instead of starting empty") {
  actor_fixture f;
  f.add_account("bob");
  f.fail_reads(storage::table::inbox_meta);
  auto inbox = f.sys->spawn(inbox_actor, &f.ctx, std::string{"bob"});
  auto reply = deliver(*f.sys, inbox, "alice", "c1");
  CHECK(reply.err);
  CHECK(reply.mid.empty());
  f.fail_reads(storage::table::inbox_meta, false);
  f.sys.reset();
  CHECK(stored_items(*f.store, "bob") == 0);
}
