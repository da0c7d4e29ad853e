// The libFuzzer entry point of one target; TIDINGS_FUZZ_TARGET names it (fuzz/CMakeLists.txt).

#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return tidings::fuzz::TIDINGS_FUZZ_TARGET(data, size);
}
