#include "bots/collector.hpp"

#include <cstdio>
#include <sstream>

#include "bots/messages.hpp"

namespace tidings::bots {

using nlohmann::json;

namespace {

constexpr auto sample_period = std::chrono::seconds(1);
/// A phase's authentications are counted per 100 ms for its first 10 minutes (later ones
/// fall into the last bin).
constexpr std::size_t max_bins = 6000;
constexpr double us_per_ms = 1000.0;

double rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

} // namespace

void collector_state::init(caf::event_based_actor* s, const run_context* c, bool show_progress) {
  self = s;
  ctx = c;
  progress = show_progress;
  figures = accounting{ctx->users.size()};
  started = ctx->now_ns();
}

double collector_state::seconds_since_start(int64_t t) const {
  return static_cast<double>(t - started) / 1e9;
}

void collector_state::begin_phase(const std::string& phase_name, const std::string& action) {
  auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  phases.push_back({phase_name, action, ctx->now_ns(), unix_ms, figures.counters(), {}});
}

void collector_state::on_connected(uint32_t bot, int64_t latency_ns, int64_t t) {
  figures.on_connected(bot, latency_ns);
  if (phases.empty())
    return;
  auto& p = phases.back();
  auto& c = p.conns;
  ++c.established;
  c.latency.record(static_cast<uint64_t>(std::max<int64_t>(latency_ns, 0) / 1000));
  c.last = std::max(c.last, t);
  auto bin = std::min<std::size_t>(
      static_cast<std::size_t>(std::max<int64_t>(t - p.start, 0) / 100'000'000), max_bins - 1);
  if (c.per_100ms.size() <= bin)
    c.per_100ms.resize(bin + 1, 0);
  ++c.per_100ms[bin];
}

void collector_state::on_error(const std::string& code) {
  figures.on_error(code);
  if (!phases.empty())
    ++phases.back().conns.errors[code];
}

void collector_state::on_closed(uint32_t bot, uint16_t code, const std::string& reason, bool opened,
                                bool expected) {
  figures.on_closed(bot, code, reason, opened, expected);
  if (phases.empty())
    return;
  auto& c = phases.back().conns;
  if (opened)
    ++c.closes[std::to_string(code) + (expected ? "" : " unexpected")];
  else
    ++c.connect_errors[reason.substr(0, 80)];
}

void collector_state::on_refused(const std::string& code) {
  figures.on_refused(code);
  if (!phases.empty())
    ++phases.back().conns.refused[code];
}

void collector_state::sample() {
  auto now = figures.counters();
  auto t = ctx->now_ns();
  json entry{{"t_s", std::round(seconds_since_start(t) * 1000) / 1000},
             {"phase", phases.empty() ? "" : phases.back().name},
             {"live", now.live},
             {"started", now.started},
             {"sent", now.sent},
             {"received", now.received},
             {"delivered", now.delivered},
             {"errors", now.errors},
             {"outstanding", figures.outstanding()}};
  entry.update(figures.take_window());
  if (progress)
    print_progress(now, last_sample, entry["recv_p99_ms"].get<double>());
  timeline.push_back(std::move(entry));
  last_sample = now;
}

void collector_state::print_progress(const run_counters& now, const run_counters& last,
                                     double p99) {
  char line[256];
  std::snprintf(line, sizeof line,
                "[%5.0fs] %-14.14s live %llu/%zu  sent %llu (%llu/s)  recv %llu (%llu/s)  "
                "dlvd %llu  recv p99 %.1f ms  err %llu  open %llu",
                seconds_since_start(ctx->now_ns()),
                phases.empty() ? "" : phases.back().name.c_str(),
                static_cast<unsigned long long>(now.live), ctx->users.size(),
                static_cast<unsigned long long>(now.sent),
                static_cast<unsigned long long>(now.sent - last.sent),
                static_cast<unsigned long long>(now.received),
                static_cast<unsigned long long>(now.received - last.received),
                static_cast<unsigned long long>(now.delivered), p99,
                static_cast<unsigned long long>(now.errors),
                static_cast<unsigned long long>(figures.outstanding()));
  std::string text{line};
  auto width = text.size();
  if (width < progress_width)
    text.append(progress_width - width, ' ');
  progress_width = width;
  std::fputs(("\r" + text).c_str(), stdout);
  std::fflush(stdout);
}

json collector_state::connections_of(const phase_mark& p) {
  const auto& c = p.conns;
  auto last_s = c.last < 0 ? -1.0 : static_cast<double>(c.last - p.start) / 1e9;
  return {{"established", c.established},
          {"last_auth_s", last_s},
          {"per_100ms", c.per_100ms},
          {"latency_ms", c.latency.to_json(us_per_ms)},
          {"errors", c.errors},
          {"closes", c.closes},
          {"connect_errors", c.connect_errors},
          {"refused", c.refused}};
}

json collector_state::report() const {
  auto out = figures.report();
  auto now = ctx->now_ns();
  const phase_mark* drain = nullptr;
  const phase_mark* end = nullptr;
  json phase_list = json::array();
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    if (p.name == "drain")
      drain = &p;
    if (p.name == "end") {
      end = &p;
      break;
    }
    auto next_start = i + 1 < phases.size() ? phases[i + 1].start : now;
    auto next_counters = i + 1 < phases.size() ? phases[i + 1].at_start : figures.counters();
    auto seconds = static_cast<double>(next_start - p.start) / 1e9;
    auto sent = next_counters.sent - p.at_start.sent;
    auto received = next_counters.received - p.at_start.received;
    auto delivered = next_counters.delivered - p.at_start.delivered;
    phase_list.push_back({{"name", p.name},
                          {"action", p.action},
                          {"start_s", seconds_since_start(p.start)},
                          {"duration_s", seconds},
                          {"sent", sent},
                          {"received", received},
                          {"delivered_receipts", delivered},
                          {"sent_per_s", rate(sent, seconds)},
                          {"received_per_s", rate(received, seconds)},
                          {"start_unix_ms", p.start_unix_ms},
                          {"connections", connections_of(p)}});
  }
  // The measured part: from the first phase to the drain (or the end).
  auto first = phases.empty() ? now : phases.front().start;
  auto measured_end = drain ? drain->start : end ? end->start : now;
  auto measured_counters = drain ? drain->at_start : end ? end->at_start : figures.counters();
  auto measured_s = static_cast<double>(measured_end - first) / 1e9;
  run_counters at_first = phases.empty() ? run_counters{} : phases.front().at_start;
  auto drain_s = drain ? static_cast<double>((end ? end->start : now) - drain->start) / 1e9 : 0.0;
  uint64_t peak_sent = 0;
  uint64_t peak_received = 0;
  for (std::size_t i = 1; i < timeline.size(); ++i) {
    peak_sent = std::max(peak_sent, timeline[i]["sent"].get<uint64_t>() -
                                        timeline[i - 1]["sent"].get<uint64_t>());
    peak_received = std::max(peak_received, timeline[i]["received"].get<uint64_t>() -
                                                timeline[i - 1]["received"].get<uint64_t>());
  }
  out["duration_s"] = {{"measured", measured_s}, {"drain", drain_s}};
  out["throughput"] = {
      {"sent_per_s", rate(measured_counters.sent - at_first.sent, measured_s)},
      {"received_per_s", rate(measured_counters.received - at_first.received, measured_s)},
      {"delivered_receipts_per_s",
       rate(measured_counters.delivered - at_first.delivered, measured_s)},
      {"peak_sent_per_s", peak_sent},
      {"peak_received_per_s", peak_received}};
  out["phases"] = std::move(phase_list);
  out["timeline"] = timeline;
  return out;
}

