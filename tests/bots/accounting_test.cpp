// The load test's accounting: what counts as lost, duplicated, repeated, and its latencies.

#include <doctest/doctest.h>

#include "bots/accounting.hpp"

using namespace tidings::bots;

namespace {

constexpr int64_t ms = 1'000'000; // nanoseconds
constexpr message_key k = make_key(0, 1);

/// Bot 0 sent message 1 to bot 1 at t = 0; the node confirmed it as mid m1 at 1 ms.
accounting one_sent(std::size_t bots = 2) {
  accounting a{bots};
  a.on_send(k, 1, false, 0);
  a.on_sent(k, "m1", 1 * ms);
  return a;
}

bool fails_with(const nlohmann::json& report, const std::string& words) {
  for (const auto& f : report["failures"])
    if (f.get<std::string>().find(words) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("a message sent received and receipted counts once with three latencies") {
  accounting a{2};
  a.on_send(k, 1, false, 100 * ms);
  a.on_sent(k, "m1", 102 * ms);
  a.on_received(k, 1, "m1", 105 * ms, 1, false);
  a.on_receipt(0, 1, false, {"m1"}, 110 * ms);
  auto r = a.report();
  CHECK(r["messages"]["sent"] == 1);
  CHECK(r["messages"]["received"] == 1);
  CHECK(r["messages"]["lost"] == 0);
  CHECK(r["receipts"]["delivered"] == 1);
  CHECK(r["receipts"]["missing"] == 0);
  CHECK(r["failures"].empty());
  CHECK(a.outstanding() == 0);
  CHECK(r["latency_ms"]["send_to_sent"]["max"].get<double>() == doctest::Approx(2.0).epsilon(0.02));
  CHECK(r["latency_ms"]["send_to_receive"]["max"].get<double>() ==
        doctest::Approx(5.0).epsilon(0.02));
  CHECK(r["latency_ms"]["send_to_delivered"]["max"].get<double>() ==
        doctest::Approx(10.0).epsilon(0.02));
}

TEST_CASE("a sent message never received is lost and fails the run") {
  auto a = one_sent();
  CHECK(a.outstanding() == 1);
  auto r = a.report();
  CHECK(r["messages"]["lost"] == 1);
  CHECK(r["messages"]["sent"].get<uint64_t>() ==
        r["messages"]["received"].get<uint64_t>() + r["messages"]["lost"].get<uint64_t>());
  CHECK(fails_with(r, "lost"));
}

TEST_CASE("a re-push on a later session is a repeat and not a duplicate") {
  auto a = one_sent();
  a.on_received(k, 1, "m1", 2 * ms, 1, false);
  a.on_received(k, 1, "m1", 3 * ms, 2, true);
  a.on_receipt(0, 1, false, {"m1"}, 4 * ms);
  auto r = a.report();
  CHECK(r["messages"]["repeats"] == 1);
  CHECK(r["messages"]["repeats_after_ack"] == 1);
  CHECK(r["messages"]["duplicates"] == 0);
  CHECK(r["messages"]["raw_received"] == 2);
  CHECK(r["failures"].empty());
}

TEST_CASE("the same mid twice on one session is a duplicate") {
  auto a = one_sent();
  a.on_received(k, 1, "m1", 2 * ms, 1, false);
  a.on_received(k, 1, "m1", 3 * ms, 1, false);
  a.on_receipt(0, 1, false, {"m1"}, 4 * ms);
  auto r = a.report();
  CHECK(r["messages"]["duplicates_same_session"] == 1);
  CHECK(fails_with(r, "duplicated"));
}

TEST_CASE("one cid arriving under a second mid is a duplicate") {
  auto a = one_sent();
  a.on_received(k, 1, "m1", 2 * ms, 1, false);
  a.on_received(k, 1, "m2", 3 * ms, 2, false);
  auto r = a.report();
  CHECK(r["messages"]["duplicates_second_mid"] == 1);
  CHECK(fails_with(r, "duplicated"));
}

TEST_CASE("two sent replies with different mids are a conflict") {
  auto a = one_sent();
  a.on_sent(k, "m1", 2 * ms);
  CHECK(a.report()["messages"]["sent_repeats"] == 1);
  a.on_sent(k, "m9", 3 * ms);
  CHECK(fails_with(a.report(), "two different mids"));
}

TEST_CASE("a message arriving at the wrong bot is misdelivered") {
  auto a = one_sent(3);
  a.on_received(k, 2, "m1", 2 * ms, 1, false);
  CHECK(fails_with(a.report(), "wrong bot"));
}

TEST_CASE("events overtaking the send still give latencies") {
  accounting a{2};
  auto k7 = make_key(1, 7);
  a.on_received(k7, 0, "m7", 30 * ms, 1, false);
  a.on_sent(k7, "m7", 20 * ms);
  a.on_receipt(1, 0, false, {"m7"}, 40 * ms);
  a.on_send(k7, 0, false, 10 * ms);
  auto r = a.report();
  CHECK(r["messages"]["lost"] == 0);
  CHECK(r["messages"]["misdelivered"] == 0);
  CHECK(r["latency_ms"]["send_to_sent"]["count"] == 1);
  CHECK(r["latency_ms"]["send_to_receive"]["min"].get<double>() ==
        doctest::Approx(20.0).epsilon(0.02));
  CHECK(r["latency_ms"]["send_to_delivered"]["min"].get<double>() ==
        doctest::Approx(30.0).epsilon(0.02));
}

TEST_CASE("a received message without its delivered receipt fails the run") {
  auto a = one_sent();
  a.on_received(k, 1, "m1", 2 * ms, 1, false);
  CHECK(a.outstanding() == 1);
  CHECK(fails_with(a.report(), "delivered receipts missing"));
}

TEST_CASE("failed and unanswered sends are reported but are not losses") {
  accounting a{2};
  a.on_send(make_key(0, 1), 1, true, 0);
  a.on_send_failed(make_key(0, 1), "forbidden");
  a.on_send(make_key(0, 2), 1, false, 0);
  auto r = a.report();
  CHECK(r["messages"]["failed"] == 1);
  CHECK(r["messages"]["failed_by_code"]["forbidden"] == 1);
  CHECK(r["messages"]["unanswered"] == 1);
  CHECK(r["messages"]["lost"] == 0);
  CHECK(r["failures"].empty());
  CHECK(a.outstanding() == 1);
}

TEST_CASE("connections and closes are counted by code") {
  accounting a{2};
  a.on_connected(0, 3 * ms);
  a.on_connected(1, 4 * ms);
  CHECK(a.live() == 2);
  a.on_closed(0, 1000, "", true, true);
  a.on_closed(1, 1001, "shutting down", true, false);
  a.on_closed(1, 1006, "connect: Connection refused", false, false);
  auto r = a.report();
  CHECK(a.live() == 0);
  CHECK(r["connections"]["established"] == 2);
  CHECK(r["connections"]["max_live"] == 2);
  CHECK(r["connections"]["closes"]["1000"] == 1);
  CHECK(r["connections"]["closes"]["1001 unexpected"] == 1);
  CHECK(r["connections"]["failed"] == 1);
}

TEST_CASE("the per-second window holds only latencies since the last sample") {
  auto a = one_sent(); // 1 ms to sent
  a.on_received(k, 1, "m1", 4 * ms, 1, false);
  auto first = a.take_window();
  CHECK(first["sent_p50_ms"].get<double>() == doctest::Approx(1.0).epsilon(0.02));
  CHECK(first["recv_p99_ms"].get<double>() == doctest::Approx(4.0).epsilon(0.02));
  auto second = a.take_window();
  CHECK(second["sent_p50_ms"] == 0.0);
  CHECK(second["recv_p99_ms"] == 0.0);
  CHECK(a.send_to_receive().count() == 1); // the whole-run histogram keeps it
}
