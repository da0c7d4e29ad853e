#include "tests/support/node_process.hpp"

#include "tests/support/child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tidings::test {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto start_deadline = 30s;
constexpr std::string_view listening_marker = "listening on ";

std::string default_binary() {
  if (const char* env = std::getenv("TIDINGS_NODE_BINARY"); env != nullptr && *env != '\0')
    return env;
#ifdef TIDINGS_NODE_BINARY
  return TIDINGS_NODE_BINARY;
#else
  return {};
#endif
}

std::filesystem::path make_temp_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "tidings-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw_errno("mkdtemp");
  return pattern;
}

// The endpoint in a "... listening on HOST:PORT ..." line (also inside a JSON log line:
// `"msg":"listening on HOST:PORT"`), or nullopt.
std::optional<client::endpoint> parse_listening(const std::string& line) {
  auto pos = line.find(listening_marker);
  if (pos == std::string::npos)
    return std::nullopt;
  auto rest = line.substr(pos + listening_marker.size());
  rest = rest.substr(0, rest.find_first_of(" \t\r\""));
  try {
    auto ep = client::parse_url("http://" + rest);
    if (ep.host == "0.0.0.0")
      ep.host = "127.0.0.1";
    else if (ep.host == "::")
      ep.host = "::1";
    return ep;
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return -WTERMSIG(status);
  return -1;
}

// Splits complete lines off the front of `pending`, calling `on_line` for each.
template <class F> void split_lines(std::string& pending, F&& on_line) {
  std::size_t start = 0;
  for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
    auto end = nl > start && pending[nl - 1] == '\r' ? nl - 1 : nl;
    if (!on_line(pending.substr(start, end - start))) {
      start = nl + 1;
      break;
    }
    start = nl + 1;
  }
  pending.erase(0, start);
}

} // namespace

node_process::node_process(std::vector<std::string> extra_args, std::filesystem::path data_dir,
                           std::string binary)
    : binary_(binary.empty() ? default_binary() : std::move(binary)),
      extra_args_(std::move(extra_args)), data_dir_(std::move(data_dir)) {
  // nop
}

node_process::~node_process() {
  try {
    kill_hard();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_process: %s\n", e.what());
  }
  if (owns_data_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

void node_process::start() {
  if (running())
    throw std::logic_error("node_process::start: the node is already running");
  if (binary_.empty())
    throw std::runtime_error("node_process: no tidings-node binary: set TIDINGS_NODE_BINARY in "
                             "the environment or compile tidings_test_support with "
                             "-DTIDINGS_NODE_BINARY=\"PATH\"");
  if (::access(binary_.c_str(), X_OK) != 0)
    throw std::runtime_error("node_process: cannot execute " + binary_ + ": " +
                             std::strerror(errno));
  if (data_dir_.empty()) {
    data_dir_ = make_temp_dir();
    owns_data_dir_ = true;
  }
  std::vector<std::string> args{binary_, "--port=0", "--bind=127.0.0.1",
                                "--data-dir=" + data_dir_.string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw_errno("pipe2");
  pid_t child = -1;
  try {
    child = spawn_child(args, fds[1], -1, "node_process: exec of the tidings-node binary failed\n");
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[1]);
  pid_ = child;
  out_fd_ = fds[0];
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, child, 0)); // -1 on old kernels
  append_line("[node_process] started pid " + std::to_string(child) + ": " + [&] {
    std::string cmd;
    for (auto& arg : args)
      cmd += (cmd.empty() ? "" : " ") + arg;
    return cmd;
  }());

  auto deadline = clock::now() + start_deadline;
  std::string pending;
  std::optional<client::endpoint> found;
  char buf[4096];
  while (!found) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left <= 0ms)
      fail_start("did not report 'listening on HOST:PORT' within " +
                 std::to_string(start_deadline.count()) + " s");
    pollfd p{out_fd_, POLLIN, 0};
    auto ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR)
      throw_errno("poll");
    if (ready <= 0)
      continue;
    auto n = ::read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto status = wait_exit(5000ms);
      fail_start("exited (status " + std::to_string(status) +
                 ") before reporting 'listening on HOST:PORT'");
    }
    pending.append(buf, static_cast<std::size_t>(n));
    split_lines(pending, [&](std::string line) {
      found = parse_listening(line);
      append_line(std::move(line));
      return !found; // stop at the listening line; the rest goes to the drain thread
    });
  }
  ep_ = *found;
  started_once_ = true;

  const char* echo = std::getenv("TIDINGS_NODE_ECHO");
  bool echo_lines = echo != nullptr && *echo != '\0';
  drain_ = std::thread([this, fd = out_fd_, pending = std::move(pending), echo_lines]() mutable {
    char chunk[4096];
    auto on_line = [&](std::string line) {
      if (echo_lines)
        std::fprintf(stderr, "[tidings-node] %s\n", line.c_str());
      append_line(std::move(line));
      return true;
    };
    split_lines(pending, on_line);
    for (;;) {
      auto n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      pending.append(chunk, static_cast<std::size_t>(n));
      split_lines(pending, on_line);
    }
    if (!pending.empty())
      on_line(std::move(pending));
  });
}

