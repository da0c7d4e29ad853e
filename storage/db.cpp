#include "storage/db.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

namespace tidings::storage {

namespace {

constexpr std::array<const char*, table_count> names = {
    "inbox",    "inbox_meta",    "dedupe",        "accounts", "tokens",
    "received", "profiles",      "contacts",      "blocks",   "lastseen",
    "media",    "media_readers", "media_pending", "avatars",  "handoff"};
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

} // namespace

const char* table_name(table t) {
  return names[static_cast<std::size_t>(t)];
}

struct batch::impl {
  enum class kind : uint8_t { put, del, delete_range };
  struct op {
    kind k;
    table t;
    std::string a; ///< key, or range begin
    std::string b; ///< value, or range end
  };
  std::vector<op> ops;
};

batch::batch() : impl_(std::make_unique<impl>()) {}
batch::~batch() = default;
batch::batch(batch&&) noexcept = default;
batch& batch::operator=(batch&&) noexcept = default;

void batch::put(table t, std::string_view key, std::string_view value) {
  impl_->ops.push_back({impl::kind::put, t, std::string{key}, std::string{value}});
}

void batch::del(table t, std::string_view key) {
  impl_->ops.push_back({impl::kind::del, t, std::string{key}, {}});
}

void batch::delete_range(table t, std::string_view begin, std::string_view end) {
  impl_->ops.push_back({impl::kind::delete_range, t, std::string{begin}, std::string{end}});
}

std::size_t batch::count() const {
  return impl_->ops.size();
}

struct db::impl {
  db_options opts;
  std::unique_ptr<rocksdb::DB> handle;
  std::array<rocksdb::ColumnFamilyHandle*, table_count> cfs{};
  rocksdb::WriteOptions write_opts;

  rocksdb::ColumnFamilyHandle* cf(table t) const { return cfs[static_cast<std::size_t>(t)]; }

  ~impl() {
    for (auto* h : cfs)
      if (h != nullptr)
        handle->DestroyColumnFamilyHandle(h);
    if (handle)
      handle->Close();
  }
};

db::db(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
db::~db() = default;

std::unique_ptr<db> db::open(const db_options& opts) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.level_compaction_dynamic_level_bytes = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opts);
  // Queue-shaped tables (written once, deleted once acknowledged or expired): an SST file
  // whose keys are mostly tombstones is compacted soon, so deleted ranges do not linger for
  // reads to step over. 128 of any 1,024 consecutive keys being deletes marks a file.
  rocksdb::ColumnFamilyOptions queue_opts = cf_opts;
  queue_opts.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(1024, 128));
  rocksdb::ColumnFamilyOptions inbox_opts = queue_opts;
  inbox_opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<owner_prefix>();
  for (std::size_t i = 0; i < table_count; ++i) {
    auto t = static_cast<table>(i);
    bool queue = t == table::inbox || t == table::dedupe || t == table::received ||
                 t == table::media_pending || t == table::handoff;
    descriptors.emplace_back(names[i], t == table::inbox ? inbox_opts
                                       : queue           ? queue_opts
                                                         : cf_opts);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(options, opts.path, descriptors, &handles, &raw);
  if (!st.ok()) {
    auto why = st.ToString();
    if (why.find("lock file") != std::string::npos)
      throw std::runtime_error("the data directory " + opts.path +
                               " is in use by another process (its LOCK is held; another "
                               "tidings-node?): " +
                               why);
    throw std::runtime_error("cannot open the database in " + opts.path + ": " + why);
  }
  auto p = std::make_unique<impl>();
  p->opts = opts;
  p->handle.reset(raw);
  raw->DestroyColumnFamilyHandle(handles[0]); // the default family is unused
  for (std::size_t i = 0; i < table_count; ++i)
    p->cfs[i] = handles[i + 1];
  p->write_opts.sync = opts.sync;
  return std::unique_ptr<db>(new db(std::move(p)));
}

lookup db::get(table t, std::string_view key) {
  if (impl_->opts.read_fault && impl_->opts.read_fault(t, key))
    return lookup::failure("IO error: injected read fault");
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
  rocksdb::WriteBatch wb;
  for (const auto* b : batches) {
    for (const auto& op : b->impl_->ops) {
      auto* cf = impl_->cf(op.t);
      switch (op.k) {
      case batch::impl::kind::put:
        wb.Put(cf, op.a, op.b);
        break;
      case batch::impl::kind::del:
        wb.Delete(cf, op.a);
        break;
      case batch::impl::kind::delete_range:
        wb.DeleteRange(cf, op.a, op.b);
        break;
      }
    }
  }
  auto st = impl_->handle->Write(impl_->write_opts, &wb);
  if (!st.ok())
    return {st.ToString()};
  return {};
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
    it.reset(d.handle->NewIterator(ro, d.cf(t)));
  }
};

status db::scan(table t, std::string_view begin, std::string_view end, std::size_t limit,
                const std::function<bool(std::string_view, std::string_view)>& visit) {
  if (impl_->opts.read_fault && impl_->opts.read_fault(t, begin))
    return {"IO error: injected read fault"};
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
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all(impl_->cfs.begin(), impl_->cfs.end());
  auto st = impl_->handle->Flush(fo, all);
  if (st.ok())
    st = impl_->handle->SyncWAL();
  if (!st.ok())
    return {st.ToString()};
  return {};
}

void db::compact(table t, std::string_view begin, std::string_view end) {
  rocksdb::Slice b = slice(begin);
  rocksdb::Slice e = slice(end);
  impl_->handle->CompactRange(rocksdb::CompactRangeOptions{}, impl_->cf(t), &b, &e);
}

const db_options& db::options() const {
  return impl_->opts;
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
