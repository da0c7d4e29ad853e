#pragma once
// A real HAProxy child process in front of a test cluster: the load balancer clients connect to.
//
// start() writes haproxy.cfg into a fresh temporary directory (one frontend on a loopback port
// reserved with free_port(), one backend with every node's HTTP endpoint, `mode http`, WebSocket
// upgrades passed through as tunnels, `balance leastconn`, health checks with GET /healthz),
// runs `haproxy -f haproxy.cfg -db` with PR_SET_PDEATHSIG = SIGKILL, and returns once the
// frontend accepts connections and HAProxy's own stats (its admin socket in the same directory)
// show every server UP after a passed health check — bounded by a deadline, never by a sleep.
// HAProxy's stdout and stderr go to haproxy.log in that directory (recent_output()).
//
// The destructor SIGKILLs and reaps HAProxy and removes the directory. Like node_process: call
// start() from a thread that outlives HAProxy (PR_SET_PDEATHSIG is tied to the forking thread);
// not thread-safe. The binary is $TIDINGS_HAPROXY_BINARY, else `haproxy` on the PATH.

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "client/endpoint.hpp"

namespace tidings::test {

using namespace std::chrono_literals;

/// The timeouts written into the configuration (HAProxy's `timeout …` lines).
struct haproxy_timeouts {
  std::chrono::milliseconds client = 30s;           ///< an idle client before the upgrade
  std::chrono::milliseconds server = 30s;           ///< an idle server before the upgrade
  std::chrono::milliseconds tunnel = 3600s;         ///< an idle WebSocket, either side (after 101)
  std::chrono::milliseconds check_interval = 500ms; ///< between two health checks of a server
};

class haproxy_process {
public:
  /// Prepares (does not start) HAProxy balancing over `backends`, named n1, n2, … in order.
  explicit haproxy_process(std::vector<client::endpoint> backends, haproxy_timeouts timeouts = {});

  /// Kills HAProxy if it runs (SIGKILL), reaps it and removes the directory.
  ~haproxy_process();

  haproxy_process(const haproxy_process&) = delete;
  haproxy_process& operator=(const haproxy_process&) = delete;

  /// Starts HAProxy and returns once its frontend accepts and every server is UP. Throws
  /// std::runtime_error, with HAProxy's output, if it exits or is not ready within 30 s.
  void start();

  /// The frontend: where clients connect. Throws std::logic_error before start().
  client::endpoint ep() const;

  /// The configuration start() wrote (for failure messages and docs).
  std::string config_text() const;

  /// Each server's status as HAProxy's stats report it ("UP", "DOWN", "UP 1/2", …), by name.
  std::map<std::string, std::string> server_status() const;

  /// Waits (bounded) until server `name` has `status`; throws on the deadline.
  void wait_server_status(const std::string& name, const std::string& status,
                          std::chrono::seconds deadline = 20s) const;

  /// HAProxy's stdout and stderr so far.
  std::string recent_output() const;

private:
  [[noreturn]] void fail_start(const std::string& why);
  bool frontend_accepts() const;
  bool exited();
  void kill_and_reap();
  std::string admin(const std::string& command) const;

  std::vector<client::endpoint> backends_;
  haproxy_timeouts timeouts_;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  int pid_ = -1;
};

} // namespace tidings::test
