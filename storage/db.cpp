#include "storage/db.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

namespace tidings::storage {

namespace {

constexpr std::array<const char*, table_count> names = {
    "inbox",         "inbox_meta", "dedupe",  "accounts", "tokens", "received",
    "profiles",      "contacts",   "blocks",  "lastseen", "media",  "media_readers",
    "media_pending", "avatars",    "handoff", "cluster"};
static_assert(names.back() != nullptr, "every table needs a column family name");

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

/// The owner part of a key, `user \0`: inserts of one user's consecutive keys (an inbox's
/// next seqs) start from the last insert position instead of a search from the top.
class owner_prefix : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "tidings.owner_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const auto* end = static_cast<const char*>(std::memchr(key.data(), '\0', key.size()));
    return {key.data(),
            end == nullptr ? key.size() : static_cast<std::size_t>(end - key.data()) + 1};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

/// Keeps RocksDB from recovering from a background error by itself: the store's own recovery
/// thread does it (after a headroom check, on its backoff), so there is one recovery at a
/// time and a manual Resume() never meets "Busy".
class no_auto_recovery : public rocksdb::EventListener {
public:
  const char* Name() const override { return "tidings.no_auto_recovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

/// RocksDB's info log (the LOG file), written with plain write(2) whose failures are ignored.
/// RocksDB 7.8's own logger (EnvLogger) asserts on its next write after a failed one, and
/// Debian 12's librocksdb keeps its assertions: on a full disk it would abort the node. Rolled
/// at each start as RocksDB rolls it: the previous LOG becomes LOG.old.<µs since the epoch>,
/// and only the newest `keep - 1` of those stay.
class plain_info_log : public rocksdb::Logger {
public:
  plain_info_log(const std::string& dir, std::size_t keep) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    auto path = fs::path{dir} / "LOG";
    timeval now{};
    ::gettimeofday(&now, nullptr);
    auto micros = static_cast<int64_t>(now.tv_sec) * 1'000'000 + now.tv_usec;
    if (fs::exists(path, ec))
      fs::rename(path, fs::path{dir} / ("LOG.old." + std::to_string(micros)), ec);
    std::vector<std::string> old;
    for (const auto& e : fs::directory_iterator{dir, ec})
      if (e.path().filename().string().rfind("LOG.old.", 0) == 0)
        old.push_back(e.path().string());
    std::sort(old.begin(), old.end());
    for (std::size_t i = 0; i + keep - 1 < old.size(); ++i)
      fs::remove(old[i], ec);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~plain_info_log() override {
    if (fd_ >= 0)
      ::close(fd_);
  }
  plain_info_log(const plain_info_log&) = delete;
  plain_info_log& operator=(const plain_info_log&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0)
      return;
    timeval now{};
    ::gettimeofday(&now, nullptr);
    tm t{};
    ::localtime_r(&now.tv_sec, &t);
    char prefix[64];
    int n = std::snprintf(prefix, sizeof prefix, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(now.tv_usec));
    std::string line{prefix, static_cast<std::size_t>(std::max(n, 0))};
    va_list copy;
    va_copy(copy, ap);
    int size = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (size > 0) {
      auto at = line.size();
      line.resize(at + static_cast<std::size_t>(size) + 1);
      std::vsnprintf(line.data() + at, static_cast<std::size_t>(size) + 1, format, ap);
      line.resize(at + static_cast<std::size_t>(size));
    }
    if (line.empty() || line.back() != '\n')
      line += '\n';
    // A full disk: the line is lost, as any log line then; nothing else depends on it.
    [[maybe_unused]] auto written = ::write(fd_, line.data(), line.size());
  }

private:
  int fd_ = -1;
};

constexpr const char* reopening = "IO error: the store is reopening after a failed write";
/// The largest buffer a writing thread's reused RocksDB batch keeps between groups.
constexpr std::size_t kept_batch_bytes = std::size_t{4} << 20;

} // namespace

const char* table_name(table t) {
  return names[static_cast<std::size_t>(t)];
}

/// The ops of a batch, serialised into one buffer (one allocation per batch, not two per op):
/// each is kind, table, be32 size of a, a, be32 size of b, b.
struct batch::impl {
  enum class kind : uint8_t { put, del, delete_range };
  /// Bytes an op takes beside its key and value: kind, table, two lengths.
  static constexpr std::size_t op_overhead = 2 + 4 + 4;
  std::string rep;
  std::size_t count = 0;

