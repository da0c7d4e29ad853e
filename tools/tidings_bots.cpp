// tidings-bots: load tests of a Tidings node by scripted bot actors.
//
//   tidings-bots --url=http://HOST:PORT --scenario=FILE [--json=FILE] [--users-file=FILE]
//   tidings-bots --protocol=xmpp --url=http://HOST:PORT --xmpp-domain=D --xmpp-path=/ws ...
//
// Options are `--name=value`, or the same keys in the file given by `--config-file=FILE`
// (config/tool_config.hpp: checked, with --help, --version and --dump-config). The scenario format
// and the output are described in docs/LOADTEST.md. While stdout is a terminal a progress line is
// rewritten every second; at the end a table is printed and, with --json, every figure and
// histogram is written to FILE. SIGINT/SIGTERM skip to the drain (a second one ends the run at
// once); the report is still printed. SIGUSR1 ends the current hold phase marked
// `until_signal` (several bots processes can start a phase together).
//
// Exit status: 0 when the run passed, 1 when it lost, duplicated or misdelivered messages (or
// could not run), 2 on usage errors (bad options, unreadable or invalid scenario).

#include <algorithm>
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
#include "config/tool_config.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr const char* usage =
    R"(usage: tidings-bots --url=http://HOST:PORT --scenario=FILE [--json=FILE] [--KEY=VALUE ...]

Runs the scenario's bots against the node and prints a report (docs/LOADTEST.md). Exit
status: 0 the run passed, 1 it lost, duplicated or misdelivered messages (or could not run),
2 bad options or an unreadable or invalid scenario.
)";

struct bots_config : tidings::config::tool_config {
  std::string url;
  std::string ca_file;
  std::string scenario;
  std::string json;
  std::string users_file;
  size_t io_threads = 2;
  std::string source;
  double time_scale = 1.0;
  bool no_progress = false;
  std::string protocol = "tidings";
  tidings::bots::xmpp_options xmpp;

  bots_config()
      : tool_config("tidings-bots", "load tests of a Tidings node by scripted bots", usage) {
    // The load generator shares the cores with the node it measures: a shared queue whose idle
    // threads sleep, not work-stealing workers that poll (CAF's default).
    set("scheduler.policy", caf::atom("sharing"));
    show_caf_option("scheduler.policy", "'sharing' (one queue; idle threads sleep) or "
                                        "'stealing' (CAF's default: idle threads poll)");
    allow_only("scheduler.policy", {"sharing", "stealing"});
    section("global", "load test")
        .add(url, "url", "the node, http://HOST:PORT or https://HOST:PORT (required)")
        .add(ca_file, "ca-file", "PEM CA certificate(s) to verify an https:// node with")
        .add(scenario, "scenario", "scenario file, JSON (required; see docs/LOADTEST.md)")
        .add(json, "json", "write the full report (every figure, the histograms) to this file")
        .add(users_file, "users-file",
             "reuse and extend the users in this file (USER PASSWORD [TOKEN] per line)")
        .add(io_threads, "io-threads", "threads running the bots' WebSocket connections")
        .add(source, "source",
             "local addresses of the bots' WebSocket connections, used in turn, e.g. "
             "127.0.0.2,127.0.0.3 (default: any)")
        .add(time_scale, "time-scale", "multiply every hold phase's duration by this")
        .add(no_progress, "no-progress",
             "no progress line (by default one is rewritten every second on a terminal)")
        .add(protocol, "protocol",
             "tidings (a Tidings node) or xmpp (an XMPP server over WebSocket, e.g. ejabberd)")
        .add(xmpp.domain, "xmpp-domain", "with --protocol=xmpp: the XMPP domain of the users")
        .add(xmpp.path, "xmpp-path", "with --protocol=xmpp: the WebSocket endpoint's path");
  }
};

/// Waits for SIGINT/SIGTERM (blocked in every thread) and interrupts the run, or for SIGUSR1
/// and advances it past an until_signal hold; ends once
/// `done` is set (checked every 200 ms).
void watch_signals(const sigset_t& signals, tidings::bots::run_control& control,
                   const std::atomic<bool>& done) {
  timespec slice{0, 200'000'000};
  while (!done) {
    siginfo_t info;
    auto signo = sigtimedwait(&signals, &info, &slice);
    if (signo == SIGUSR1) {
      control.advance();
    } else if (signo > 0) {
      std::fprintf(stderr, "\ntidings-bots: signal %d: draining, then reporting\n", signo);
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
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bots_config cfg;
  tidings::bots::register_bot_types(cfg);
  if (auto status = cfg.read(argc, argv, std::cout, std::cerr))
    return *status;
  if (cfg.url.empty() || cfg.scenario.empty()) {
    std::cerr << "tidings-bots: --url=http://HOST:PORT and --scenario=FILE are required "
                 "(see --help)\n";
    return exit_usage;
  }
  if (cfg.time_scale <= 0) {
    std::cerr << "tidings-bots: --time-scale must be > 0\n";
    return exit_usage;
  }

  if (cfg.protocol != "tidings" && cfg.protocol != "xmpp") {
    std::cerr << "tidings-bots: --protocol must be tidings or xmpp\n";
    return exit_usage;
  }

  tidings::bots::run_options opts;
  opts.url = cfg.url;
  if (cfg.protocol == "xmpp")
    opts.xmpp = cfg.xmpp;
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
  for (std::size_t at = 0; at < cfg.source.size();) {
    auto comma = std::min(cfg.source.find(',', at), cfg.source.size());
    if (comma > at)
      opts.sources.push_back(cfg.source.substr(at, comma - at));
    at = comma + 1;
  }
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
