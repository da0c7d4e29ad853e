#pragma once
// Starting a helper program (a node, HAProxy) as a child of a test.
//
// The child dies with the thread that started it (PR_SET_PDEATHSIG = SIGKILL: call it from a
// thread that outlives the child), starts with an empty signal mask and default dispositions
// for the signals tests send or ignore, and has its output redirected as asked.

#include <string>
#include <vector>

#include <sys/types.h>

namespace tidings::test {

/// Throws std::system_error for `errno`, naming `what`.
[[noreturn]] void throw_errno(const char* what);

/// Forks and execs `args` (`args[0]` is the program's path). The child's stdout goes to
/// `stdout_fd`, its stderr to `stderr_fd` (-1: the test's own). If exec fails the child writes
/// `exec_failed` to its stderr and exits with 127. Returns the child's pid; throws if fork fails.
pid_t spawn_child(std::vector<std::string> args, int stdout_fd, int stderr_fd,
                  const std::string& exec_failed);

} // namespace tidings::test