  void add(kind k, table t, std::string_view a, std::string_view b) {
    if (rep.empty())
      rep.reserve(256);
    rep += static_cast<char>(k);
    rep += static_cast<char>(t);
    for (auto part : {a, b}) {
      auto n = static_cast<uint32_t>(part.size());
      for (int shift = 24; shift >= 0; shift -= 8)
        rep += static_cast<char>((n >> shift) & 0xFF);
      rep.append(part);
    }
    ++count;
  }

  /// Calls `f(kind, table, a, b)` for every op, in order.
  template <class F> void each(F f) const {
    const auto* p = reinterpret_cast<const unsigned char*>(rep.data());
    const auto* end = p + rep.size();
    auto part = [&p] {
      uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      rocksdb::Slice s{reinterpret_cast<const char*>(p + 4), n};
      p += 4 + n;
      return s;
    };
    while (p < end) {
      auto k = static_cast<kind>(p[0]);
      auto t = static_cast<table>(p[1]);
      p += 2;
      auto a = part();
      auto b = part();
      f(k, t, a, b);
    }
  }
};

batch::batch() : impl_(std::make_unique<impl>()) {}
batch::~batch() = default;
batch::batch(batch&&) noexcept = default;
batch& batch::operator=(batch&&) noexcept = default;

void batch::put(table t, std::string_view key, std::string_view value) {
  impl_->add(impl::kind::put, t, key, value);
}

void batch::del(table t, std::string_view key) {
  impl_->add(impl::kind::del, t, key, {});
}

void batch::delete_range(table t, std::string_view begin, std::string_view end) {
  impl_->add(impl::kind::delete_range, t, begin, end);
}

std::size_t batch::count() const {
  return impl_->count;
}

void batch::reserve(std::size_t ops, std::size_t bytes) {
  impl_->rep.reserve(impl_->rep.size() + ops * impl::op_overhead + bytes);
}

struct db::impl {
  db_options opts;
  /// Shared by every use of `handle` and `cfs`, exclusive to a reopen. Users only try it, so
  /// a call during a reopen fails at once (`reopening`) instead of blocking its thread.
  mutable std::shared_mutex handle_mutex;
  std::unique_ptr<rocksdb::DB> handle;
  std::array<rocksdb::ColumnFamilyHandle*, table_count> cfs{};
  std::shared_ptr<rocksdb::Logger> info_log; ///< kept across reopens (one LOG per start)
  rocksdb::WriteOptions write_opts;
  std::atomic<uint64_t> writes{0}, puts{0}, deletes{0}, gets{0}, iterators{0};

  std::atomic<bool> writable{true}; ///< the fast check of every write
  mutable std::mutex health_mutex;  ///< guards the members down to `recoverer`
  std::condition_variable health_cv;
  health state;
  std::chrono::steady_clock::time_point read_only_since;
  bool stopping = false;
  std::mutex listener_mutex;
  health_fn listener;
  std::thread recoverer;

