#pragma once
// The node's durable writes, off the actor scheduler: one thread that merges every batch
// waiting in its queue into one RocksDB write (one fsync in sync mode), then reports each
// batch's outcome through its callback.
//
// Owns: its thread and queue. Callers hand over a batch and a completion callback; nothing
// they submit is visible to readers before its callback runs with success.
// Ordering: batches are written in submission order and callbacks run in that order, on the
// writer thread: they must be short and must not block (actors `anon_send` to themselves).
// Durability: a callback reports success only after the write (and, in sync mode, the WAL
// fsync) has returned. `commit_interval` > 0 is the "group commit every N ms" mode: after a
// write the thread waits out the rest of the interval, so more batches share each fsync, at
// the price of up to that much added latency per write.
// A merged write that fails fails every batch in it; each caller reports `unavailable`.
// Limits: the queue is bounded only by its callers (inboxes refuse past their backlog).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/db.hpp"

namespace tidings::storage {

class group_writer {
public:
  using done_fn = std::function<void(const status&)>;

  struct options {
    std::chrono::microseconds commit_interval{0}; ///< 0: write as soon as the last one ended
    std::size_t max_ops = 16'384;                 ///< ops per merged write, at most
  };

  /// What the writer has done so far (read from any thread).
  struct counters {
    uint64_t batches = 0; ///< batches submitted and written (or failed)
    uint64_t writes = 0;  ///< merged RocksDB writes (fsyncs in sync mode)
  };

  group_writer(db& store, options opts);
  /// Stops after writing everything submitted before.
  ~group_writer();
  group_writer(const group_writer&) = delete;
  group_writer& operator=(const group_writer&) = delete;

  /// Queues `b`; `done` runs on the writer thread once it is durable or has failed.
  void submit(batch b, done_fn done);
  /// Writes what is queued, then ends the thread. Later submits fail at once. Idempotent.
  void stop();
  counters stats() const;

private:
  struct job {
    batch b;
    done_fn done;
  };
  void run();

  db& store_;
  options opts_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  counters stats_;
  std::thread thread_;
};

} // namespace tidings::storage
