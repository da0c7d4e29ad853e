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
// Writes: every write goes to the node's group writer (storage::group_writer) and the
// handler returns at once; the writer's completion comes back as `atom::written`, and only
// then is `sent` answered, the item pushed or the acked range forgotten. Writes complete in
// the order they were submitted. A (sender, cid) whose first write is still in flight is
// answered from that write (never stored twice). An inbox asked to stop while writes are in
// flight quits once they have completed.
// Memory: the newest durable, unacknowledged items are kept (`recent`, bounded in bytes), so
// pushing and acking them reads nothing back from RocksDB.
// Reads only its own tables: the user's block list comes from the profile shard at start
// (and each change after), read-receipt settings are asked of the profile shards. A media
// message's recipient is granted read access by the media service (awaited, so deliveries keep
// their order) before the item is staged: `sent` follows only once both are durable.
// May block: RocksDB point reads (dedupe, received) and, for items older than `recent`, scans.

#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "actors/pending_writes.hpp"
#include "storage/inbox_log.hpp"
#include "storage/keys.hpp"

namespace tidings {

/// What an inbox keeps of an item it holds in memory.
struct cached_item {
  uint64_t seq = 0;
  std::string bytes;      ///< the stored item
  std::string from;       ///< sender (messages only)
  std::string mid;        ///< (messages only)
  std::string media_hash; ///< (media messages only)
  bool is_msg = false;
};

struct inbox_state {
  static inline const char* name = "inbox";

  using sent_promise = caf::typed_response_promise<sent_reply>;
  using read_promise = caf::typed_response_promise<bool>;

  inbox_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  std::unique_ptr<storage::inbox_log> log;
  attached_session session;                               ///< the live session, if any
  int64_t session_since = 0;                              ///< when `session`'s connection opened
  uint64_t pushed_upto = 0;                               ///< highest seq pushed to `session`
  std::deque<std::pair<uint64_t, std::size_t>> in_flight; ///< pushed, unacked: (seq, bytes)
  std::size_t in_flight_bytes = 0;
  uint64_t routed = 0; ///< messages received through the directory
  int64_t last_active = 0;
  bool acking = false;          ///< an ack round (receipts, then the removal) is running
  bool drain_requested = false; ///< tell the directory once the running ack is done
  bool stop_requested = false;  ///< quit once no write is in flight
  uint64_t pending_ack = 0;     ///< highest ack that arrived while `acking`
  uint64_t retry_ack = 0;       ///< an ack whose receipts could not all be stored: retried on tick
  /// `read`s that arrived while `acking`: they may name the messages being acked.
  struct deferred_read {
    std::string from;
    std::vector<std::string> mids;
    read_promise done;
  };
  std::vector<deferred_read> deferred_reads;

  uint64_t written_upto = 0; ///< every seq up to here is written (or a failed write's hole)
  pending_writes writes;     ///< writes in flight (their completions arrive in submission order)
  /// Senders' (sender, cid) whose first write is in flight, with every request waiting on it.
  std::unordered_map<std::string, std::vector<sent_promise>> dedupe_waiting;
  std::unordered_set<std::string> blocked; ///< senders this user blocked (from the profile shard)
  /// `received` keys whose read receipt is on its way (or whose removal is being written):
  /// a repeated `read` of them sends nothing more.
  std::unordered_set<std::string> reporting;
  std::deque<cached_item> recent; ///< durable, unacked, seq >= recent_from, in seq order
  uint64_t recent_from = 0;       ///< `recent` holds every item from this seq on
  std::size_t recent_bytes = 0;
  uint64_t handled = 0; ///< messages handled (spawn_counted)

  void init(inbox_service::pointer s, const node_context* c, std::string user);
  /// Asks the profile shard for this user's blocks; nothing else is handled until it answers.
  void load_blocks();
  /// The profile shard reports a block or an unblock by this user.
  void on_block(const std::string& other, bool is_blocked);
  /// Stores a message unless (from, cid) was seen; answers (mid, ts) once it is durable.
  /// `content`: the message's fields as a msgpack map; `media_hash`: its media, or empty;
  /// `given_mid`/`given_ts`: the `sent` a node's handoff already gave (empty: choose them).
  caf::result<sent_reply> deliver(const std::string& from, const std::string& cid,
                                  const std::string& content, const std::string& media_hash,
                                  const std::string& given_mid = {}, int64_t given_ts = 0);
  /// `since`: when the session's connection opened; an older one never replaces a newer.
  void attach(attached_session s, int64_t since);
  void ack(uint64_t upto, const caf::actor& from);
  /// Appends a receipt item (from another inbox); replies once it is durable.
  caf::result<uint64_t> store_receipt(const std::string& item);
  /// Whether item `seq` is still in the inbox (not yet acknowledged): asked by the media
  /// service of a blob the item names before retention deletes it.
  bool holds(uint64_t seq);
  /// Sends a `read` receipt to `from` for those of `mids` this user received from them;
  /// answered once that receipt is stored in `from`'s inbox (or none is due), an error
  /// (`unavailable`) if it could not be: the reader's client then reads again.
  caf::result<bool> read(const std::string& from, const std::vector<std::string>& mids);
  void read(const std::string& from, const std::vector<std::string>& mids, read_promise done);
  /// The group writer finished write `id`.
  void on_written(uint64_t id, bool ok);
  void on_down(const caf::down_msg& dm);
  /// At shutdown: reports to the directory once no ack of its own is running.
  void drain();
  /// Quits now, or once the writes in flight have completed.
  void stop();
  void tick();
  /// Arms the next `tick` (idle stop or ack retry) when one is needed.
  void schedule_check();
  /// Pushes stored items to the session while the window allows.
  void push_more();
  /// What the inspector shows of this inbox (depth and oldest item of what is durable).
  inbox_facts facts();

private:
  /// Stages `cached` (a message) into `b` and hands it to the group writer; `answer_all`
  /// answers the sender (and its retries) once it completed.
  void store(storage::batch b, cached_item cached,
             std::function<void(bool ok, errc failure)> answer_all);
  /// Hands `b` to the group writer; `then` runs in this actor once it completed.
  void submit(storage::batch b, std::function<void(bool ok)> then);
  /// Keeps a just-written item in memory (within the byte bound).
  void remember(cached_item item);
  /// Drops remembered items at or below `seq`.
  void forget_upto(uint64_t seq);
  /// The items in [from, upto] (from memory where held, else from RocksDB); `described`: their
  /// sender, mid and media (acks need them; items held in memory come without their bytes),
  /// else their bytes only (pushes).
  std::vector<cached_item> items_between(uint64_t from, uint64_t upto, std::size_t max,
                                         bool described);
  /// Stores the read receipt for `accepted` (whose `received` keys are `keys`) in `from`'s
  /// inbox, then forgets the keys; on failure they stay for a later `read`.
  void send_read_receipt(read_promise done, const std::string& from,
                         const std::vector<std::string>& accepted,
                         const std::vector<std::string>& keys);
  void start_ack(uint64_t upto);
  void finish_ack(uint64_t upto, storage::batch received);
  /// The ack round for `upto` is over (`ok`: its range is gone); runs what waited on it.
  void end_ack(uint64_t upto, bool ok);
};

inbox_service::behavior_type inbox_actor(inbox_service::stateful_pointer<inbox_state> self,
                                         const node_context* ctx, std::string user);

// Key encodings of the tables the inbox writes (storage/keys.hpp).
using storage::dedupe_key;
using storage::received_key;
using storage::received_sender;
using storage::received_time;
using storage::received_value;

} // namespace tidings