caf::behavior collector_actor(caf::stateful_actor<collector_state>* self, const run_context* ctx,
                              bool show_progress) {
  self->state.init(self, ctx, show_progress);
  self->delayed_send(self, sample_period, atom::sample::value);
  auto& f = self->state.figures;
  return {
      [&f](atom::ev_send, uint64_t key, uint32_t to, bool media, int64_t t) {
        f.on_send(key, to, media, t);
      },
      [&f](atom::ev_sent, uint64_t key, const std::string& mid, int64_t t) {
        f.on_sent(key, mid, t);
      },
      [&f](atom::ev_fail, uint64_t key, const std::string& code) { f.on_send_failed(key, code); },
      [&f](atom::ev_recv, const received_event& e) {
        f.on_received(e.key, e.at, e.mid, e.t, e.session, e.after_ack);
      },
      [&f](atom::ev_rcpt, const receipt_event& e) {
        f.on_receipt(e.at, e.by, e.read, e.mids, e.t);
      },
      [&f](atom::ev_stale) { f.on_stale_message(); },
      [self](atom::ev_error, const std::string& code) { self->state.on_error(code); },
      [self](atom::ev_conn, uint32_t bot, int64_t latency, int64_t t) {
        self->state.on_connected(bot, latency, t);
      },
      [self](atom::ev_close, uint32_t bot, uint16_t code, const std::string& reason, bool opened,
             bool expected) { self->state.on_closed(bot, code, reason, opened, expected); },
      [self](atom::ev_refuse, const std::string& code) { self->state.on_refused(code); },
      [&f](atom::ev_count, const std::string& what, uint64_t n) { f.count(what, n); },
      [self](atom::phase, const std::string& name, const std::string& action) {
        self->state.begin_phase(name, action);
      },
      [self](atom::outstand) {
        return std::make_tuple(self->state.figures.outstanding(), self->state.figures.live());
      },
      [self](atom::report) {
        self->state.sample();
        return self->state.report().dump();
      },
      [self](atom::sample) {
        self->state.sample();
        self->delayed_send(self, sample_period, atom::sample::value);
      },
  };
}

} // namespace tidings::bots
