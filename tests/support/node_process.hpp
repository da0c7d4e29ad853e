#pragma once
// A real tidings-node child process for integration tests.
//
// start() forks and execs the node with `--port=0 --bind=127.0.0.1 --data-dir=DIR` followed by
// the extra arguments, and waits at most 30 s for its "listening on HOST:PORT" line on stdout.
// From then on a background thread drains stdout, so the child never blocks on a full pipe, and
// keeps the last lines for diagnostics (recent_output()). The child's stderr is the test's.
//
// The data directory outlives stop(), kill_hard() and restart(), so a test can crash a node and
// start it again on the same data. If node_process created the directory (a fresh mkdtemp
// directory under std::filesystem::temp_directory_path()), the destructor removes it.
//
// The node binary is, in this order: the constructor's `binary` argument; the environment
// variable TIDINGS_NODE_BINARY; the path this library was compiled with as the definition
// TIDINGS_NODE_BINARY (set by tests/CMakeLists.txt). start() throws if none is set.
//
// The child is started with PR_SET_PDEATHSIG = SIGKILL, so nodes die with a crashed test
// process. Linux ties that to the thread that forked: call start() from a thread that outlives
// the node (the test's own thread). Not thread-safe. stop() is bounded by its deadline;
// kill_hard() and the destructor only wait for a SIGKILLed child to be reaped.

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/endpoint.hpp"

namespace tidings::test {

using namespace std::chrono_literals;

class node_process {
public:
  /// How many lines of stdout recent_output() keeps.
  static constexpr std::size_t kept_lines = 200;

  /// Prepares (does not start) a node. An empty `data_dir` means a fresh temporary directory
  /// that this object owns and removes; an empty `binary` means the default (see above).
  explicit node_process(std::vector<std::string> extra_args = {},
                        std::filesystem::path data_dir = {}, std::string binary = {});

  /// Kills the node if it still runs (SIGKILL) and removes an owned data directory.
  ~node_process();

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Starts the node and returns once it listens. Throws std::runtime_error, with the node's
  /// output so far, if it exits first or does not report within 30 s (it is then killed).
  void start();

  /// Sends SIGTERM and waits up to `deadline` for the exit, then SIGKILLs. Returns the exit
  /// status, or minus the signal number if a signal ended it (-9 after the deadline). Returns
  /// the previous result if the node is not running.
  int stop(std::chrono::seconds deadline = 30s);

  /// Waits up to `deadline` for the node to exit on its own (after a signal the test sent to
  /// pid(), say) and returns its status as stop() does; nothing if it still runs.
  std::optional<int> wait_for_exit(std::chrono::milliseconds deadline);

  /// SIGKILL and reap, like a crash or a power cut. No-op if not running.
  void kill_hard();

  /// stop() if running, then start() again on the same data directory (on a new port).
  void restart();

  /// Replaces the extra arguments used by the next start() or restart().
  void set_extra_args(std::vector<std::string> extra_args);

  /// True between a successful start() and stop() / kill_hard().
  bool running() const { return pid_ > 0; }

  /// The child's pid, or -1 when not running.
  int pid() const { return pid_; }

  /// Where the node listens (as of the last start()). Throws std::logic_error before one.
  client::endpoint ep() const;

  /// "http://HOST:PORT" of ep().
  std::string url() const;

  /// The data directory passed as --data-dir.
  const std::filesystem::path& data_dir() const { return data_dir_; }

  /// The last lines the node wrote to stdout (across restarts), oldest first.
  std::vector<std::string> recent_output() const;

  /// recent_output() as one newline-separated string, for failure messages.
  std::string recent_output_text() const;

private:
  void append_line(std::string line);
  int wait_exit(std::chrono::milliseconds deadline);
  void reap_blocking();
  void finish_run(int status);
  [[noreturn]] void fail_start(const std::string& why);

  std::string binary_;
  std::vector<std::string> extra_args_;
  std::filesystem::path data_dir_;
  bool owns_data_dir_ = false;
  int pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  int last_status_ = 0;
  bool started_once_ = false;
  client::endpoint ep_;
  std::thread drain_;
  mutable std::mutex output_mutex_;
  std::deque<std::string> output_;
};

} // namespace tidings::test
