#include "net/detail/admission.hpp"

#include <algorithm>

namespace tidings::net::detail {

namespace {

/// A rate sampled over longer than this is stale (nobody was refused for a while): unknown.
constexpr auto stale_sample = std::chrono::seconds(3);

} // namespace

admission::admission(std::size_t limit, std::atomic<int64_t>* gauge)
    : limit_(limit), pending_(gauge != nullptr ? *gauge : own_) {}

bool admission::enter() {
  auto before = pending_.fetch_add(1, std::memory_order_relaxed);
  if (limit_ == 0 || before < static_cast<int64_t>(limit_))
    return true;
  pending_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void admission::leave(bool welcomed) {
  pending_.fetch_sub(1, std::memory_order_relaxed);
  if (welcomed)
    welcomed_.fetch_add(1, std::memory_order_relaxed);
}

int64_t admission::retry_ms(clock::time_point now) {
  using std::chrono::duration;
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  std::lock_guard<std::mutex> guard{mtx_};
  auto since = now - sampled_at_;
  if (since >= std::chrono::seconds(1)) {
    auto welcomed = welcomed_.load(std::memory_order_relaxed);
    rate_ = since <= stale_sample ? static_cast<double>(welcomed - sampled_welcomed_) /
                                        duration<double>(since).count()
                                  : 0.0;
    sampled_at_ = now;
    sampled_welcomed_ = welcomed;
  }
  auto rate = std::max(rate_, assumed_rate);
  horizon_ = std::clamp(horizon_, now + min_retry, now + max_retry);
  auto place = horizon_ - now;
  horizon_ += duration_cast<clock::duration>(duration<double>(1.0 / rate));
  auto jitter = std::uniform_real_distribution<double>{0.9, 1.1}(rng_);
  auto ms = static_cast<double>(duration_cast<milliseconds>(place).count()) * jitter;
  return std::clamp(static_cast<int64_t>(ms), static_cast<int64_t>(min_retry.count()),
                    static_cast<int64_t>(max_retry.count()));
}

} // namespace tidings::net::detail
