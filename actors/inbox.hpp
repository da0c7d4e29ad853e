#pragma once
// inbox actor: one per user on the user's home node, spawned on demand by the directory.
//
// Owns: the user's durable inbox (storage::inbox_log), the dedupe records of messages
// stored into it, the user's devices (each with its cursor into the inbox) and their live
// sessions (one per device, each with its push window), and the `received` records (messages
// delivered to this user that may still be reported read).
// Devices (docs/DESIGN.md, "Devices"): a user with no named device has only the unnamed one,
// whose cursor is the inbox's first seq (nothing else is stored: the single-device path writes
// what it always did). Once named devices exist each has a record with its cursor; an item is
// deleted once every device seen within the retention window has acknowledged it, `delivered`
// goes out at the first device's ack. `sent_copy` items (a user's own sends, for their other
// devices) are never pushed to the device that sent them nor to the unnamed device.
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
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/deadlines.hpp"
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
  int64_t copy_of = -1; ///< a `sent_copy`: the device that sent it (else -1)
};

/// The device a `sent_copy` item was sent from (read from the item's first pairs, which the
/// session writes as `type`, `device`), or -1 for any other item.
int64_t copy_origin(std::string_view item);

/// One of the user's devices (a record in inbox_meta, storage::device_key).
struct device_entry {
  uint32_t id = 0;                 ///< 0: the unnamed device (every client that names none)
  std::string name;                ///< empty for the unnamed device
  int64_t created = 0;             ///< ms since the epoch
  int64_t seen = 0;                ///< its last session or ack
  uint64_t acked = 0;              ///< every item up to this seq is acknowledged by this device
  std::vector<std::string> tokens; ///< hex tokens-table keys of its tokens
};

/// A live session of one device, and its push window.
struct live_session {
  attached_session handle;
  uint32_t device = 0;
  int64_t since = 0;        ///< when its connection opened
  uint64_t pushed_upto = 0; ///< highest seq pushed (or passed over) to it
  std::deque<std::pair<uint64_t, std::size_t>> in_flight; ///< pushed, unacked: (seq, bytes)
  std::size_t in_flight_bytes = 0;
};

struct inbox_state {
  static inline const char* name = "inbox";

  using sent_promise = caf::typed_response_promise<sent_reply>;
  using read_promise = caf::typed_response_promise<bool>;

  inbox_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  std::unique_ptr<storage::inbox_log> log;
  std::vector<live_session> sessions; ///< at most one per device
  /// The devices with a record; empty: only the unnamed device, whose cursor is the first seq.
  std::map<uint32_t, device_entry> devices;
  uint32_t next_device = 1; ///< the id the next named device gets (ids are never reused)
  int64_t unnamed_seen = 0; ///< the unnamed device's last session or ack since this start
  uint64_t routed = 0;      ///< messages received through the directory
  int64_t last_active = 0;
  bool acking = false;          ///< an ack round (receipts, then the removal) is running
  bool drain_requested = false; ///< tell the directory once the running ack is done
  bool stop_requested = false;  ///< quit once no write is in flight
  /// Deadlines of the receipt and privacy requests (checked on `tick`, armed while any waits).
  deadlines replies;
  int checks_armed = 0;                      ///< `timer` messages on their way (schedule_check)
  std::map<uint32_t, uint64_t> pending_acks; ///< device -> highest ack that came while `acking`
  /// device -> an ack whose receipts could not all be stored: retried on tick
  std::map<uint32_t, uint64_t> retry_acks;
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
  /// Loads the device records; false if storage failed.
  bool load_devices();
  /// `since`: when the session's connection opened; an older one of the same device never
  /// replaces a newer. `token_key`: names the device (attach_request).
  void attach(attached_session s, int64_t since, const std::string& token_key);
  void ack(uint64_t upto, const caf::actor& from);
  /// A login named device `name` (a new one, or one of that name): answers its id once durable.
  caf::result<uint32_t> add_device(const std::string& name, const std::string& token_key);
  /// `{"devices":[…]}` (ids, names, times, online, token keys).
  std::string list_devices();
  /// Removes device `id`: closes its session, forgets its cursor and releases what it alone
  /// held; answers once durable (`not_found`: no such device).
  caf::result<bool> remove_device(uint32_t id);
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
  /// Arms the next `tick` (idle stop, ack retry, or a request's deadline) when one is needed.
  void schedule_check();
  /// `self->request(dest, ...)` with its deadline in `replies`, a `tick` armed to check it.
  template <class Handle, class... Ts>
  auto timed_request(const Handle& dest, std::chrono::milliseconds timeout, Ts&&... xs) {
    if (checks_armed == 0)
      schedule_check();
    return replies.request(self, dest, timeout, std::forward<Ts>(xs)...);
  }
  /// Pushes stored items to the sessions while their windows allow.
  void push_more();
  /// What the inspector shows of this inbox (depth and oldest item of what is durable).
  inbox_facts facts();

private:
  /// Pushes to one session; passes over the `sent_copy` items it must not get.
  void push_to(live_session& s);
  live_session* session_of(const caf::actor_addr& addr);
  /// Everything up to this seq is acknowledged by `device`.
  uint64_t acked_of(uint32_t device) const;
  /// Every message up to this seq has had its `delivered` receipt (some device acked it).
  uint64_t delivered_upto() const;
  /// Whether `d` holds items back: seen within the retention window, or online.
  bool holding(const device_entry& d) const;
  /// Items up to this seq may be deleted: acknowledged by every holding device.
  uint64_t releasable() const;
  /// Whether a named device other than `device` would see copies of its sends.
  bool copies_for(uint32_t device) const;
  /// Tells every live session its device and whether its sends are copied.
  void tell_devices();
  void stage_device(storage::batch& b, const device_entry& d) const;
  /// Acknowledges `upto` for `device` (now, or once the running round is done).
  void ack_device(uint32_t device, uint64_t upto);
  /// Starts the next waiting ack round, if any.
  void next_ack();
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
  /// At most `max` items in [from, upto] (from memory where held, else from RocksDB), with
  /// their bytes only (pushes).
  std::vector<cached_item> items_between(uint64_t from, uint64_t upto, std::size_t max);
  /// Calls `f(const cached_item&)` for each item in [from, upto] with its sender, mid and media
  /// (acks): those held in memory in place, without a copy; older ones read from RocksDB.
  template <class F> void each_described(uint64_t from, uint64_t upto, F&& f);
  /// A read receipt on its way: the messages of `from` a `read` accepted and their `received`
  /// keys. Shared (not copied) by the steps of a read (two privacy checks, the store in the
  /// sender's inbox, the removal of the records), each a callback that holds it.
  struct read_report {
    std::string from;
    std::vector<std::string> accepted;
    std::vector<std::string> keys;
  };
  using read_report_ptr = std::shared_ptr<const read_report>;
  /// The `received` keys of a read receipt that was stored or given up: a later `read` of them
  /// is taken again.
  void forget_reporting(const std::vector<std::string>& keys);
  /// Stores the read receipt of `r` in its sender's inbox, then forgets the keys; on failure
  /// they stay for a later `read`.
  void send_read_receipt(read_promise done, read_report_ptr r);
  /// A read receipt was stored (or none is due): answers the `read`, drops the `received`
  /// records of `r`.
  void reported(read_promise done, read_report_ptr r);
  void start_ack(uint32_t device, uint64_t upto);
  void finish_ack(uint32_t device, uint64_t upto, storage::batch received);
  /// The ack round of `device` for `upto` is over (`ok`: durable); runs what waited on it.
  void end_ack(uint32_t device, uint64_t upto, bool ok);
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
