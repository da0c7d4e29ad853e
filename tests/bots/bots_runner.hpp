#pragma once
// Running tidings-bots as a child process from a test, and checking its report's histograms.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tidings::test {

struct bots_run {
  int status = -1; ///< exit status, or -signal
  std::string output;
  nlohmann::json report;
};

/// A tidings-bots child started by start_bots, not yet waited for.
struct bots_child {
  int pid = -1;
  std::filesystem::path dir;
};

/// Starts tidings-bots with `args` (plus --json and --no-progress), its stdout and stderr into
/// `dir`/output.txt.
bots_child start_bots(const std::filesystem::path& dir, std::vector<std::string> args);

/// Waits at most 240 s for the child to exit (then it is killed and the test fails) and reads
/// its output and report.
bots_run finish_bots(const bots_child& child);

/// start_bots, then finish_bots.
bots_run run_bots(const std::filesystem::path& dir, std::vector<std::string> args);

/// Checks a latency histogram of the report: non-empty, ordered percentiles, bucket counts
/// adding up.
void check_histogram(const nlohmann::json& h, const char* name);

} // namespace tidings::test
