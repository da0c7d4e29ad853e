// tidings-bots: load tests of a Tidings node by scripted bot actors.
//
//   tidings-bots --url=http://HOST:PORT --scenario=FILE [--json=FILE] [--users-file=FILE]
//
// Options follow CAF's configuration (`--name=value`, or the same keys in the file given by
// `--config-file=FILE`). The scenario format and the output are described in docs/LOADTEST.md.
// While stdout is a terminal a progress line is rewritten every second; at the end a table
// is printed and, with --json, every figure and histogram is written to FILE.
// SIGINT/SIGTERM skip to the drain (a second one ends the run at once); the report is still
// printed.
//
// Exit status: 0 when the run passed, 1 when it lost, duplicated or misdelivered messages (or
// could not run), 2 on usage errors (bad options, unreadable or invalid scenario).

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <caf/all.hpp>

#include "bots/messages.hpp"
#include "bots/run.hpp"
#include "bots/scenario.hpp"
#include "bots/summary.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

struct bots_config : caf::actor_system_config {
  std::string url;
  std::string ca_file;
  std::string scenario;
  std::string json;
  std::string users_file;
  size_t io_threads = 2;
  double time_scale = 1.0;
  bool no_progress = false;

  bots_config() {
    // The load generator shares the cores with the node it measures: a shared queue whose idle
    // threads sleep, not work-stealing workers that poll (CAF's default).
    set("scheduler.policy", caf::atom("sharing"));
    opt_group{custom_options_, "global"}
        .add(url, "url", "the node, http://HOST:PORT or https://HOST:PORT (required)")
        .add(ca_file, "ca-file", "PEM CA certificate(s) to verify an https:// node with")
        .add(scenario, "scenario", "scenario file, JSON (required; see docs/LOADTEST.md)")
        .add(json, "json", "write the full report (every figure, the histograms) to this file")
        .add(users_file, "users-file",
             "reuse and extend the users in this file (USER PASSWORD [TOKEN] per line)")
        .add(io_threads, "io-threads", "threads running the bots' WebSocket connections")
        .add(time_scale, "time-scale", "multiply every hold phase's duration by this")
        .add(no_progress, "no-progress",
             "no progress line (by default one is rewritten every second on a terminal)");
  }
};

/// Waits for SIGINT/SIGTERM (blocked in every thread) and interrupts the run; ends once
/// `done` is set (checked every 200 ms).
void watch_signals(const sigset_t& signals, tidings::bots::run_control& control,
                   const std::atomic<bool>& done) {
  timespec slice{0, 200'000'000};
  while (!done) {
    siginfo_t info;
    if (sigtimedwait(&signals, &info, &slice) > 0) {
      std::fprintf(stderr, "\ntidings-bots: signal %d: draining, then reporting\n", info.si_signo);
      control.interrupt();
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bots_config cfg;
  tidings::bots::register_bot_types(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "tidings-bots: " << cfg.render(err) << "\n";
    return exit_usage;
  }
  if (cfg.cli_helptext_printed)
    return exit_ok;
  if (!cfg.remainder.empty()) {
    std::cerr << "tidings-bots: unexpected argument '" << cfg.remainder.front()
              << "' (see --help)\n";
    return exit_usage;
  }
  if (cfg.url.empty() || cfg.scenario.empty()) {
    std::cerr << "tidings-bots: --url=http://HOST:PORT and --scenario=FILE are required "
                 "(see --help)\n";
    return exit_usage;
  }
  if (cfg.time_scale <= 0) {
    std::cerr << "tidings-bots: --time-scale must be > 0\n";
    return exit_usage;
  }

  tidings::bots::run_options opts;
  opts.url = cfg.url;
  try {
    opts.node = tidings::client::parse_url(cfg.url);
    opts.node.ca_file = cfg.ca_file;
    opts.plan = tidings::bots::load_scenario(cfg.scenario);
  } catch (const std::exception& e) {
    std::cerr << "tidings-bots: " << e.what() << "\n";
    return exit_usage;
  }
  opts.users_file = cfg.users_file;
  opts.io_threads = cfg.io_threads;
  opts.time_scale = cfg.time_scale;
  opts.progress = !cfg.no_progress && ::isatty(STDOUT_FILENO) == 1;
  opts.log = &std::cerr;
  tidings::bots::run_control control;
  opts.control = &control;

  std::atomic<bool> done{false};
  std::thread watcher{[&] { watch_signals(stop_signals, control, done); }};
  int status = exit_failed;
  try {
    caf::actor_system sys{cfg};
    auto report = tidings::bots::run_load_test(sys, opts);
    std::cout << tidings::bots::render_summary(report) << std::flush;
    if (!cfg.json.empty()) {
      std::ofstream out{cfg.json, std::ios::trunc};
      out << report.dump(2) << "\n";
      if (!out.flush()) {
        std::cerr << "tidings-bots: cannot write " << cfg.json << "\n";
        report["ok"] = false;
      }
    }
    status = report.value("ok", false) ? exit_ok : exit_failed;
  } catch (const std::exception& e) {
    std::cerr << "tidings-bots: " << e.what() << "\n";
    status = exit_failed;
  }
  done = true;
  watcher.join();
  return status;
}
