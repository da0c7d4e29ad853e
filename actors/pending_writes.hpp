#pragma once
// The writes an actor has handed to the group writer, and what to do when each is done.
//
// The writer reports on its own thread; the report comes back into the actor as
// `(atom::written, id, ok)`, whose handler calls done(), so every continuation runs inside the
// actor, in submission order. Not thread-safe: one actor owns it.
//
// The writer completes one actor's batches in the order they were submitted, so the
// continuations wait in a queue (no node allocated per write); done() still finds an id out of
// order, should a report ever overtake another.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "storage/group_writer.hpp"

namespace tidings {

class pending_writes {
public:
  /// Hands `b` to `writer`; `then(ok)` runs when `me` handles the matching `atom::written`.
  template <class Handle>
  void submit(storage::group_writer& writer, Handle me, storage::batch b,
              std::function<void(bool ok)> then) {
    auto id = next_++;
    writes_.emplace_back(id, std::move(then));
    writer.submit(std::move(b), [me = std::move(me), id](const storage::status& st) {
      caf::anon_send(me, atom::written::value, id, st.ok());
    });
  }
  /// Runs the continuation of write `id`; false if there is none.
  bool done(uint64_t id, bool ok) {
    auto it = !writes_.empty() && writes_.front().first == id
                  ? writes_.begin()
                  : std::find_if(writes_.begin(), writes_.end(),
                                 [id](const auto& w) { return w.first == id; });
    if (it == writes_.end())
      return false;
    auto then = std::move(it->second);
    writes_.erase(it);
    then(ok);
    return true;
  }
  bool empty() const { return writes_.empty(); }

private:
  uint64_t next_ = 0;
  std::deque<std::pair<uint64_t, std::function<void(bool)>>> writes_;
};

} // namespace tidings
