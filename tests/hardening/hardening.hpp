#pragma once
// What the hardening tests share: latency summaries and the node's memory.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tidings::test {

/// Percentiles of a list of latencies in milliseconds.
struct latency_summary {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t count = 0;
  std::string describe() const {
    char buf[128];
    std::snprintf(buf, sizeof buf, "n=%zu p50=%.1f ms p99=%.1f ms max=%.1f ms", count, p50, p99,
                  max);
    return buf;
  }
};

inline latency_summary summarize(std::vector<double> ms) {
  latency_summary s;
  if (ms.empty())
    return s;
  std::sort(ms.begin(), ms.end());
  s.count = ms.size();
  s.p50 = ms[ms.size() / 2];
  s.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  s.max = ms.back();
  return s;
}

/// The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status); 0 if unknown.
inline long rss_kib(int pid) {
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream in{line.substr(6)};
      long kib = 0;
      in >> kib;
      return kib;
    }
  return 0;
}

} // namespace tidings::test

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace tidings::test {

/// A raw TCP connection for what no well-behaved client does (trickled headers, half requests):
/// blocking writes, reads bounded by poll timeouts. Closed by its destructor.
class raw_connection {
public:
  /// Connects to `host:port`, from the local address `from` if given (any 127.x.y.z works on
  /// Linux loopback, so tests can be several "source addresses").
  raw_connection(const std::string& host, uint16_t port, const std::string& from = {}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      throw std::runtime_error("socket failed");
    if (!from.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
        throw std::runtime_error("bind to " + from + " failed");
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &remote.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0)
      throw std::runtime_error("connect failed");
  }
  ~raw_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Writes all of `bytes`; false if the connection is gone.
  bool write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads what arrives within `timeout` (until the peer closes or the time is up); sets
  /// closed() when the peer has closed or reset the connection.
  std::string read_for(std::chrono::milliseconds timeout) {
    std::string out;
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    received_ += out;
    return out;
  }

  bool closed() const { return closed_; }
  /// Everything read_for() has read so far.
  const std::string& received() const { return received_; }

private:
  int fd_ = -1;
  std::atomic<bool> closed_{false}; ///< written by the reading thread, read by any
  std::string received_;
};

} // namespace tidings::test
