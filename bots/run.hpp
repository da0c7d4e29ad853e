#pragma once
// run_load_test: one whole load test, from preparing users to the final report.
//
// Steps: prepare the users (blocking, on threads of its own), resolve the node and start the
// I/O threads, spawn the collector, one bot actor per user and the conductor, wait for the
// conductor's report, then stop every actor and the I/O threads. The actor system must be
// used by this run alone (the run waits for all of its actors to finish).
// Throws std::runtime_error if the users cannot be prepared or the node cannot be resolved.

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "bots/scenario.hpp"
#include "bots/xmpp.hpp"
#include "client/endpoint.hpp"

namespace tidings::bots {

/// Lets another thread (a signal handler's) stop a run early: the run skips to its drain.
class run_control {
public:
  /// Asks the run to stop early. Thread-safe; may be called before the run starts.
  void interrupt();
  bool interrupted() const { return interrupted_; }
  /// Ends the run's current `until_signal` hold phase (or its next one). Thread-safe; may be
  /// called before the run starts.
  void advance();

  /// Used by run_load_test: the actor to tell (or nullptr once the run is over).
  void attach(caf::actor conductor);

private:
  std::mutex mtx_;
  caf::actor conductor_;
  std::atomic<bool> interrupted_{false};
  uint64_t advances_ = 0; ///< asked for before the conductor was attached
};

struct run_options {
  std::string url; ///< as given on the command line, for the report
  client::endpoint node;
  scenario plan;
  std::string users_file;
  std::size_t io_threads = 2;
  /// Local addresses the bots' WebSocket connections are bound to, in turn (empty: any).
  std::vector<std::string> sources;
  double time_scale = 1.0;
  /// Rewrite a progress line every second (stdout is a terminal).
  bool progress = false;
  /// Where preparation messages go (nullptr: nowhere).
  std::ostream* log = nullptr;
  run_control* control = nullptr;
  /// Set: the server speaks XMPP over WebSocket (ejabberd), the bots are xmpp_bot actors and
  /// users are registered in band (xmpp_bot.hpp); unset: a Tidings node.
  std::optional<xmpp_options> xmpp;
};

/// Runs the scenario against the node and returns the report (see docs/LOADTEST.md); its
/// "ok" is false and "failures" lists why if messages were lost, duplicated or misdelivered.
nlohmann::json run_load_test(caf::actor_system& sys, const run_options& opts);

} // namespace tidings::bots
