#include "bots/timers.hpp"

#include <algorithm>
#include <cmath>

#include <pthread.h>

namespace tidings::bots {

timer_wheel::timer_wheel(std::chrono::microseconds tick, std::size_t slots)
    : epoch_(clock::now()), tick_(std::max(tick, std::chrono::microseconds(1))),
      slots_((std::max<std::size_t>(slots, 64) + 63) / 64 * 64), occupied_(slots_.size() / 64) {
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
  auto index = static_cast<std::size_t>(due % slots_.size());
  slots_[index].push_back({due, std::move(receiver), std::move(content)});
  occupied_[index / 64] |= uint64_t{1} << (index % 64);
  ++count_;
  if (due < wake_at_) { // earlier than the thread means to wake up (or it sleeps for good)
    wake_at_ = due;
    cv_.notify_one();
  }
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
    for (auto& slot : slots_) {
      dropped.push_back(std::move(slot));
      slot.clear();
    }
    std::fill(occupied_.begin(), occupied_.end(), 0);
    count_ = 0;
  }
}

uint64_t timer_wheel::next_busy_tick() const {
  const auto n = slots_.size();
  const auto words = occupied_.size();
  const auto start = static_cast<std::size_t>((done_ + 1) % n);
  // The word of `start` from its bit on, the other words, then that word below its bit.
  for (std::size_t k = 0; k <= words; ++k) {
    auto w = (start / 64 + k) % words;
    auto bits = occupied_[w];
    if (k == 0)
      bits &= ~uint64_t{0} << (start % 64);
    else if (k == words)
      bits &= (uint64_t{1} << (start % 64)) - 1;
    if (bits != 0) {
      auto slot = w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
      return done_ + 1 + (slot + n - start) % n;
    }
  }
  return never;
}

void timer_wheel::run() {
  std::vector<entry> due;
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopped_) {
    auto now = tick_of(clock::now());
    if (count_ > 0 && now > done_) {
      // Every slot from the last delivered tick to this one; one turn at most (after a long
      // sleep every slot once, then sorted).
      auto span = std::min<uint64_t>(now - done_, slots_.size());
      for (auto k = done_ + 1; k <= done_ + span; ++k) {
        auto index = static_cast<std::size_t>(k % slots_.size());
        auto& slot = slots_[index];
        if (slot.empty())
          continue;
        auto keep = slot.begin();
        for (auto it = slot.begin(); it != slot.end(); ++it) {
          if (it->due <= now)
            due.push_back(std::move(*it));
          else if (keep++ != it)
            *(keep - 1) = std::move(*it);
        }
        slot.erase(keep, slot.end());
        if (slot.empty())
          occupied_[index / 64] &= ~(uint64_t{1} << (index % 64));
      }
      if (span == slots_.size())
        std::stable_sort(due.begin(), due.end(),
                         [](const entry& a, const entry& b) { return a.due < b.due; });
      count_ -= due.size();
    }
    done_ = std::max(done_, now);
    if (!due.empty()) {
      lock.unlock();
      for (auto& e : due)
        e.receiver->enqueue(std::move(e.content), nullptr);
      due.clear();
      lock.lock();
      continue; // delivering took time: look at the clock again
    }
    // Sleep until the first tick with a timer in its slot (perhaps of a later turn: then it
    // wakes once for nothing), or until schedule() sets an earlier one.
    wake_at_ = count_ == 0 ? never : next_busy_tick();
    if (wake_at_ == never)
      cv_.wait(lock);
    else
      cv_.wait_until(lock, epoch_ + tick_ * static_cast<int64_t>(wake_at_));
  }
}

} // namespace tidings::bots
