// The bots' timer wheel (bots/timers.hpp) in a real actor system: timers arrive in the order
// of their due times (and of setting, within one tick), `0` means the next tick, an epoch
// makes a re-armed chain's older timer a no-op, a receiver that quit is harmless, and stop()
// joins the thread and destroys what is pending undelivered. Takes about a second.

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include <caf/all.hpp>

#include "bots/messages.hpp"
#include "bots/timers.hpp"

using namespace tidings::bots;

namespace {

using namespace std::chrono_literals;

struct wheel_fixture {
  wheel_fixture() : sys{(register_bot_types(cfg), cfg)} {}
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

/// The next uint64_t that arrives at `self`, or UINT64_MAX after `within`.
uint64_t next_value(caf::scoped_actor& self, std::chrono::milliseconds within = 5s) {
  uint64_t got = UINT64_MAX;
  self->receive([&](uint64_t x) { got = x; }, caf::after(within) >> [] {});
  return got;
}

/// A send loop like a bot's: each `think` with the current epoch counts and re-arms; `rearm`
/// starts a new chain (a new epoch) while the old chain's timer is still pending.
struct chain_state {
  static inline const char* name = "chain";
  uint64_t epoch = 0;
  uint64_t fired = 0; ///< `think`s acted on
  uint64_t stale = 0; ///< `think`s ignored
};

caf::behavior chain_actor(caf::stateful_actor<chain_state>* self, timer_wheel* wheel) {
  return {
      [=](atom::think, uint64_t e) {
        auto& s = self->state;
        if (e != s.epoch) {
          ++s.stale;
          return;
        }
        ++s.fired;
      },
      [=](atom::speak, double ms) {
        wheel->after_ms(ms, self, atom::think::value, ++self->state.epoch);
      },
      [=](atom::report) { return std::make_tuple(self->state.fired, self->state.stale); },
  };
}

} // namespace

TEST_CASE_FIXTURE(wheel_fixture, "timer wheel: due order, setting order within a tick, 0 is soon") {
  timer_wheel wheel;
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  wheel.after_ms(60, self, uint64_t{60});
  wheel.after_ms(20, self, uint64_t{20});
  wheel.after_ms(40, self, uint64_t{40});
  wheel.after_ms(20, self, uint64_t{21}); // same due time, set later: after 20
  wheel.after_ms(0, self, uint64_t{0});
  wheel.after_ms(-5, self, uint64_t{1}); // in the past: the next tick too, after 0
  CHECK(wheel.pending() == 6);
  std::vector<uint64_t> got;
  for (int i = 0; i < 6; ++i)
    got.push_back(next_value(self));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(got == std::vector<uint64_t>{0, 1, 20, 21, 40, 60});
  // Never more than half a tick early (the last was due at 60 ms).
  CHECK(elapsed >= 59500us);
  CHECK(wheel.pending() == 0);
}

TEST_CASE_FIXTURE(wheel_fixture, "timer wheel: an older epoch's timer is delivered and ignored") {
  timer_wheel wheel;
  auto chain = sys.spawn(chain_actor, &wheel);
  caf::scoped_actor self{sys};
  self->send(chain, atom::speak::value, 80.0); // epoch 1, due in 80 ms
  self->send(chain, atom::speak::value, 10.0); // epoch 2 makes epoch 1 stale
  // Wait (bounded) until both timers have been delivered and handled.
  uint64_t fired = 0;
  uint64_t stale = 0;
  for (int i = 0; i < 200 && fired + stale < 2; ++i) {
    self->request(chain, caf::infinite, atom::report::value)
        .receive(
            [&](uint64_t f, uint64_t s) {
              fired = f;
              stale = s;
            },
            [&](const caf::error& err) { FAIL(sys.render(err)); });
    if (fired + stale < 2)
      self->receive(caf::after(5ms) >> [] {}); // bounded poll of the chain's counters
  }
  CHECK(fired == 1);
  CHECK(stale == 1);
  self->send_exit(chain, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(wheel_fixture, "timer wheel: a receiver that quit is harmless") {
  timer_wheel wheel;
  caf::scoped_actor self{sys};
  {
    auto gone = sys.spawn(
        [](caf::event_based_actor* a) -> caf::behavior { return {[a](uint64_t) { a->quit(); }}; });
    wheel.after_ms(5, gone, uint64_t{1});
    wheel.after_ms(6, gone, uint64_t{2}); // arrives after it quit
    self->send_exit(gone, caf::exit_reason::user_shutdown);
  }
  wheel.after_ms(20, self, uint64_t{7});
  CHECK(next_value(self) == 7);
  CHECK(wheel.pending() == 0);
}

TEST_CASE_FIXTURE(wheel_fixture, "timer wheel: stop() destroys what is pending, undelivered") {
  caf::scoped_actor self{sys};
  timer_wheel wheel;
  wheel.after_ms(30, self, uint64_t{1});
  wheel.after_ms(60'000, self, uint64_t{2}); // beyond one turn of the wheel
  CHECK(wheel.pending() == 2);
  wheel.stop();
  CHECK(wheel.pending() == 0);
  wheel.after_ms(0, self, uint64_t{3}); // after stop: dropped
  CHECK(wheel.pending() == 0);
  CHECK(next_value(self, 100ms) == UINT64_MAX); // nothing arrives (waits past the 30 ms one)
  wheel.stop();                                 // idempotent
}

TEST_CASE_FIXTURE(wheel_fixture, "timer wheel: an earlier timer wakes it; later turns wait") {
  timer_wheel wheel{1ms, 64}; // one turn: 64 ms
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  wheel.after_ms(150, self, uint64_t{150}); // two turns and more ahead: the thread sleeps on it
  wheel.after_ms(10, self, uint64_t{10});   // due long before: wakes the thread
  CHECK(next_value(self) == 10);
  CHECK(std::chrono::steady_clock::now() - t0 < 140ms);
  wheel.after_ms(70, self, uint64_t{70}); // more than a turn from now, before the 150 one
  CHECK(next_value(self) == 70);
  CHECK(next_value(self) == 150);
  CHECK(std::chrono::steady_clock::now() - t0 >= 149500us);
}