int node_process::stop(std::chrono::seconds deadline) {
  if (!running())
    return last_status_;
  ::kill(pid_, SIGTERM);
  auto status = wait_exit(deadline);
  if (running()) {
    std::fprintf(stderr, "node_process: pid %d did not exit within %lld s of SIGTERM; killing\n",
                 pid_, static_cast<long long>(deadline.count()));
    ::kill(pid_, SIGKILL);
    reap_blocking();
    status = last_status_;
  }
  return status;
}

std::optional<int> node_process::wait_for_exit(std::chrono::milliseconds deadline) {
  if (!running())
    return last_status_;
  auto status = wait_exit(deadline);
  if (running())
    return std::nullopt;
  return status;
}

void node_process::kill_hard() {
  if (!running())
    return;
  ::kill(pid_, SIGKILL);
  reap_blocking();
}

void node_process::restart() {
  if (running())
    stop();
  start();
}

void node_process::set_extra_args(std::vector<std::string> extra_args) {
  extra_args_ = std::move(extra_args);
}

client::endpoint node_process::ep() const {
  if (!started_once_)
    throw std::logic_error("node_process::ep: the node was never started");
  return ep_;
}

std::string node_process::url() const {
  return client::to_url(ep());
}

std::vector<std::string> node_process::recent_output() const {
  std::lock_guard<std::mutex> guard{output_mutex_};
  return {output_.begin(), output_.end()};
}

std::string node_process::recent_output_text() const {
  std::string out;
  for (auto& line : recent_output())
    out += line + "\n";
  return out;
}

void node_process::append_line(std::string line) {
  std::lock_guard<std::mutex> guard{output_mutex_};
  output_.push_back(std::move(line));
  while (output_.size() > kept_lines)
    output_.pop_front();
}

// Waits up to `deadline` for the child to exit; reaps it and returns its status if it did.
int node_process::wait_exit(std::chrono::milliseconds deadline) {
  auto until = clock::now() + deadline;
  for (;;) {
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      finish_run(r == pid_ ? decode_status(status) : -1);
      return last_status_;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    if (left <= 0ms)
      return last_status_;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count())); // readable once the child exited
    } else {
      // Kernels without pidfd_open: bounded polling of waitpid.
      auto step = std::min(left, std::chrono::milliseconds{20});
      timespec ts{0, static_cast<long>(step.count()) * 1000000L};
      ::nanosleep(&ts, nullptr);
    }
  }
}

void node_process::reap_blocking() {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  finish_run(r == pid_ ? decode_status(status) : -1);
}

void node_process::finish_run(int status) {
  last_status_ = status;
  append_line("[node_process] pid " + std::to_string(pid_) + " ended with status " +
              std::to_string(status));
  pid_ = -1;
  if (drain_.joinable())
    drain_.join(); // the pipe reaches EOF now that the child is gone
  if (out_fd_ >= 0)
    ::close(out_fd_);
  if (pidfd_ >= 0)
    ::close(pidfd_);
  out_fd_ = -1;
  pidfd_ = -1;
}

void node_process::fail_start(const std::string& why) {
  if (running()) {
    ::kill(pid_, SIGKILL);
    reap_blocking();
  }
  throw std::runtime_error("tidings-node (" + binary_ + ") " + why + "; its output:\n" +
                           recent_output_text());
}

} // namespace tidings::test
