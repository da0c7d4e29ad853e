#include <cstdio>
#include <cstdlib>

#include "fuzz/targets.hpp"

namespace tidings::fuzz {

void require(bool ok, const char* what) {
  if (ok)
    return;
  std::fprintf(stderr, "fuzz: property violated: %s\n", what);
  std::abort();
}

} // namespace tidings::fuzz
