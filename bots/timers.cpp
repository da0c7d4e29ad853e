#include "bots/timers.hpp"

#include <algorithm>
#include <cmath>

#include <pthread.h>

namespace tidings::bots {

timer_wheel::timer_wheel(std::chrono::microseconds tick, std::size_t slots)
    : epoch_(clock::now()), tick_(std::max(tick, std::chrono::microseconds(1))),
      slots_(std::max<std::size_t>(slots, 2)) {
  thread_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "bots.timers"); // as profilers show it
    run();
  }};
}

timer_wheel::~timer_wheel() {
  stop();
}

uint64_t timer_wheel::tick_of(clock::time_point t) const {
  return t <= epoch_ ? 0 : static_cast<uint64_t>((t - epoch_) / tick_);
}

void timer_wheel::schedule(double ms, caf::strong_actor_ptr receiver,
                           caf::mailbox_element_ptr content) {
  // The tick nearest the due time: as often early as late by up to half a tick.
  auto from_epoch = std::chrono::duration<double, std::micro>(clock::now() - epoch_).count() +
                    std::max(ms, 0.0) * 1000;
  auto nearest =
      static_cast<uint64_t>(std::llround(from_epoch / static_cast<double>(tick_.count())));
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopped_ || !receiver)
    return; // destroyed when the caller's arguments are (outside the lock's scope here)
  auto due = std::max(nearest, done_ + 1);
  slots_[due % slots_.size()].push_back({due, std::move(receiver), std::move(content)});
  if (count_++ == 0)
    cv_.notify_one();
}

std::size_t timer_wheel::pending() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return count_;
}

void timer_wheel::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_ && !thread_.joinable())
      return;
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
  std::vector<std::vector<entry>> dropped;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    dropped.swap(slots_);
    count_ = 0;
  }
}

void timer_wheel::run() {
  std::vector<entry> due;
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopped_) {
    if (count_ == 0) {
      cv_.wait(lock, [this] { return stopped_ || count_ > 0; });
      continue;
    }
    auto now = tick_of(clock::now());
    if (now > done_) {
      // Every slot from the last delivered tick to this one; one turn at most (after a long
      // pause every slot once, then sorted).
      auto span = std::min<uint64_t>(now - done_, slots_.size());
      for (auto k = done_ + 1; k <= done_ + span; ++k) {
        auto& slot = slots_[k % slots_.size()];
        auto keep = slot.begin();
        for (auto it = slot.begin(); it != slot.end(); ++it) {
          if (it->due <= now)
            due.push_back(std::move(*it));
          else if (keep++ != it)
            *(keep - 1) = std::move(*it);
        }
        slot.erase(keep, slot.end());
      }
      if (span == slots_.size())
        std::stable_sort(due.begin(), due.end(),
                         [](const entry& a, const entry& b) { return a.due < b.due; });
      count_ -= due.size();
      done_ = now;
      if (!due.empty()) {
        lock.unlock();
        for (auto& e : due)
          e.receiver->enqueue(std::move(e.content), nullptr);
        due.clear();
        lock.lock();
        continue; // delivering took time: look at the clock again
      }
    }
    cv_.wait_until(lock, epoch_ + tick_ * static_cast<int64_t>(done_ + 1),
                   [this] { return stopped_; });
  }
}

} // namespace tidings::bots
