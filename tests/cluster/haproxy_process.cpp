#include "tests/cluster/haproxy_process.hpp"

#include "tests/support/child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cluster/cluster_fixture.hpp"

namespace tidings::test {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto start_deadline = 30s;
constexpr int bind_attempts = 3; // free_port() can lose its port to another process
const std::string backend_name = "nodes";

// $TIDINGS_HAPROXY_BINARY, else `haproxy` on the PATH or in the sbin directories (Debian installs
// it in /usr/sbin, which a user's PATH may lack). Empty if none is executable.
std::string haproxy_binary() {
  if (const char* env = std::getenv("TIDINGS_HAPROXY_BINARY"); env != nullptr && *env != '\0')
    return env;
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/local/sbin:/sbin";
  std::istringstream in{dirs};
  for (std::string dir; std::getline(in, dir, ':');)
    if (!dir.empty() && ::access((dir + "/haproxy").c_str(), X_OK) == 0)
      return dir + "/haproxy";
  return {};
}

std::string ms(std::chrono::milliseconds t) {
  return std::to_string(t.count()) + "ms";
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string field; std::getline(in, field, sep);)
    out.push_back(field);
  return out;
}

} // namespace

haproxy_process::haproxy_process(std::vector<client::endpoint> backends, haproxy_timeouts timeouts)
    : backends_(std::move(backends)), timeouts_(timeouts) {
  // nop
}

haproxy_process::~haproxy_process() {
  kill_and_reap();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string haproxy_process::config_text() const {
  std::ostringstream cfg;
  cfg << "global\n"
      << "  log stderr format raw local0 notice\n"
      << "  stats socket " << (dir_ / "admin.sock").string() << " mode 600 level admin\n"
      << "  maxconn 2000\n"
      << "\n"
      << "defaults\n"
      << "  mode http\n"
      << "  log global\n"
      << "  option dontlognull\n"
      << "  timeout connect 2s\n"
      << "  timeout http-request 10s\n"
      << "  timeout client " << ms(timeouts_.client) << "\n"
      << "  timeout server " << ms(timeouts_.server) << "\n"
      << "  timeout tunnel " << ms(timeouts_.tunnel) << "\n"
      << "  timeout client-fin 5s\n"
      << "\n"
      << "frontend tidings\n"
      << "  bind 127.0.0.1:" << port_ << "\n"
      << "  default_backend " << backend_name << "\n"
      << "\n"
      << "backend " << backend_name << "\n"
      << "  balance leastconn\n"
      << "  option httpchk\n"
      << "  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host tidings\n"
      << "  http-check expect status 200\n"
      << "  default-server check inter " << ms(timeouts_.check_interval) << " fall 2 rise 2\n";
  for (std::size_t i = 0; i < backends_.size(); ++i)
    cfg << "  server n" << i + 1 << " " << client::host_header(backends_[i]) << "\n";
  return cfg.str();
}

void haproxy_process::start() {
  if (pid_ > 0)
    throw std::logic_error("haproxy_process::start: HAProxy is already running");
  auto binary = haproxy_binary();
  if (binary.empty())
    throw std::runtime_error("haproxy_process: no haproxy binary (install the Debian package "
                             "haproxy, e.g. with `make deps`, or set TIDINGS_HAPROXY_BINARY)");
  if (dir_.empty()) {
    auto pattern = (std::filesystem::temp_directory_path() / "tidings-haproxy-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw_errno("mkdtemp");
    dir_ = pattern;
  }
  auto cfg_path = (dir_ / "haproxy.cfg").string();
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    std::ofstream{cfg_path, std::ios::trunc} << config_text();
    int log_fd =
        ::open((dir_ / "haproxy.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0)
      throw_errno("open haproxy.log");
    pid_t child = -1;
    try {
      child = spawn_child({binary, "-f", cfg_path, "-db"}, log_fd, log_fd,
                          "haproxy_process: exec of haproxy failed\n");
    } catch (...) {
      ::close(log_fd);
      throw;
    }
    ::close(log_fd);
    pid_ = child;

    auto deadline = clock::now() + start_deadline;
    for (;;) {
      if (exited()) {
        if (attempt < bind_attempts && recent_output().find("cannot bind") != std::string::npos)
          break; // the port was taken meanwhile: try another one
        fail_start("exited before it was ready");
      }
      if (frontend_accepts()) {
        auto status = server_status();
        bool all_up = status.size() == backends_.size();
        for (auto& [name, s] : status)
          all_up = all_up && s == "UP";
        if (all_up)
          return;
      }
      if (clock::now() > deadline)
        fail_start("was not ready (frontend accepting, every server UP) within " +
                   std::to_string(start_deadline.count()) + " s");
      // Polling HAProxy's own state (its port, its stats), bounded by the deadline above.
      std::this_thread::sleep_for(20ms);
    }
  }
}

client::endpoint haproxy_process::ep() const {
  if (port_ == 0)
    throw std::logic_error("haproxy_process::ep: HAProxy was never started");
  return client::endpoint{"127.0.0.1", port_, false, {}};
}

std::map<std::string, std::string> haproxy_process::server_status() const {
  // "show stat" is CSV with a "# pxname,svname,…" header; a server's row counts as UP only
  // once a health check passed (check_status L7OK), not merely because HAProxy starts it UP.
  std::map<std::string, std::string> out;
  auto lines = split(admin("show stat"), '\n');
  if (lines.empty() || lines[0].rfind("# ", 0) != 0)
    return out;
  auto header = split(lines[0].substr(2), ',');
  auto column = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name)
        return i;
    throw std::runtime_error("haproxy_process: no column " + name + " in show stat");
  };
  auto px = column("pxname"), sv = column("svname"), st = column("status"),
       check = column("check_status");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto row = split(lines[i], ',');
    if (row.size() <= std::max({px, sv, st, check}) || row[px] != backend_name ||
        row[sv] == "BACKEND")
      continue;
    auto passed = row[check].find("L7OK") != std::string::npos;
    out[row[sv]] = row[st] == "UP" && !passed ? "UP (not checked yet)" : row[st];
  }
  return out;
}

void haproxy_process::wait_server_status(const std::string& name, const std::string& status,
                                         std::chrono::seconds deadline) const {
  auto until = clock::now() + deadline;
  for (;;) {
    auto now = server_status();
    if (now[name] == status)
      return;
    if (clock::now() > until)
      throw std::runtime_error("haproxy: server " + name + " is '" + now[name] + "', not '" +
                               status + "' after " + std::to_string(deadline.count()) + " s");
    // Polling HAProxy's stats, bounded by the deadline above.
    std::this_thread::sleep_for(20ms);
  }
}

std::string haproxy_process::recent_output() const {
  std::ifstream in{dir_ / "haproxy.log"};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void haproxy_process::fail_start(const std::string& why) {
  kill_and_reap();
  throw std::runtime_error("haproxy " + why + "; its configuration:\n" + config_text() +
                           "its output:\n" + recent_output());
}

bool haproxy_process::frontend_accepts() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool haproxy_process::exited() {
  if (pid_ <= 0)
    return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == 0)
    return false;
  pid_ = -1;
  return true;
}

void haproxy_process::kill_and_reap() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

// One command on HAProxy's admin socket; its whole answer, or "" if the socket does not answer.
std::string haproxy_process::admin(const std::string& command) const {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw_errno("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = (dir_ / "admin.sock").string();
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    throw std::runtime_error("haproxy_process: socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval limit{5, 0}; // a stuck HAProxy must not hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  std::string out;
  auto line = command + "\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) // HAProxy closes after one answer
      out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace tidings::test
