#include "tests/bots/bots_runner.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tidings::test {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr auto bots_deadline = std::chrono::seconds(240);

} // namespace

bots_child start_bots(const fs::path& dir, std::vector<std::string> args) {
  auto output = (dir / "output.txt").string();
  auto report = (dir / "report.json").string();
  args.insert(args.begin(), TIDINGS_BOTS_BINARY);
  args.push_back("--json=" + report);
  args.push_back("--no-progress");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  auto rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0] << ": " << std::strerror(rc));
  return {pid, dir};
}

bots_run finish_bots(const bots_child& child) {
  auto output = (child.dir / "output.txt").string();
  auto report = (child.dir / "report.json").string();
  pid_t pid = child.pid;
  // Wait for the exit with a deadline: the pidfd becomes readable when the child ends.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  REQUIRE(pidfd >= 0);
  pollfd p{pidfd, POLLIN, 0};
  auto ready = ::poll(&p, 1, static_cast<int>(bots_deadline.count() * 1000));
  ::close(pidfd);
  if (ready <= 0)
    ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  bots_run out;
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  std::ifstream text{output};
  std::stringstream buffer;
  buffer << text.rdbuf();
  out.output = buffer.str();
  REQUIRE_MESSAGE(ready > 0, "tidings-bots did not finish within the deadline:\n" << out.output);
  if (std::ifstream in{report}; in)
    out.report = json::parse(in, nullptr, false);
  return out;
}

bots_run run_bots(const fs::path& dir, std::vector<std::string> args) {
  return finish_bots(start_bots(dir, std::move(args)));
}

void check_histogram(const json& h, const char* name) {
  CAPTURE(name);
  CHECK(h["count"].get<uint64_t>() > 0);
  auto p50 = h["p50"].get<double>();
  auto p99 = h["p99"].get<double>();
  auto max = h["max"].get<double>();
  CHECK(h["min"].get<double>() > 0);
  CHECK(p50 > 0);
  CHECK(p50 <= p99);
  CHECK(p99 <= max);
  uint64_t total = 0;
  for (const auto& b : h["buckets"])
    total += b[2].get<uint64_t>();
  CHECK(total == h["count"].get<uint64_t>());
}

} // namespace tidings::test
