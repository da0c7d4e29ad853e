#include "storage/group_writer.hpp"

namespace tidings::storage {

group_writer::group_writer(db& store, options opts) : store_(store), opts_(opts) {
  thread_ = std::thread{[this] { run(); }};
}

group_writer::~group_writer() {
  stop();
}

void group_writer::submit(batch b, done_fn done) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!stopping_) {
      queue_.push_back({std::move(b), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(status{"the writer has stopped"});
}

void group_writer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable())
    thread_.join();
}

group_writer::counters group_writer::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

void group_writer::run() {
  std::vector<job> jobs;
  std::vector<batch*> batches;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping, and everything submitted has been written
      std::size_t ops = 0;
      while (!queue_.empty() && (jobs.empty() || ops + queue_.front().b.count() <= opts_.max_ops)) {
        ops += queue_.front().b.count();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto started = std::chrono::steady_clock::now();
    batches.clear();
    for (auto& j : jobs)
      batches.push_back(&j.b);
    auto st = store_.write_group(batches);
    for (auto& j : jobs)
      j.done(st);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stats_.batches += jobs.size();
      stats_.writes += 1;
    }
    jobs.clear();
    if (opts_.commit_interval.count() > 0) {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait_until(lock, started + opts_.commit_interval, [this] { return stopping_; });
    }
  }
}

} // namespace tidings::storage
