#pragma once
// Deadlines of an actor's outstanding requests, kept by the actor and checked on its own timer.
//
// CAF 0.17 gives every `request(dest, timeout, ...)` its own event in the clock thread: an
// allocation, a wake-up of that thread, inserts into two trees, and when the time comes a
// `request_timeout` message into the requester's mailbox — whether the request was answered
// long ago or not (a response does not cancel it). On the message path, with several requests
// per message, that was ≈ 8 % of a node's CPU in the clock thread alone plus the wake-ups
// (docs/BENCHMARKS.md, issue 18). Requests on that path are sent without a CAF timeout
// instead; their deadlines wait here, in order, and the actor's housekeeping timer calls
// `expire` now and then.
//
// Why nothing waits forever: a request to a local actor is answered, or it fails when that
// actor is gone (CAF bounces what is still in its mailbox); these deadlines catch a reply lost
// anyway (a promise dropped by a bug). A request to a remote actor also keeps a CAF timeout,
// longer than the deadline: a peer node that goes away takes its answers with it, and that
// timeout frees CAF's waiting handler (the deadline has already reported the failure).
//
// Use: `book.request(self, dest, timeout, xs...).then(on_value, on_error)`. Exactly one of the
// two runs: `on_value`/`on_error` if the answer comes first, `on_error(request_timeout)` when
// `expire` finds the deadline passed first (a later answer is then dropped).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace tidings {

class deadlines {
public:
  using clock = std::chrono::steady_clock;

  /// Starts a deadline `after` from now: `on_expiry` runs from `expire` unless `settle(id)`
  /// came first.
  uint64_t start(clock::duration after, std::function<void()> on_expiry) {
    waiting_.push_back(entry{next_id_, clock::now() + after, std::move(on_expiry)});
    return next_id_++;
  }

  /// The answer to `id` came: true if it was still waiting (it is now settled), false if its
  /// deadline had expired (the answer is to be dropped).
  bool settle(uint64_t id) {
    auto* e = find(id);
    if (e == nullptr)
      return false;
    e->on_expiry = nullptr;
    ++settled_;
    trim();
    return true;
  }

  /// Runs `on_expiry` of every deadline that has passed; returns how many are still waiting.
  std::size_t expire(clock::time_point now = clock::now()) {
    // The handlers may start new requests (which append): iterate by index, not iterator.
    for (std::size_t i = head_; i < waiting_.size() && waiting_[i].due <= now; ++i) {
      if (!waiting_[i].on_expiry)
        continue;
      auto run = std::exchange(waiting_[i].on_expiry, nullptr);
      ++settled_;
      run();
    }
    trim();
    return size();
  }

  /// Requests still waiting for their answer.
  std::size_t size() const { return waiting_.size() - head_ - settled_; }
  bool empty() const { return size() == 0; }

  /// `self->request(dest, ...)` with the deadline kept here (see the top of this file).
  template <class Self, class Handle, class... Ts>
  auto request(Self* self, const Handle& dest, clock::duration timeout, Ts&&... xs);

private:
  struct entry {
    uint64_t id;
    clock::time_point due;
    std::function<void()> on_expiry; ///< empty once settled or expired
  };

  entry* find(uint64_t id) {
    // Ids grow with the position: a binary search over the waiting part.
    auto first = waiting_.begin() + static_cast<std::ptrdiff_t>(head_);
    auto it = std::lower_bound(first, waiting_.end(), id,
                               [](const entry& e, uint64_t x) { return e.id < x; });
    if (it == waiting_.end() || it->id != id || !it->on_expiry)
      return nullptr;
    return &*it;
  }

  /// Drops settled entries from the front; once settled ones are half of the rest (they may
  /// sit behind one that waits long), drops them all.
  void trim() {
    while (head_ < waiting_.size() && !waiting_[head_].on_expiry) {
      ++head_;
      --settled_;
    }
    if (head_ == waiting_.size()) {
      waiting_.clear();
      head_ = 0;
      return;
    }
    auto live = waiting_.size() - head_;
    if (head_ > 32 && head_ * 2 > waiting_.size()) {
      waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    if (live > 32 && settled_ * 2 > live) {
      // (Ids stay in order: the binary search of `find` still holds.)
      waiting_.erase(std::remove_if(waiting_.begin() + static_cast<std::ptrdiff_t>(head_),
                                    waiting_.end(), [](const entry& e) { return !e.on_expiry; }),
                     waiting_.end());
      settled_ = 0;
    }
  }

  std::vector<entry> waiting_;
  std::size_t head_ = 0;    ///< entries before it are gone
  std::size_t settled_ = 0; ///< settled entries at or after head_
  uint64_t next_id_ = 1;
};

namespace detail {

/// Wraps a response handler so it runs only if its deadline is still waiting.
template <class F, class Sig = decltype(&F::operator())> struct settling;

template <class F, class C, class R, class... Args> struct settling<F, R (C::*)(Args...) const> {
  static auto make(deadlines* book, uint64_t id, F f) {
    return [book, id, f = std::move(f)](Args... xs) {
      if (book->settle(id))
        f(std::forward<Args>(xs)...);
    };
  }
};

template <class F, class C, class R, class... Args> struct settling<F, R (C::*)(Args...)> {
  static auto make(deadlines* book, uint64_t id, F f) {
    return [book, id, f = std::move(f)](Args... xs) mutable {
      if (book->settle(id))
        f(std::forward<Args>(xs)...);
    };
  }
};

template <class Request> class timed_request {
public:
  timed_request(deadlines* book, deadlines::clock::duration timeout, Request req)
      : book_(book), timeout_(timeout), req_(std::move(req)) {}

  template <class OnValue, class OnError> void then(OnValue on_value, OnError on_error) {
    auto id = book_->start(
        timeout_, [on_error]() mutable { on_error(caf::make_error(caf::sec::request_timeout)); });
    req_.then(settling<OnValue>::make(book_, id, std::move(on_value)),
              settling<OnError>::make(book_, id, std::move(on_error)));
  }

private:
  deadlines* book_;
  deadlines::clock::duration timeout_;
  Request req_;
};

} // namespace detail

template <class Self, class Handle, class... Ts>
auto deadlines::request(Self* self, const Handle& dest, clock::duration timeout, Ts&&... xs) {
  // Local: no CAF timeout at all. Remote: a longer one, only to free CAF's handler.
  caf::duration caf_timeout = caf::infinite;
  if (dest && dest.node() != self->node())
    caf_timeout = caf::duration{std::chrono::duration_cast<caf::timespan>(timeout * 2)};
  return detail::timed_request{this, timeout,
                               self->request(dest, caf_timeout, std::forward<Ts>(xs)...)};
}

} // namespace tidings