  static void count(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  rocksdb::ColumnFamilyHandle* cf(table t) const { return cfs[static_cast<std::size_t>(t)]; }

  /// A use of the handle; check `usable(lock)` before touching it.
  std::shared_lock<std::shared_mutex> share() const { return {handle_mutex, std::try_to_lock}; }
  bool usable(const std::shared_lock<std::shared_mutex>& lock) const {
    return lock.owns_lock() && handle != nullptr;
  }

  rocksdb::Status open_handle();
  void close_handle();
  void went_read_only(const std::string& error);
  std::string read_only_error() const;
  void notify(const health& h);
  void recover_loop();
  std::string reserve_headroom() const;
  std::string try_recover(bool& reopened);

  ~impl() {
    {
      std::lock_guard<std::mutex> guard{health_mutex};
      stopping = true;
    }
    health_cv.notify_all();
    if (recoverer.joinable())
      recoverer.join();
    close_handle();
  }
};

void db::impl::close_handle() {
  for (auto*& h : cfs)
    if (h != nullptr) {
      handle->DestroyColumnFamilyHandle(h);
      h = nullptr;
    }
  if (handle)
    handle->Close().PermitUncheckedError();
  handle.reset();
}

db::db(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
db::~db() = default;

rocksdb::Status db::impl::open_handle() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  if (!info_log)
    info_log = std::make_shared<plain_info_log>(opts.path, options.keep_log_file_num);
  options.info_log = info_log;
  // Recovery from a failed write is the store's own (see db.hpp), never RocksDB's.
  options.max_bgerror_resume_count = 0;
  options.listeners.push_back(std::make_shared<no_auto_recovery>());
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.level_compaction_dynamic_level_bytes = true;
  if (opts.memtable_bytes > 0)
    cf_opts.write_buffer_size = opts.memtable_bytes;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opts);
  // Queue-shaped tables (written once, deleted once acknowledged or expired): an SST file
  // whose keys are mostly tombstones is compacted soon, so deleted ranges do not linger for
  // reads to step over. 128 of any 1,024 consecutive keys being deletes marks a file.
  rocksdb::ColumnFamilyOptions queue_opts = cf_opts;
  queue_opts.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(1024, 128));
  // Tables read by key on the message path: dedupe (every send asks, nearly always for a key
  // that is not there), received (every read), profiles and accounts (the read-receipt
  // settings). A bloom filter over the memtable's keys and one per SST file answer "absent"
  // without a skip-list search or a block read.
  auto with_bloom = [](rocksdb::ColumnFamilyOptions o) {
    o.memtable_prefix_bloom_size_ratio = 0.05;
    o.memtable_whole_key_filtering = true;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return o;
  };
  rocksdb::ColumnFamilyOptions inbox_opts = queue_opts;
  inbox_opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<owner_prefix>();
  for (std::size_t i = 0; i < table_count; ++i) {
    auto t = static_cast<table>(i);
    bool queue = t == table::inbox || t == table::dedupe || t == table::received ||
                 t == table::media_pending || t == table::handoff;
    bool point_reads =
        t == table::dedupe || t == table::received || t == table::profiles || t == table::accounts;
    auto base = t == table::inbox ? inbox_opts : queue ? queue_opts : cf_opts;
    descriptors.emplace_back(names[i], point_reads ? with_bloom(base) : base);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(options, opts.path, descriptors, &handles, &raw);
  if (!st.ok())
    return st;
  handle.reset(raw);
  raw->DestroyColumnFamilyHandle(handles[0]); // the default family is unused
  for (std::size_t i = 0; i < table_count; ++i)
    cfs[i] = handles[i + 1];
  return st;
}

std::unique_ptr<db> db::open(const db_options& opts) {
  auto p = std::make_unique<impl>();
  p->opts = opts;
  auto st = p->open_handle();
  if (!st.ok()) {
    auto why = st.ToString();
    if (why.find("lock file") != std::string::npos)
      throw std::runtime_error("the data directory " + opts.path +
                               " is in use by another process (its LOCK is held; another "
                               "tidings-node?): " +
                               why);
    throw std::runtime_error("cannot open the database in " + opts.path + ": " + why);
  }
  p->write_opts.sync = opts.sync;
  auto* raw = p.get();
  p->recoverer = std::thread{[raw] { raw->recover_loop(); }};
  return std::unique_ptr<db>(new db(std::move(p)));
}

void db::impl::went_read_only(const std::string& error) {
  health copy;
  {
    std::lock_guard<std::mutex> guard{health_mutex};
    if (!state.writable)
      return; // already read-only: the first failure is the one reported
    state.writable = false;
    writable.store(false, std::memory_order_release);
    state.error = error;
    state.last_attempt.clear();
    ++state.read_only;
    read_only_since = std::chrono::steady_clock::now();
    copy = state;
  }
  health_cv.notify_all();
  notify(copy);
}

std::string db::impl::read_only_error() const {
  std::lock_guard<std::mutex> guard{health_mutex};
  return "IO error: the store is read-only after a failed write (" + state.error + "); recovering";
}

void db::impl::notify(const health& h) {
  std::lock_guard<std::mutex> guard{listener_mutex};
  if (listener)
    listener(h);
}

void db::impl::recover_loop() {
  std::unique_lock<std::mutex> lock{health_mutex};
  for (;;) {
    health_cv.wait(lock, [this] { return stopping || !state.writable; });
    auto delay = opts.recovery_first_delay;
    while (!state.writable) {
      if (health_cv.wait_for(lock, delay, [this] { return stopping; }))
        return;
      lock.unlock();
      bool reopened = false;
      auto why = try_recover(reopened);
      lock.lock();
      if (!why.empty()) {
        state.last_attempt = std::move(why);
        delay = std::min(delay * 2, opts.recovery_max_delay);
        continue;
      }
      state.writable = true;
      writable.store(true, std::memory_order_release);
      state.error.clear();
      state.last_attempt.clear();
      ++state.recoveries;
      state.reopens += reopened ? 1 : 0;
      state.read_only_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - read_only_since)
                               .count();
      auto copy = state;
      lock.unlock();
      notify(copy);
      lock.lock();
    }
    if (stopping)
      return;
  }
}

std::string db::impl::reserve_headroom() const {
  if (opts.recovery_headroom == 0)
    return {};
  auto path = opts.path + "/tidings-headroom-probe";
  auto failed = [&](const char* what, int err) {
    return std::string{what} + " " + std::to_string(opts.recovery_headroom >> 20) + " MiB in " +
           opts.path + ": " + std::error_code{err, std::generic_category()}.message();
  };
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return failed("cannot reserve", errno);
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(opts.recovery_headroom));
  ::close(fd);
  ::unlink(path.c_str());
  return rc == 0 ? std::string{} : failed("no room for", rc);
}

