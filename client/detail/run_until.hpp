#pragma once
// Deadline-bounded driving of a private io_context, shared by the blocking HTTP and WebSocket
// clients. The calling thread runs completion handlers one at a time and blocks in the reactor
// in between (run_one_for), so waiting costs no CPU and a deadline is honoured to within one
// handler's run time. Internal to client/; include only from .cpp files.

#include <chrono>

#include <boost/asio/io_context.hpp>

namespace tidings::client::detail {

using clock = std::chrono::steady_clock;

/// Runs handlers of `ioc` until `done()` holds or `deadline` passes and returns `done()`.
/// Once the deadline has passed, handlers that are already ready still run (so a zero timeout
/// polls). Returns early if `ioc` runs out of work, since nothing could then change `done()`.
template <class Predicate>
bool run_until(boost::asio::io_context& ioc, clock::time_point deadline, Predicate&& done) {
  while (!done()) {
    if (ioc.stopped())
      ioc.restart();
    auto now = clock::now();
    if (now >= deadline) {
      ioc.poll();
      return done();
    }
    if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped())
      return done();
  }
  return true;
}

/// Runs whatever handlers are still queued (after a cancel or close), bounded by `limit`.
inline void drain(boost::asio::io_context& ioc, std::chrono::milliseconds limit) {
  ioc.restart();
  ioc.run_for(limit);
}

} // namespace tidings::client::detail
