#pragma once
// What this build is: the project's version and the git commit it was built from, baked in
// by the build (cmake/commit.cmake) and printed by every tool's --version.

#include <string>
#include <string_view>

namespace tidings {

/// The project version (CMakeLists.txt), e.g. "0.1.0".
const char* version();

/// The commit the build was made from, 12 hex digits ("…-dirty" with uncommitted changes),
/// or what $TIDINGS_COMMIT said at build time outside a git checkout, else "unknown".
const char* commit();

/// "TOOL 0.1.0 (commit 5f4c125a1b2c)": the first line of --version and --help.
std::string version_line(std::string_view tool);

} // namespace tidings
