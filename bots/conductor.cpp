#include "bots/conductor.hpp"

#include <algorithm>
#include <cmath>

#include "bots/messages.hpp"

namespace tidings::bots {

namespace {

/// Pace of the step timer while commands are issued at a rate, and of drain checks.
constexpr double step_ms = 10;
constexpr double drain_poll_ms = 100;
/// Drain budget after an interrupt.
constexpr double interrupted_drain_s = 5;

} // namespace

void conductor_state::init(caf::event_based_actor* s, const run_context* c,
                           std::vector<caf::actor> all, conductor_options o) {
  self = s;
  ctx = c;
  bots = std::move(all);
  opts = o;
  wanted_online.assign(bots.size(), false);
  rng.seed(ctx->plan->seed ^ 0x5bd1e995u);
}

void conductor_state::after_ms(double ms, uint64_t e) {
  self->delayed_send(self, std::chrono::microseconds(static_cast<int64_t>(ms * 1000)),
                     atom::step::value, e);
}

std::vector<uint32_t> conductor_state::members(const std::string& group) const {
  std::vector<uint32_t> out;
  auto g = group == "all" ? -1 : ctx->plan->group_index(group);
  for (uint32_t i = 0; i < bots.size(); ++i)
    if (g < 0 || ctx->group_of[i] == static_cast<uint32_t>(g))
      out.push_back(i);
  return out;
}

void conductor_state::start() {
  begin(0);
}

void conductor_state::begin(std::size_t index) {
  phase_index = index;
  if (index >= ctx->plan->phases.size())
    return start_drain(ctx->plan->drain_timeout_s);
  const auto& p = ctx->plan->phases[index];
  self->send(ctx->collector, atom::phase::value, p.name, std::string{to_string(p.action)});
  auto e = ++epoch;
  phase_start = ctx->now_ns();
  targets.clear();
  issued = 0;
  awaiting = 0;
  using k = phase::kind;
  switch (p.action) {
  case k::connect:
  case k::disconnect:
  case k::reconnect: {
    bool want = p.action != k::connect;
    for (auto bot : members(p.group))
      if (wanted_online[bot] == want)
        targets.push_back(bot);
    if (p.count && targets.size() > *p.count)
      targets.resize(*p.count);
    deadline = phase_start + static_cast<int64_t>(p.timeout_s * 1e9);
    return step(e);
  }
  case k::hold:
    if (p.until_signal && advances > 0) {
      --advances;
      return next_phase();
    }
    return after_ms(p.duration_s * opts.time_scale * 1000, e);
  case k::silence:
  case k::speak:
    for (auto bot : members(p.group)) {
      if (p.action == k::speak)
        self->send(bots[bot], atom::speak::value);
      else
        self->send(bots[bot], atom::silence::value);
    }
    return next_phase();
  case k::wait_drained:
    deadline = phase_start + static_cast<int64_t>(p.timeout_s * 1e9);
    last_outstanding = UINT64_MAX;
    return check_drained(e);
  }
}

void conductor_state::next_phase() {
  if (!draining && !finished)
    begin(phase_index + 1);
}

void conductor_state::step(uint64_t e) {
  if (e != epoch || finished)
    return;
  if (draining)
    return check_drained(e);
  const auto& p = ctx->plan->phases[phase_index];
  using k = phase::kind;
  switch (p.action) {
  case k::hold:
    return next_phase();
  case k::wait_drained:
    return check_drained(e);
  default:
    break;
  }
  if (issued < targets.size()) {
    issue_due(p);
    if (issued < targets.size())
      return after_ms(step_ms, e);
  }
  if (p.action == k::connect && p.wait && awaiting > 0) {
    if (ctx->now_ns() < deadline)
      return after_ms(step_ms, e);
    not_online += awaiting; // the deadline passed: move on without them
  }
  next_phase();
}

void conductor_state::issue_due(const phase& p) {
  auto elapsed_s = static_cast<double>(ctx->now_ns() - phase_start) / 1e9;
  auto due = p.rate > 0 ? std::min<std::size_t>(targets.size(),
                                                static_cast<std::size_t>(p.rate * elapsed_s) + 1)
                        : targets.size();
  using k = phase::kind;
  for (; issued < due; ++issued) {
    auto bot = targets[issued];
    const auto& handle = bots[bot];
    switch (p.action) {
    case k::connect: {
      wanted_online[bot] = true;
      ++awaiting;
      auto timeout = std::chrono::milliseconds(static_cast<int64_t>(p.timeout_s * 1000) + 1000);
      self->request(handle, timeout, atom::online::value)
          .then([this](bool) { awaiting -= awaiting > 0 ? 1 : 0; },
                [this](const caf::error&) { awaiting -= awaiting > 0 ? 1 : 0; });
      break;
    }
    case k::disconnect:
      wanted_online[bot] = false;
      self->send(handle, atom::offline::value, p.drop);
      break;
    case k::reconnect:
      self->send(handle, atom::bounce::value, p.drop,
                 static_cast<int64_t>(p.offline_ms.sample(rng)));
      break;
    default:
      break;
    }
  }
}

void conductor_state::check_drained(uint64_t e) {
  self->request(ctx->collector, caf::infinite, atom::outstand::value)
      .then(
          [this, e](uint64_t outstanding, uint64_t) {
            if (e != epoch || finished)
              return;
            auto now = ctx->now_ns();
            if (outstanding != last_outstanding) {
              last_outstanding = outstanding;
              last_progress = now;
            }
            auto stall = ctx->plan->drain_stall_s;
            bool stalled = stall > 0 && now - last_progress >= static_cast<int64_t>(stall * 1e9);
            if (outstanding == 0 || now >= deadline || stalled) {
              if (draining) {
                drain_timed_out = outstanding > 0 && !stalled;
                drain_stalled = outstanding > 0 && stalled;
                return finish();
              }
              return next_phase();
            }
            after_ms(drain_poll_ms, e);
          },
          [this, e](const caf::error&) {
            if (e == epoch && !finished)
              after_ms(drain_poll_ms, e); // ask again: the collector answers once it can
          });
}

void conductor_state::start_drain(double timeout_s) {
  if (draining)
    return;
  draining = true;
  auto e = ++epoch;
  self->send(ctx->collector, atom::phase::value, std::string{"drain"}, std::string{"drain"});
  deadline = ctx->now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  last_outstanding = UINT64_MAX;
  // Every bot confirms before the first check, so no send can begin after it.
  auto remaining = std::make_shared<std::size_t>(bots.size());
  if (bots.empty())
    return check_drained(e);
  for (auto& bot : bots)
    self->request(bot, caf::infinite, atom::drain::value)
        .then(
            [this, e, remaining](bool) {
              if (--*remaining == 0)
                check_drained(e);
            },
            [this, e, remaining](const caf::error&) {
              if (--*remaining == 0)
                check_drained(e);
            });
}

void conductor_state::finish() {
  if (finished)
    return;
  finished = true;
  ++epoch;
  self->send(ctx->collector, atom::phase::value, std::string{"end"}, std::string{"end"});
  for (auto& bot : bots)
    self->send(bot, atom::offline::value, false);
  self->request(ctx->collector, caf::infinite, atom::report::value)
      .then(
          [this](const std::string& text) {
            auto report = nlohmann::json::parse(text);
            report["interrupted"] = interrupted;
            report["drain_timed_out"] = drain_timed_out;
            report["drain_stalled"] = drain_stalled;
            report["bots_not_online_in_time"] = not_online;
            done.deliver(report.dump());
          },
          [this](const caf::error& err) { done.deliver(err); });
}

void conductor_state::interrupt() {
  if (interrupted || draining) {
    interrupted = true;
    return finish();
  }
  interrupted = true;
  start_drain(interrupted_drain_s);
}

void conductor_state::advance() {
  if (draining || finished)
    return;
  const auto& phases = ctx->plan->phases;
  if (phase_index < phases.size() && phases[phase_index].action == phase::kind::hold &&
      phases[phase_index].until_signal)
    return next_phase(); // its timer goes stale with the next phase's epoch
  ++advances;
}

caf::behavior conductor_actor(caf::stateful_actor<conductor_state>* self, const run_context* ctx,
                              std::vector<caf::actor> bots, conductor_options opts) {
  self->state.init(self, ctx, std::move(bots), opts);
  return {
      [self](atom::run) -> caf::result<std::string> {
        self->state.done = self->make_response_promise<std::string>();
        self->state.start();
        return self->state.done;
      },
      [self](atom::step, uint64_t e) { self->state.step(e); },
      [self](atom::interrupt) { self->state.interrupt(); },
      [self](atom::advance) { self->state.advance(); },
  };
}

} // namespace tidings::bots
