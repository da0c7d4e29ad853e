#pragma once
// collector actor: the one owner of a run's figures.
//
// Owns: an `accounting` (every message, receipt, connection and error), the phase boundaries
// and a per-second timeline. Bots report to it with plain sends; the conductor tells it when
// phases begin and asks it how much work is still outstanding. Once a second it samples the
// counters and the latencies of that second and, when `progress` is set (stdout is a
// terminal), rewrites one progress line.
// Never blocks; handles every message in O(1) except `report` (one pass over all messages).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bots/accounting.hpp"
#include "bots/context.hpp"

namespace tidings::bots {

struct collector_state {
  static inline const char* name = "collector";

  /// Sessions authenticated, errors and closes while one phase ran (a reconnect storm's
  /// figures: how fast every bot was back, and what went wrong on the way).
  struct phase_connections {
    uint64_t established = 0;
    latency_histogram latency;       ///< connect + auth, microseconds
    std::vector<uint64_t> per_100ms; ///< authentications per 100 ms since the phase began
    int64_t last = -1;               ///< run clock of the last authentication (-1: none)
    std::map<std::string, uint64_t> errors, closes, connect_errors;
    std::map<std::string, uint64_t> refused; ///< connections refused explicitly, by code
  };

  struct phase_mark {
    std::string name;
    std::string action;
    int64_t start = 0;
    int64_t start_unix_ms = 0; ///< the wall clock, to line up several bots processes
    run_counters at_start;
    phase_connections conns;
  };

  caf::event_based_actor* self = nullptr;
  const run_context* ctx = nullptr;
  bool progress = false;
  accounting figures{0};
  std::vector<phase_mark> phases;
  nlohmann::json timeline = nlohmann::json::array();
  int64_t started = 0;
  run_counters last_sample;
  std::size_t progress_width = 0;

  void init(caf::event_based_actor* s, const run_context* c, bool show_progress);
  /// A new phase starts now (the previous one ends). The phase named "drain" ends the
  /// measured part of the run; "end" ends the run.
  void begin_phase(const std::string& phase_name, const std::string& action);
  void sample();
  /// A bot's session was authenticated at `t` (run clock), `latency_ns` after connecting.
  void on_connected(uint32_t bot, int64_t latency_ns, int64_t t);
  void on_error(const std::string& code);
  void on_closed(uint32_t bot, uint16_t code, const std::string& reason, bool opened,
                 bool expected);
  /// A connection was refused explicitly (`overloaded`, with a retry_ms): not a failure.
  void on_refused(const std::string& code);
  /// The full report (without the run's identity, which the caller adds).
  nlohmann::json report() const;

private:
  /// `p99`: send -> receive, messages received in the last second (ms).
  void print_progress(const run_counters& now, const run_counters& last, double p99);
  double seconds_since_start(int64_t t) const;
  static nlohmann::json connections_of(const phase_mark& p);
};

caf::behavior collector_actor(caf::stateful_actor<collector_state>* self, const run_context* ctx,
                              bool show_progress);

} // namespace tidings::bots
