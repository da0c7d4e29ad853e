#pragma once
// run_context: what every actor of one load-test run shares.
//
// Built before any actor starts and immutable while they run, except the two flags, which
// only ever go from false to true (so relaxed atomics are enough). Owned by run_load_test();
// outlives every actor of the run.

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "bots/scenario.hpp"
#include "bots/users.hpp"
#include "bots/xmpp.hpp"

namespace tidings::bots {

class network;
class timer_wheel;

struct run_context {
  const scenario* plan = nullptr;
  std::string run_id;
  std::vector<bot_user> users;                 ///< index = bot index
  std::vector<uint32_t> group_of;              ///< bot -> index into plan->groups
  std::vector<std::vector<uint32_t>> contacts; ///< bot -> the bots it sends to
  std::unordered_map<std::string, uint32_t> bot_of_user;
  network* net = nullptr;
  /// The bots' behaviour timers (nullptr: CAF's delayed_send).
  timer_wheel* timers = nullptr;
  caf::actor collector;
  int64_t (*now_ns)() = nullptr;
  /// The server speaks XMPP (xmpp_bot actors), not the Tidings protocol; nullptr for Tidings.
  const xmpp_options* xmpp = nullptr;
  bool media_supported = true;
  /// Set once the node answered `bad_request` to a `state` frame (presence not implemented):
  /// from then on no bot sends `state` (each answer would count towards close 4003).
  std::atomic<bool> presence_unsupported{false};

  const behaviour& behaviour_of(uint32_t bot) const { return plan->groups[group_of[bot]].does; }
  /// The bot logged in as `user`, or -1.
  int64_t bot_of(const std::string& user) const {
    auto it = bot_of_user.find(user);
    return it == bot_of_user.end() ? -1 : static_cast<int64_t>(it->second);
  }
};

/// Nanoseconds of the steady clock: the run clock of the real program.
int64_t steady_now_ns();

} // namespace tidings::bots
