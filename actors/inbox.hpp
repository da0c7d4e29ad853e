#pragma once
// inbox actor: one per user on the user's home node, spawned on demand by the directory.
//
// Owns: the user's durable inbox (storage::inbox_log), the dedupe records of messages
// stored into it, the user's one live session and its push window, and the `received`
// records (messages delivered to this user that may still be reported read).
// Receipts: an ack first stores one `delivered` receipt per sender (in the senders'
// inboxes, through the directory) and only after all of them are durable deletes the
// acked range, together with writing the `received` records. A crash in between repeats
// receipts, never loses one. Acks arriving meanwhile are merged and handled next.
// `read` names a sender and mids; only mids this user received from that sender (and
// has not yet reported read) go into the receipt, so nobody can plant receipts about
// messages that were never theirs.
// Invariants: an item is pushed only after it is durable; at most `push_window` items are
// pushed-but-unacked; pushes go out in seq order; only the live session may ack, and only
// up to what it was pushed. At most one inbox actor per user exists (the directory
// guarantees it with the idle handshake).
// May block: each deliver and ack is one synchronous RocksDB write.

#include <deque>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "storage/inbox_log.hpp"

namespace tidings {

struct inbox_state {
  static inline const char* name = "inbox";

  caf::event_based_actor* self = nullptr;
  const node_context* ctx = nullptr;
  std::unique_ptr<storage::inbox_log> log;
  caf::actor session;                                     ///< the live session, if any
  int64_t session_since = 0;                              ///< when `session`'s connection opened
  uint64_t pushed_upto = 0;                               ///< highest seq pushed to `session`
  std::deque<std::pair<uint64_t, std::size_t>> in_flight; ///< pushed, unacked: (seq, bytes)
  std::size_t in_flight_bytes = 0;
  uint64_t routed = 0; ///< messages received through the directory
  int64_t last_active = 0;
  bool acking = false;          ///< receipts of an ack are being stored
  bool drain_requested = false; ///< tell the directory once the running ack is done
  uint64_t pending_ack = 0;     ///< highest ack that arrived while `acking`
  uint64_t retry_ack = 0;       ///< an ack whose receipts could not all be stored: retried on tick
  /// `read`s that arrived while `acking`: they may name the messages being acked.
  std::vector<std::pair<std::string, std::vector<std::string>>> deferred_reads;

  void init(caf::event_based_actor* s, const node_context* c, std::string user);
  /// Stores a message unless (from, cid) was seen; returns (mid, ts).
  caf::result<std::string, int64_t> deliver(const std::string& from, const std::string& cid,
                                            const std::string& content);
  /// `since`: when the session's connection opened; an older one never replaces a newer.
  void attach(caf::actor s, int64_t since);
  void ack(uint64_t upto, const caf::actor& from);
  /// Appends a receipt item (from another inbox); replies once it is durable.
  caf::result<uint64_t> store_receipt(const std::string& item);
  /// Sends a `read` receipt to `from` for those of `mids` this user received from them.
  void read(const std::string& from, const std::vector<std::string>& mids);
  void on_down(const caf::down_msg& dm);
  /// At shutdown: reports to the directory once no ack of its own is running.
  void drain();
  void tick();
  /// Arms the next `tick` (idle stop or ack retry) when one is needed.
  void schedule_check();
  /// Pushes stored items to the session while the window allows.
  void push_more();

private:
  void start_ack(uint64_t upto);
  void finish_ack(uint64_t upto, storage::batch& received);
};

caf::behavior inbox_actor(caf::stateful_actor<inbox_state>* self, const node_context* ctx,
                          std::string user);

/// Key of a media_pending record: `hash \0 recipient \0 be64(seq)`.
std::string media_pending_key(const std::string& hash, const std::string& recipient, uint64_t seq);

/// A `received` record: the sender, then \0 and when it was delivered (be64 ms).
std::string received_value(const std::string& sender, int64_t ts);
std::string_view received_sender(std::string_view value);
int64_t received_time(std::string_view value);

/// Key of a dedupe record.
std::string dedupe_key(const std::string& sender, const std::string& cid);

} // namespace tidings
