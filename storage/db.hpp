#pragma once
// The node's one RocksDB, behind a narrow interface.
//
// Owns: the database handle and one column family per table. Every multi-key change is a
// single `batch` written atomically; `write` is durable per `options::sync` (fsync of the
// WAL before it returns, or WAL-only: survives a process crash, not a power cut).
// Concurrency: thread-safe (RocksDB is); callers serialise per key themselves (each inbox
// has exactly one owning actor). May block: every call does disk I/O.
// No RocksDB header leaks out of this file: the implementation is behind a pimpl.
//
// A full disk (or a quota, or a file-size limit): a write that RocksDB fails with an I/O
// error makes the store read-only at once (RocksDB itself stops taking writes after such a
// failure: its "background error" state). Every later write fails fast with that error, so
// callers answer `unavailable`; reads go on. A recovery thread then tries, on a bounded
// backoff, to make the store writable again: first a headroom check (reserving
// `recovery_headroom` bytes in the data directory with fallocate, which fails on ENOSPC,
// EDQUOT and EFBIG alike, so a store does not flap between writable and full), then
// RocksDB's Resume() (it flushes the memtables and starts a new WAL), and when RocksDB
// refuses that (an I/O error other than ENOSPC is "fatal" to RocksDB 7.8: EFBIG, EDQUOT, EIO)
// a close and reopen of the database, which replays the WAL as after a crash. While it
// reopens, every call fails fast ("the store is reopening") instead of blocking its caller.
// Nothing acknowledged is lost: a failed write was never acknowledged, and everything
// acknowledged is in the WAL or the SST files the recovery reads back. A write reported as
// failed may still be applied (its WAL record complete, its fsync failed) and show after the
// recovery; every caller's retry is idempotent (dedupe keys, acks, receipts).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tidings::storage {

/// The tables (column families). Keys are documented next to the code that writes them.
enum class table : uint8_t {
  inbox,         ///< user \0 seq(be64) -> item (msgpack)
  inbox_meta,    ///< user -> next seq (be64)
  dedupe,        ///< sender \0 cid -> sent record (msgpack)
  accounts,      ///< user -> account record (msgpack)
  tokens,        ///< blake2b(token) -> user
  received,      ///< reader \0 mid -> sender: delivered messages not yet reported read
  profiles,      ///< user -> profile record (msgpack)
  contacts,      ///< owner \0 contact -> ""
  blocks,        ///< owner \0 blocked -> profile snapshot at block time (msgpack)
  lastseen,      ///< user -> be64(last seen ms)
  media,         ///< sha256 hex -> media record (msgpack: size, mime, uploader, created, used)
  media_readers, ///< sha256 hex \0 user -> "" (may read)
  media_pending, ///< sha256 hex \0 recipient \0 be64(seq) -> "" (in an unacked inbox item)
  avatars,       ///< sha256 hex \0 owner -> "" (current avatar of owner's profile)
  handoff,       ///< sends accepted for a home node that was down (storage/keys.hpp)
  cluster,       ///< this node's member changes: its previous list, handovers received
};
constexpr std::size_t table_count = 16;

/// Name of a table's column family on disk.
const char* table_name(table t);

/// Result of a write: empty `error` means success.
struct status {
  std::string error;
  bool ok() const { return error.empty(); }
};

struct db_options {
  db_options(std::string p = {}, bool s = true) : path(std::move(p)), sync(s) {}
  std::string path;
  bool sync = true; ///< fsync the WAL on every batch before acknowledging it
  /// Size of each table's memtable (RocksDB's write_buffer_size) before it is flushed to a
  /// level-0 file; 0 keeps RocksDB's default (64 MiB). See docs/OPERATIONS.md.
  std::size_t memtable_bytes = 0;
  /// Fault injection for tests: when set and it returns true, `get` of that key fails as a
  /// RocksDB I/O error would. Never set in production.
  std::function<bool(table, std::string_view key)> read_fault;
  /// Fault injection for tests: when set and it returns true, a write fails as a RocksDB I/O
  /// error would, and nothing of it is applied. Never set in production.
  std::function<bool()> write_fault;
  /// Bytes a recovery from a failed write reserves (fallocate, then removes) in the data
  /// directory before it tries RocksDB: the room a flush of the memtables and some traffic
  /// need. 0 skips the check.
  uint64_t recovery_headroom = uint64_t{64} << 20;
  std::chrono::milliseconds recovery_first_delay{20}; ///< first wait before a recovery
  std::chrono::milliseconds recovery_max_delay{1000}; ///< the backoff doubles up to this
};

/// Whether the store takes writes (see the top of this file).
struct health {
  bool writable = true;
  std::string error;        ///< when read-only: the write failure that made it so
  std::string last_attempt; ///< when read-only: why the last recovery attempt failed
  uint64_t read_only = 0;   ///< times the store went read-only since it was opened
  uint64_t recoveries = 0;  ///< times it became writable again
  uint64_t reopens = 0;     ///< of those recoveries, the ones that reopened RocksDB
  int64_t read_only_ms = 0; ///< how long the last read-only spell lasted (ms)
};
/// Called on every change of `writable` (from the thread that saw it; must not block).
using health_fn = std::function<void(const health&)>;

