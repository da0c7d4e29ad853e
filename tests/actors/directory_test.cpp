// The directory actor: which answers it gives for users it cannot route to.

#include <doctest/doctest.h>

#include "actors/directory.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

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
