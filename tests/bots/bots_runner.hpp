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

/// Runs tidings-bots with `args` (plus --json and --no-progress), its stdout and stderr into
/// `dir`/output.txt, waiting at most 240 s for it to exit (then it is killed and the test
/// fails).
bots_run run_bots(const std::filesystem::path& dir, std::vector<std::string> args);

/// Checks a latency histogram of the report: non-empty, ordered percentiles, bucket counts
/// adding up.
void check_histogram(const nlohmann::json& h, const char* name);

} // namespace tidings::test
