#pragma once
// summary: the human-readable final table of a load-test report (the JSON of run_load_test).

#include <string>

#include <nlohmann/json.hpp>

namespace tidings::bots {

/// A few dozen lines: messages, throughput, receipts, latency percentiles, connections,
/// errors, phases, and a last line "RESULT: PASS" or "RESULT: FAIL: ..." with the reasons.
std::string render_summary(const nlohmann::json& report);

} // namespace tidings::bots