std::string db::impl::try_recover(bool& reopened) {
  if (auto why = reserve_headroom(); !why.empty())
    return why;
  {
    std::shared_lock<std::shared_mutex> lock{handle_mutex};
    if (handle) {
      auto st = handle->Resume();
      if (st.ok())
        return {};
      if (st.IsBusy())
        return "RocksDB is busy recovering: " + st.ToString();
    }
  }
  // RocksDB will not resume (a "fatal" background error) or the last reopen failed: close
  // and open again, which replays the WAL as after a crash.
  std::unique_lock<std::shared_mutex> lock{handle_mutex};
  close_handle();
  auto st = open_handle();
  if (!st.ok())
    return "reopening the database failed: " + st.ToString();
  reopened = true;
  return {};
}

lookup db::get(table t, std::string_view key) {
  if (impl_->opts.read_fault && impl_->opts.read_fault(t, key))
    return lookup::failure("IO error: injected read fault");
  impl::count(impl_->gets);
  auto use = impl_->share();
  if (!impl_->usable(use))
    return lookup::failure(reopening);
  std::string value;
  auto st = impl_->handle->Get(rocksdb::ReadOptions{}, impl_->cf(t), slice(key), &value);
  if (st.ok())
    return lookup::found_value(std::move(value));
  if (st.IsNotFound())
    return lookup::absent();
  return lookup::failure(st.ToString());
}

answer db::contains(table t, std::string_view key) {
  auto r = get(t, key);
  return r.failed() ? answer::failed : r.found() ? answer::yes : answer::no;
}

status db::write(batch& b) {
  return write_group({&b});
}

status db::write_group(const std::vector<batch*>& batches) {
  if (impl_->opts.write_fault && impl_->opts.write_fault())
    return {"IO error: injected write fault"};
  if (!impl_->writable.load(std::memory_order_acquire))
    return {impl_->read_only_error()};
  auto use = impl_->share();
  if (!impl_->usable(use))
    return {reopening};
  // One RocksDB batch per writing thread, reused: cleared, it keeps its buffer, so a group is
  // copied in without growing a fresh buffer by doubling (a chain of reallocations of 1 to
  // 20 KiB per group, each large enough to make glibc consolidate its fast bins).
  thread_local rocksdb::WriteBatch wb;
  wb.Clear();
  uint32_t puts = 0;
  for (const auto* b : batches) {
    b->impl_->each([&](batch::impl::kind k, table t, rocksdb::Slice a, rocksdb::Slice v) {
      auto* cf = impl_->cf(t);
      switch (k) {
      case batch::impl::kind::put:
        ++puts;
        wb.Put(cf, a, v);
        break;
      case batch::impl::kind::del:
        wb.Delete(cf, a);
        break;
      case batch::impl::kind::delete_range:
        wb.DeleteRange(cf, a, v);
        break;
      }
    });
  }
  auto st = impl_->handle->Write(impl_->write_opts, &wb);
  impl::count(impl_->writes);
  impl::count(impl_->deletes, wb.Count() - puts);
  impl::count(impl_->puts, puts);
  if (wb.GetDataSize() > kept_batch_bytes)
    wb = rocksdb::WriteBatch{}; // an exceptional group (an import) does not stay resident
  if (st.ok())
    return {};
  // RocksDB stops taking writes after such a failure until it is resumed: so does the store.
  if (st.IsIOError() || st.IsCorruption())
    impl_->went_read_only(st.ToString());
  return {st.ToString()};
}

