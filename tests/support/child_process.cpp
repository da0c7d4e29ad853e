#include "tests/support/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <system_error>

#include <sys/prctl.h>
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

} // namespace tidings::test
