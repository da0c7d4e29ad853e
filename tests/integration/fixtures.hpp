#pragma once
// Shared set-up of the integration tests: a real node with test-friendly limits.

#include <string>
#include <vector>

#include "tests/support/node_process.hpp"
#include "tests/support/sessions.hpp"

namespace tidings::test {

/// Node arguments for tests: no rate limit in the way, cheap password hashing.
inline std::vector<std::string> test_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--limits.rate=1000000", "--limits.burst=1000000",
                                "--auth.argon2-ops=1", "--auth.argon2-mem-kib=8192"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// Sends `count` text messages from `ws` to `to`, with cids `prefix-N`, keeping at most
/// `pipeline` unanswered; returns the mids in order. Fails the test on any error reply.
std::vector<std::string> send_texts(client::ws_client& ws, const std::string& to,
                                    const std::string& prefix, int count, int pipeline = 100);

/// Receives `count` items of type `type` in seq order, acknowledging nothing.
std::vector<json> receive_items(client::ws_client& ws, const std::string& type, int count,
                                std::chrono::milliseconds timeout = 30s);

/// Pings and checks the pong: every frame the server sent before it has then been received.
void settle(client::ws_client& ws);

} // namespace tidings::test
