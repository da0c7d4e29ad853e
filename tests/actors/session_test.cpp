// The session actor against stub inboxes and directories: real actors, a recording peer.

#include <doctest/doctest.h>

#include "actors/session.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

std::string pushed_msg(const std::string& mid) {
  return net::encode(net::json{{"type", "msg"},
                               {"mid", mid},
                               {"from", "alice"},
                               {"ts", 1},
                               {"kind", "text"},
                               {"body", "hi"}},
                     net::encoding::msgpack);
}

} // namespace

TEST_CASE("a session monitors an inbox that pushed before answering the attach") {
  actor_fixture f;
  f.add_token("tok", "bob");
  auto lastseen = f.lastseen_stub();
  f.ctx.lastseen = {lastseen};
  // The inbox pushes waiting items inside its attach handler, as the real one does, so the
  // push reaches the session before the attach response.
  auto inbox_behavior = [](caf::event_based_actor* self) -> caf::behavior {
    return {[self](const attach_request& a) {
      const auto& session = a.session;
      self->send(session, atom::push::value, uint64_t{1}, pushed_msg("m1"));
      return caf::actor_cast<attached_inbox>(self);
    }};
  };
  counter_signal attaches;
  auto first_inbox = f.sys->spawn(inbox_behavior);
  // Stubs play only the attach (the inboxes answer it as the real one does: attached_inbox).
  auto directory = f.sys->spawn([&, first_inbox](caf::event_based_actor* self) -> caf::behavior {
    return {[&, self, first_inbox](const attach_request& a) {
      // The first attach goes to first_inbox; after it died, a new one takes over (linked,
      // so it ends with the directory).
      auto target = attaches.count() == 0 ? first_inbox : self->spawn<caf::linked>(inbox_behavior);
      attaches.raise();
      self->delegate(target, a);
    }};
  });
  f.ctx.directory = caf::actor_cast<directory_service>(directory);
  auto peer = std::make_shared<recording_peer>();
  auto session = f.sys->spawn(session_actor, &f.ctx, peer, std::string{"tok"}, net::encoding::json);
  REQUIRE(peer->wait_frame("msg").is_object());
  REQUIRE(attaches.wait_for(1));
  // Let the attach response arrive too: a ping's pong is answered after it (same mailbox,
  // and the response was sent before the pong's frame was handed to the session).
  caf::anon_send(session, atom::frame::value, std::string{R"({"type":"ping","id":1})"}, false);
  REQUIRE(peer->wait_frame("pong").is_object());
  caf::anon_send_exit(first_inbox, caf::exit_reason::kill);
  // A monitoring session notices the inbox is gone and attaches again.
  CHECK(attaches.wait_for(2));
  caf::anon_send(session, atom::wsclosed::value, uint16_t{1000});
  f.stop({f.ctx.directory, caf::actor_cast<caf::actor>(lastseen)});
  f.shutdown();
}

TEST_CASE("a token that cannot be read is not called unauthorized") {
  actor_fixture f;
  f.add_token("tok", "bob");
  auto lastseen = f.lastseen_stub();
  f.ctx.lastseen = {lastseen};
  f.ctx.directory = caf::actor_cast<directory_service>(f.lastseen_stub()); // never reached
  f.fail_reads(storage::table::tokens);
  auto peer = std::make_shared<recording_peer>();
  auto session = f.sys->spawn(session_actor, &f.ctx, peer, std::string{"tok"}, net::encoding::json);
  auto err = peer->wait_frame("error");
  REQUIRE(err.is_object());
  CHECK(err["code"] == "unavailable");
  CHECK(err.contains("retry_ms"));
  CHECK(peer->wait_close() == close_code::internal);
  caf::anon_send(session, atom::wsclosed::value, uint16_t{1000});
  f.stop({f.ctx.directory, caf::actor_cast<caf::actor>(lastseen)});
}
