// Every kept fuzz input, run through its target in the normal build: the seed corpus
// (fuzz/corpus/NAME/) and each input that once made a target fail (fuzz/regressions/NAME/,
// listed in docs/SECURITY.md). A failing input ends the test binary (require aborts), which
// ctest reports with the input's path printed just before.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {

/// The files of `dir`, sorted (none if it does not exist).
std::vector<fs::path> inputs_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file())
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t run_all(const char* kind) {
  std::size_t runs = 0;
  for (const auto& target : tidings::fuzz::all_targets) {
    for (const auto& path : inputs_in(fs::path{TIDINGS_FUZZ_DIR} / kind / target.name)) {
      std::ifstream in{path, std::ios::binary};
      std::string bytes{std::istreambuf_iterator<char>{in}, {}};
      std::fprintf(stderr, "fuzz input %s\n", path.c_str()); // named if the target aborts
      target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++runs;
    }
  }
  return runs;
}

} // namespace

TEST_CASE("every seed of the fuzz corpus runs through its target") {
  CHECK(run_all("corpus") > 0);
}

TEST_CASE("every input that once failed a fuzz target now passes it") {
  run_all("regressions");
}
