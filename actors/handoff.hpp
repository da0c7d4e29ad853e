#pragma once
// handoff actor: one per clustered node. Keeps the sends this node accepted for users whose
// home node was down, durably, and replays them to the home when it is back.
//
// Owns: the handoff table (storage/keys.hpp): one queue per home node, and the `sent` given for
// each queued (sender, cid), so a retry gets the same answer and is not queued twice.
// Order: a send is queued when its home is down, or while that home's queue is not empty
// (replaying), or while the sending session still waits for an earlier send it routed here;
// so sends of one session to one home are never overtaken (cluster::view::handoff_pending tells
// sessions which homes have a queue). Replay is one send at a time, oldest first, carrying the
// `mid` and time already given: the home's inbox stores it under that mid, and its dedupe
// record of (sender, cid) makes a repeated replay (a crash between the home's answer and the
// deletion here) a no-op.
// `sent` is answered once the queued send is durable here (group writer), as an inbox would.
// Not guaranteed: a send to a user who does not exist is only found out at replay (it is then
// dropped and counted); media sends to a down home are refused (`unavailable`), since the
// recipient's grant is written by the home.
// Never blocks: writes go through the group writer; the queues are read once at start.

#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/pending_writes.hpp"

namespace tidings {

using handoff_service =
    caf::typed_actor<caf::replies_to<deliver_request>::with<sent_reply>,
                     caf::reacts_to<atom::written, uint64_t, bool>, caf::reacts_to<atom::replay>,
                     caf::replies_to<atom::probe>::with<actor_probe>>;

/// A send kept for a home that was down.
struct handoff_queued {
  uint64_t seq = 0;
  deliver_request send; ///< with the mid and ts given
};

/// What an earlier run left in the handoff table, read before the node starts.
struct handoff_backlog {
  std::map<std::string, std::deque<handoff_queued>> homes;
  uint64_t next_seq = 1;
};

/// Reads the handoff table; throws std::runtime_error if it cannot be read (the node must not
/// start without the sends it already answered `sent` for).
handoff_backlog read_handoff_backlog(storage::db& store);

struct handoff_state {
  static inline const char* name = "handoff";

  using queued = handoff_queued;
  struct home_queue {
    std::deque<queued> sends;
    std::size_t writing = 0; ///< sends whose write is in flight
    bool replaying = false;  ///< a replayed send awaits the home's answer
  };

  handoff_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  uint64_t handled = 0; ///< messages handled (spawn_counted)
  pending_writes writes;
  uint64_t next_seq = 1;
  std::map<std::string, home_queue> homes;
  /// handoff dedupe key -> the `sent` given (durable), until the send reached its home.
  std::unordered_map<std::string, sent_reply> given;
  /// handoff dedupe key -> who waits for its write.
  std::unordered_map<std::string, std::vector<caf::response_promise>> waiting;

  /// Takes over the queues left by an earlier run.
  void load(handoff_backlog backlog);
  caf::result<sent_reply> deliver(deliver_request d);
  /// Starts replaying every home that is up and has a queue.
  void replay_all();

private:
  void replay(const std::string& home);
  void replayed(const std::string& home);
  void update_flag(const std::string& home);
};

handoff_service::behavior_type handoff_actor(handoff_service::stateful_pointer<handoff_state> self,
                                             const node_context* ctx, handoff_backlog backlog);

} // namespace tidings
