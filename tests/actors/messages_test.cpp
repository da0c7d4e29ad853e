// The actor protocol's messages are plain data: each survives CAF's binary serialisation (as
// it will between cluster nodes) unchanged.

#include <doctest/doctest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/messages.hpp"

using namespace tidings;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  system_fixture() {
    register_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

template <class T> T round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(x));
  T y;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(y));
  return y;
}

} // namespace

TEST_CASE("the delivery, receipt and account messages round-trip through CAF serialisation") {
  system_fixture f;
  auto d =
      round_trip(*f.sys, deliver_request{"bob", "alice", "c-1", std::string("\x81\xa1k\x01", 4),
                                         std::string(64, 'a')});
  CHECK(d.to == "bob");
  CHECK(d.from == "alice");
  CHECK(d.cid == "c-1");
  CHECK(d.content == std::string("\x81\xa1k\x01", 4));
  CHECK(d.media_hash == std::string(64, 'a'));
  auto s = round_trip(*f.sys, sent_reply{"m1", -5});
  CHECK(s.mid == "m1");
  CHECK(s.ts == -5);
  auto session =
      f.sys->spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
  auto at = round_trip(*f.sys, attach_request{"bob", session, 42});
  CHECK(at.user == "bob");
  CHECK(at.session == session); // a handle of this node comes back as the same actor
  CHECK(at.since == 42);
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  auto r = round_trip(*f.sys, receipt_delivery{"alice", "item"});
  CHECK(r.to == "alice");
  CHECK(r.item == "item");
  auto a = round_trip(*f.sys, account_request{"POST", "/v1/sessions", "tok", "{}"});
  CHECK(a.method == "POST");
  CHECK(a.path == "/v1/sessions");
  CHECK(a.bearer == "tok");
  auto ar = round_trip(*f.sys, account_reply{429, "{}", 7});
  CHECK(ar.status == 429);
  CHECK(ar.retry_after_s == 7);
  // Every one has a type ID and name of its own in the one block, so nodes agree on what
  // arrives.
  CHECK(caf::type_id<deliver_request>::value != caf::type_id<attach_request>::value);
  CHECK(std::string{caf::type_name<deliver_request>::value} == "tidings::deliver_request");
}

TEST_CASE("the answer to an attach, a typed inbox handle, round-trips in a message") {
  system_fixture f;
  auto inbox = f.sys->spawn([](attached_inbox::pointer) -> attached_inbox::behavior_type {
    return {[](atom::ack, uint64_t, const caf::actor&) {},
            [](atom::read, const std::string&, const std::vector<std::string>&) { return true; }};
  });
  // A message is read back by its elements' type names: the handle's must be registered.
  auto msg = round_trip(*f.sys, caf::make_message(inbox));
  REQUIRE(msg.match_elements<attached_inbox>());
  CHECK(msg.get_as<attached_inbox>(0) == inbox);
  CHECK(std::string{caf::type_name<attached_inbox>::value} == "tidings::attached_inbox");
  caf::anon_send_exit(inbox, caf::exit_reason::user_shutdown);
}
