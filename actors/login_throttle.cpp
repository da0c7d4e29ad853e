#include "actors/login_throttle.hpp"

namespace tidings {

int64_t login_throttle::wait_ms(const std::string& address, int64_t now) {
  if (max_failures_ == 0)
    return 0;
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = failures_.find(address);
  if (it == failures_.end())
    return 0;
  auto& times = it->second;
  while (!times.empty() && now - times.front() >= window_ms_)
    times.pop_front();
  if (times.size() < max_failures_)
    return 0;
  return window_ms_ - (now - times.front());
}

void login_throttle::failed(const std::string& address, int64_t now) {
  if (max_failures_ == 0)
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  auto& times = failures_[address];
  times.push_back(now);
  while (times.size() > max_failures_)
    times.pop_front();
  if (++since_sweep_ >= sweep_every)
    sweep(now);
}

std::size_t login_throttle::addresses() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return failures_.size();
}

void login_throttle::sweep(int64_t now) {
  since_sweep_ = 0;
  for (auto it = failures_.begin(); it != failures_.end();) {
    if (it->second.empty() || now - it->second.back() >= window_ms_)
      it = failures_.erase(it);
    else
      ++it;
  }
}

} // namespace tidings
