#pragma once
// Starting a helper program (a node, HAProxy) as a child of a test.
//
// The child dies with the thread that started it (PR_SET_PDEATHSIG = SIGKILL: call it from a
// thread that outlives the child), starts with an empty signal mask and default dispositions
// for the signals tests send or ignore, and has its output redirected as asked.

#include <chrono>
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

/// How a program run to its end ended, and what it printed.
struct child_result {
  int status = -1; ///< its exit status, or minus the signal that ended it (-9 at the deadline)
  std::string out; ///< its stdout
  std::string err; ///< its stderr
  std::string all() const { return out + err; }
};

/// Runs `args` (`args[0]`: a path, or a name looked up in $PATH) to its end, collecting its
/// stdout and stderr; SIGKILLs it once `deadline` has passed.
child_result run_to_exit(std::vector<std::string> args,
                         std::chrono::milliseconds deadline = std::chrono::seconds(30));

} // namespace tidings::test
