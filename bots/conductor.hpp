#pragma once
// conductor actor: runs a scenario's phases, then the drain, then asks for the report.
//
// Owns: the phase cursor, which bots it wants online, and the pacing of commands (bots per
// second). It commands bots (online/offline/speak/silence/bounce/drain) and tells the
// collector where phase boundaries are. Started by a `run` request, which it answers with the
// report (JSON text) once the run has drained or the drain timed out.
// The drain: every bot stops sending and comes online; the conductor waits until the collector
// has no outstanding work (every send answered, every sent message received, every received
// message's delivered receipt back), `drain_timeout_s` passes, or the outstanding work has not
// changed for `drain_stall_s` (the node is stuck, waiting longer would not help). Bots
// acknowledge the drain command before the first check, so no send can begin after it.
// Never blocks. An `interrupt` skips to the drain (a second one ends the run at once); an
// `advance` ends a hold phase marked until_signal (kept for the next one if none runs).

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bots/context.hpp"

namespace tidings::bots {

struct conductor_options {
  double time_scale = 1.0; ///< multiplies every hold phase's duration
};

struct conductor_state {
  static inline const char* name = "conductor";

  caf::event_based_actor* self = nullptr;
  const run_context* ctx = nullptr;
  conductor_options opts;
  std::vector<caf::actor> bots;
  std::vector<bool> wanted_online;
  std::mt19937_64 rng;
  caf::typed_response_promise<std::string> done;

  std::size_t phase_index = 0;
  uint64_t epoch = 0; ///< tags step timers; a new phase makes older ones stale
  std::vector<uint32_t> targets;
  std::size_t issued = 0;
  std::size_t awaiting = 0; ///< connect: bots not yet online
  int64_t phase_start = 0;
  int64_t deadline = 0;
  bool draining = false;
  bool finished = false;
  bool interrupted = false;
  bool drain_timed_out = false;
  bool drain_stalled = false;
  uint64_t last_outstanding = UINT64_MAX; ///< drain checks: the last figure seen
  int64_t last_progress = 0;              ///< and when it last changed
  uint64_t not_online = 0;                ///< bots that missed a connect phase's deadline
  uint64_t advances = 0;                  ///< advances not yet used by an until_signal hold

  void init(caf::event_based_actor* s, const run_context* c, std::vector<caf::actor> all,
            conductor_options o);
  void start();
  void step(uint64_t e);
  void interrupt();
  /// Ends the current until_signal hold, or the next one as soon as it begins.
  void advance();

private:
  void begin(std::size_t index);
  void next_phase();
  void issue_due(const phase& p);
  void check_drained(uint64_t e);
  void start_drain(double timeout_s);
  void finish();
  std::vector<uint32_t> members(const std::string& group) const;
  void after_ms(double ms, uint64_t e);
};

caf::behavior conductor_actor(caf::stateful_actor<conductor_state>* self, const run_context* ctx,
                              std::vector<caf::actor> bots, conductor_options opts);

} // namespace tidings::bots
