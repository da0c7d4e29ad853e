#include "tests/support/child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tidings::test {

void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

pid_t spawn_child(std::vector<std::string> args, int stdout_fd, int stderr_fd,
                  const std::string& exec_failed) {
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  auto parent = ::getpid();
  auto child = ::fork();
  if (child < 0)
    throw_errno("fork");
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
        (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0))
      ::_exit(127);
    ::execv(argv[0], argv.data());
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    ::_exit(127);
  }
  return child;
}

namespace {

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = std::min(dirs.find(':', start), dirs.size());
    auto candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return name;
}

} // namespace

child_result run_to_exit(std::vector<std::string> args, std::chrono::milliseconds deadline) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw_errno("pipe2");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw_errno("pipe2");
  }
  args.at(0) = find_in_path(args.at(0));
  auto what = args[0];
  pid_t pid = -1;
  try {
    pid =
        spawn_child(std::move(args), out[1], err[1], "run_to_exit: exec of " + what + " failed\n");
  } catch (...) {
    for (int fd : {out[0], out[1], err[0], err[1]})
      ::close(fd);
    throw;
  }
  ::close(out[1]);
  ::close(err[1]);
  child_result result;
  auto until = std::chrono::steady_clock::now() + deadline;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  bool killed = false;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  if (killed)
    result.status = -SIGKILL;
  return result;
}

} // namespace tidings::test