/// The answer of a point read: the value, "absent", or "failed" (I/O error, corruption).
/// A failure is never "absent": callers answer `unavailable` (with `retry_ms`) instead of
/// "unknown user", "unauthorized" or "not a duplicate".
class lookup {
public:
  static lookup found_value(std::string v) { return lookup{std::move(v), {}, true}; }
  static lookup absent() { return lookup{{}, {}, false}; }
  static lookup failure(std::string error) { return lookup{{}, std::move(error), false}; }

  bool found() const { return found_; }
  bool failed() const { return !error_.empty(); }
  /// The value; only meaningful when found().
  const std::string& value() const { return value_; }
  std::string& value() { return value_; }
  const std::string& error() const { return error_; }

private:
  lookup(std::string v, std::string e, bool f)
      : value_(std::move(v)), error_(std::move(e)), found_(f) {}
  std::string value_;
  std::string error_;
  bool found_ = false;
};

/// A decoded record read from storage: the record, absent (nullopt), or failed.
template <class T> struct fetched {
  std::optional<T> value;
  bool failed = false;
};

/// A yes/no question answered from storage, which may also fail.
enum class answer : uint8_t { no, yes, failed };

class db;

/// Changes to apply atomically with `db::write`.
class batch {
public:
  batch();
  ~batch();
  batch(batch&&) noexcept;
  batch& operator=(batch&&) noexcept;
  void put(table t, std::string_view key, std::string_view value);
  void del(table t, std::string_view key);
  /// Deletes every key in [begin, end).
  void delete_range(table t, std::string_view begin, std::string_view end);
  std::size_t count() const;
  /// Room for `ops` more ops of keys and values of `bytes` in all: one allocation instead of a
  /// buffer grown by doubling (a removal of many items, an import).
  void reserve(std::size_t ops, std::size_t bytes);

private:
  friend class db;
  struct impl;
  std::unique_ptr<impl> impl_;
};

class db {
public:
  /// Opens (creating if missing) the database; throws std::runtime_error on failure.
  static std::unique_ptr<db> open(const db_options& opts);
  ~db();

  /// A point read; distinguishes "absent" from "failed".
  lookup get(table t, std::string_view key);
  /// Whether `key` exists (yes/no), or failed.
  answer contains(table t, std::string_view key);
  status write(batch& b);
  /// Writes several batches as one atomic RocksDB write (one WAL sync in sync mode).
  status write_group(const std::vector<batch*>& batches);
  /// Visits keys in [begin, end) in order until `visit` returns false or `limit` keys.
  /// A failure (I/O error, corruption) ends the visit early and is returned.
  status scan(table t, std::string_view begin, std::string_view end, std::size_t limit,
              const std::function<bool(std::string_view key, std::string_view value)>& visit);
  /// The greatest key in [begin, end), if any (a reverse seek); failed on a storage error.
  lookup last_key(table t, std::string_view begin, std::string_view end);
  /// Flushes memtables and syncs the WAL (used at shutdown).
  status flush();
  /// A consistent copy of the whole database as it is now, in `dir` (which must not exist;
  /// on the same filesystem its SST files are hard links, else copies). RocksDB's Checkpoint:
  /// the memtables are flushed first, so the copy needs no WAL replay beyond what it holds.
  /// Blocks for as long as the copy takes.
  status checkpoint(const std::string& dir);
  /// Compacts a key range of a table (after large deletions).
  void compact(table t, std::string_view begin, std::string_view end);
  const db_options& options() const;

  /// Whether writes are taken now, and the history of read-only spells.
  health state() const;
  /// `fn` hears every change of writability from now on; an empty `fn` stops that (and
  /// waits for a call in progress to end).
  void on_health(health_fn fn);

  /// What this database has been asked to do so far (read from any thread): the figures of
  /// "writes per message" in docs/BENCHMARKS.md.
  struct counters {
    uint64_t writes = 0;    ///< RocksDB writes (each one WAL append; an fsync in sync mode)
    uint64_t puts = 0;      ///< keys written (memtable inserts)
    uint64_t deletes = 0;   ///< keys deleted (memtable inserts of tombstones)
    uint64_t gets = 0;      ///< point reads
    uint64_t iterators = 0; ///< iterators created (scans and reverse seeks)
  };
  counters stats() const;

private:
  struct impl;
  struct range_iterator;
  explicit db(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// What the reads of this thread cost while `fn` ran (RocksDB's perf counters).
struct read_cost {
  uint64_t tombstones_skipped = 0; ///< deleted keys an iterator stepped over
  uint64_t keys_skipped = 0;       ///< all internal keys stepped over (older versions too)
};
read_cost measure_reads(const std::function<void()>& fn);

/// Big-endian encoding, so keys sort numerically.
std::string be64(uint64_t v);
uint64_t from_be64(std::string_view bytes);

} // namespace tidings::storage
