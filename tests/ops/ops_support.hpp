#pragma once
// What the operator-experience tests share: running the tools to their end, config files in a
// temporary directory, and the keys of a --dump-config.

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace tidings::test {

/// Runs tidings-node with `args` to its end (at most `deadline`, then SIGKILL).
inline child_result run_node(std::vector<std::string> args,
                             std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  args.insert(args.begin(), TIDINGS_NODE_BINARY);
  return run_to_exit(std::move(args), deadline);
}

/// Writes `text` to `dir/name` and returns the path.
inline std::string write_file(const temp_dir& dir, const std::string& name,
                              const std::string& text) {
  auto path = dir.path / name;
  std::ofstream{path} << text;
  return path.string();
}

/// The (section, key) pairs of a --dump-config output (or any config file without comments).
inline std::set<std::pair<std::string, std::string>> dumped_keys(const std::string& dump) {
  std::set<std::pair<std::string, std::string>> keys;
  std::istringstream in{dump};
  std::string line;
  std::string section = "global";
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';')
      continue;
    if (line[0] == '[')
      section = line.substr(1, line.find(']') - 1);
    else if (auto eq = line.find('='); eq != std::string::npos)
      keys.emplace(section, line.substr(0, eq));
  }
  return keys;
}

} // namespace tidings::test