/// An iterator bounded to [begin, end) of a table (the bounds live as long as it does).
struct db::range_iterator {
  rocksdb::Slice lower;
  rocksdb::Slice upper;
  std::unique_ptr<rocksdb::Iterator> it;

  range_iterator(impl& d, table t, std::string_view begin, std::string_view end)
      : lower(slice(begin)), upper(slice(end)) {
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    ro.iterate_upper_bound = &upper;
    impl::count(d.iterators);
    it.reset(d.handle->NewIterator(ro, d.cf(t)));
  }
};

status db::scan(table t, std::string_view begin, std::string_view end, std::size_t limit,
                const std::function<bool(std::string_view, std::string_view)>& visit) {
  if (impl_->opts.read_fault && impl_->opts.read_fault(t, begin))
    return {"IO error: injected read fault"};
  auto use = impl_->share();
  if (!impl_->usable(use))
    return {reopening};
  range_iterator range{*impl_, t, begin, end};
  auto& it = range.it;
  std::size_t n = 0;
  for (it->Seek(range.lower); it->Valid() && n < limit; it->Next(), ++n) {
    auto k = it->key();
    auto v = it->value();
    if (!visit({k.data(), k.size()}, {v.data(), v.size()}))
      break;
  }
  if (!it->status().ok())
    return {it->status().ToString()};
  return {};
}

lookup db::last_key(table t, std::string_view begin, std::string_view end) {
  if (impl_->opts.read_fault && impl_->opts.read_fault(t, begin))
    return lookup::failure("IO error: injected read fault");
  auto use = impl_->share();
  if (!impl_->usable(use))
    return lookup::failure(reopening);
  range_iterator range{*impl_, t, begin, end};
  auto& it = range.it;
  it->SeekToLast();
  if (it->Valid())
    return lookup::found_value(it->key().ToString());
  if (!it->status().ok())
    return lookup::failure(it->status().ToString());
  return lookup::absent();
}

status db::flush() {
  auto use = impl_->share();
  if (!impl_->usable(use))
    return {reopening};
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all(impl_->cfs.begin(), impl_->cfs.end());
  auto st = impl_->handle->Flush(fo, all);
  if (st.ok())
    st = impl_->handle->SyncWAL();
  if (!st.ok())
    return {st.ToString()};
  return {};
}

status db::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  auto st = rocksdb::Checkpoint::Create(impl_->handle.get(), &raw);
  if (!st.ok())
    return {st.ToString()};
  std::unique_ptr<rocksdb::Checkpoint> cp{raw};
  st = cp->CreateCheckpoint(dir);
  if (!st.ok())
    return {st.ToString()};
  return {};
}

void db::compact(table t, std::string_view begin, std::string_view end) {
  rocksdb::Slice b = slice(begin);
  rocksdb::Slice e = slice(end);
  auto use = impl_->share();
  if (!impl_->usable(use))
    return; // compacted later: nothing depends on it
  impl_->handle->CompactRange(rocksdb::CompactRangeOptions{}, impl_->cf(t), &b, &e);
}

const db_options& db::options() const {
  return impl_->opts;
}

health db::state() const {
  std::lock_guard<std::mutex> guard{impl_->health_mutex};
  return impl_->state;
}

void db::on_health(health_fn fn) {
  std::lock_guard<std::mutex> guard{impl_->listener_mutex};
  impl_->listener = std::move(fn);
}

db::counters db::stats() const {
  auto r = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return {r(impl_->writes), r(impl_->puts), r(impl_->deletes), r(impl_->gets), r(impl_->iterators)};
}

read_cost measure_reads(const std::function<void()>& fn) {
  auto before = rocksdb::GetPerfLevel();
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  fn();
  read_cost cost;
  cost.tombstones_skipped = rocksdb::get_perf_context()->internal_delete_skipped_count;
  cost.keys_skipped = rocksdb::get_perf_context()->internal_key_skipped_count;
  rocksdb::SetPerfLevel(before);
  return cost;
}

std::string be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

uint64_t from_be64(std::string_view bytes) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < bytes.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

} // namespace tidings::storage
