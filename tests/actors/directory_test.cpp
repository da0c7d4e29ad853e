// The directory actor: which answers it gives for users it cannot route to.

#include <doctest/doctest.h>

#include "actors/directory.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

errc deliver_error(caf::actor_system& sys, const caf::actor& directory, const std::string& to) {
  caf::scoped_actor self{sys};
  errc out = errc::internal;
  self->request(directory, 5s, deliver_request{to, "alice", "c1", text_content("hi"), ""})
      .receive([&](const sent_reply&) { out = errc{}; },
               [&](const caf::error& err) { out = to_errc(err); });
  return out;
}

} // namespace

TEST_CASE("the directory tells an unknown recipient from an unreadable account") {
  actor_fixture f;
  f.add_account("bob");
  auto directory = f.sys->spawn(directory_actor, &f.ctx);
  f.ctx.directory = directory;
  CHECK(deliver_error(*f.sys, directory, "nobody") == errc::not_found);
  f.fail_reads(storage::table::accounts);
  CHECK(deliver_error(*f.sys, directory, "bob") == errc::unavailable);
  f.fail_reads(storage::table::accounts, false);
  CHECK(deliver_error(*f.sys, directory, "bob") == errc{});
  f.stop({directory});
}
