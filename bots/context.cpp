#include "bots/context.hpp"

#include <chrono>

namespace tidings::bots {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace tidings::bots
