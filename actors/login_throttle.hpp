#pragma once
// login_throttle: failed logins per source address, for the HTTP front (the gateway).
//
// Owns: the times of the failed logins (401) of each address within the last window. Past
// `max_failures` in the window, logins from that address are refused (429 `rate_limited`)
// before any password is hashed, until the oldest failure leaves the window. The per-user limit
// lives in the accounts worker of the user's home; this one is per node (a client spreading its
// attempts over the nodes of a cluster gets the limit once per node).
// Memory: at most `max_failures` times per address; addresses whose failures have all left the
// window are dropped in a sweep every `sweep_every` recorded failures, so a flood from many
// addresses holds at most the addresses of one window.
// Thread-safe (one mutex): called from the HTTP threads. Time is given by the caller.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tidings {

class login_throttle {
public:
  /// `max_failures` 0 turns the throttle off.
  explicit login_throttle(std::size_t max_failures, int64_t window_ms = 60'000)
      : max_failures_(max_failures), window_ms_(window_ms) {}

  /// Milliseconds until `address` may try to log in again; 0: now.
  int64_t wait_ms(const std::string& address, int64_t now);
  /// A login from `address` failed (wrong user or password).
  void failed(const std::string& address, int64_t now);
  /// Addresses with failures kept (for tests).
  std::size_t addresses() const;

  static constexpr std::size_t sweep_every = 1024;

private:
  void sweep(int64_t now);

  std::size_t max_failures_;
  int64_t window_ms_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::deque<int64_t>> failures_;
  std::size_t since_sweep_ = 0;
};

} // namespace tidings
