#pragma once
// The fuzz targets: one function per input format a peer or an operator controls. Each takes
// arbitrary bytes, runs them through the same entry points the node uses, and checks what must
// hold of the result (`require`). libFuzzer binaries (fuzzer_main.cpp, `make fuzz`) call one of
// them; the regression test (regression_test.cpp, in the normal build) feeds them the seed
// corpus and every input that once failed (fuzz/corpus/NAME/, fuzz/regressions/NAME/).
// Never throw, never keep state between calls.

#include <cstddef>
#include <cstdint>

namespace tidings::fuzz {

/// A WebSocket frame, both encodings, before and after auth (net/frames.*, net/codec.*).
int frames(const uint8_t* data, std::size_t size);
/// Stamping a stored item and making a push frame of it (net/msgpack_map.*, push_frame).
int msgpack_map(const uint8_t* data, std::size_t size);
/// An HTTP request as the node reads and routes it: accounts, sessions, media (net/http_api.*,
/// media/http.*).
int http(const uint8_t* data, std::size_t size);
/// A Range and an If-None-Match header against a blob size (media/range.*).
int range(const uint8_t* data, std::size_t size);
/// A tidings-bots scenario file (bots/scenario.*), and the contacts it makes.
int scenario(const uint8_t* data, std::size_t size);
/// A tidings-node configuration file (CAF's INI format, then the node's own checks).
int config(const uint8_t* data, std::size_t size);

struct target {
  const char* name;
  int (*run)(const uint8_t*, std::size_t);
};

inline constexpr target all_targets[] = {
    {"frames", frames}, {"msgpack_map", msgpack_map}, {"http", http},
    {"range", range},   {"scenario", scenario},       {"config", config},
};

/// Ends the process (a finding) with `what` if `ok` is false.
void require(bool ok, const char* what);

} // namespace tidings::fuzz
