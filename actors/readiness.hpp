#pragma once
// readiness: what `GET /readyz` answers, i.e. whether a load balancer should send this node
// new clients (`/healthz` only says the process serves).
//
// Ready means all of: not draining (a SIGTERM starts the drain: /readyz says 503 at once,
// the node closes its connections only after --net.drain-ms); the store takes a durable
// write (a probe through the group writer: a full disk or a RocksDB in its read-only error
// state fails it); in a cluster, the membership has formed (every peer came up once since
// the start, or --cluster.form-timeout-ms has passed: after that a down peer is the
// cluster's business, handled by handoff and `unavailable`, and no reason to refuse clients).
//
// Thread-safe: check() runs on Beast threads, its answer comes from the writer thread; the
// drain flag is set from the main thread. At most one probe is in flight, and a probe's
// result is reused for `probe_reuse`, so a flood of /readyz costs at most about one small
// write per second.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/context.hpp"

namespace tidings {

class readiness {
public:
  /// The answer: ready, and if not, why (one reason per entry, for the operator).
  struct verdict {
    bool ready = false;
    std::vector<std::string> reasons;
  };
  using answer_fn = std::function<void(const verdict&)>;

  static constexpr std::chrono::milliseconds probe_reuse{1000};

  /// `writer` takes the probe writes; `cluster` may be null (one node).
  readiness(storage::group_writer* writer, const cluster::view* cluster, clock_fn now,
            int64_t form_timeout_ms);

  /// The node serves from now on: the cluster's formation time starts.
  void started();
  /// /readyz says 503 from now on.
  void start_draining() { draining_ = true; }
  bool draining() const { return draining_; }

  /// Answers through `done` (at once, or from the writer thread after a probe).
  void check(answer_fn done);

  /// The /readyz response body of a verdict: {"status":"ready"} or
  /// {"status":"not ready","reasons":[…]}.
  static std::string body(const verdict& v);

private:
  /// Reasons other than storage (the drain, the cluster); empty when none.
  std::vector<std::string> other_reasons();
  void probe_done(const storage::status& st);

  storage::group_writer* writer_;
  const cluster::view* cluster_;
  clock_fn now_;
  int64_t form_timeout_ms_;
  std::atomic<int64_t> started_ms_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> formed_{false};

  std::mutex mutex_;
  std::vector<answer_fn> waiting_; ///< callers of the probe in flight
  bool probing_ = false;
  int64_t probed_at_ms_ = 0;
  std::optional<std::string> storage_error_; ///< of the last probe; nullopt: it succeeded
};

} // namespace tidings
