#include "storage/inbox_log.hpp"

#include <algorithm>

namespace tidings::storage {

std::string inbox_log::item_key(std::string_view user, uint64_t seq) {
  std::string key{user};
  key += '\0';
  key += be64(seq);
  return key;
}

inbox_log::inbox_log(db& store, std::string user) : db_(store), user_(std::move(user)) {
  auto meta = db_.get(table::inbox_meta, user_);
  if (meta.failed()) {
    loaded_ = {meta.error()};
    return;
  }
  if (!meta.found())
    return; // a new inbox
  const auto& v = meta.value();
  next_seq_ = from_be64(v);
  if (v.size() >= 16) {
    first_seq_ = std::min(from_be64(std::string_view{v}.substr(8)), next_seq_);
    return;
  }
  // Written by an older version: find the first item once (the next write records it).
  first_seq_ = next_seq_;
  db_.scan(table::inbox, item_key(user_, 0), item_key(user_, next_seq_), 1,
           [this](std::string_view key, std::string_view) {
             first_seq_ = from_be64(key.substr(key.size() - 8));
             return false;
           });
}

std::string inbox_log::meta_value(uint64_t next, uint64_t first) const {
  return be64(next) + be64(first);
}

status inbox_log::append(const std::vector<std::string>& items, batch& extra,
                         std::vector<uint64_t>* seqs) {
  uint64_t seq = next_seq_;
  for (const auto& item : items) {
    if (seqs != nullptr)
      seqs->push_back(seq);
    extra.put(table::inbox, item_key(user_, seq++), item);
  }
  extra.put(table::inbox_meta, user_, meta_value(seq, first_seq_));
  auto st = db_.write(extra);
  if (st.ok())
    next_seq_ = seq;
  else if (seqs != nullptr)
    seqs->resize(seqs->size() - items.size());
  return st;
}

std::vector<inbox_entry> inbox_log::read(uint64_t from, std::size_t max) {
  std::vector<inbox_entry> out;
  from = std::max(from, first_seq_);
  if (from >= next_seq_ || max == 0)
    return out;
  db_.scan(table::inbox, item_key(user_, from), item_key(user_, next_seq_), max,
           [&out](std::string_view key, std::string_view value) {
             out.push_back({from_be64(key.substr(key.size() - 8)), std::string{value}});
             return true;
           });
  return out;
}

status inbox_log::remove_upto(uint64_t upto, batch& extra) {
  upto = std::min(upto, next_seq_ - 1);
  if (upto < first_seq_ && extra.count() == 0)
    return {};
  // Point deletes, not DeleteRange: every iterator over a memtable holding range tombstones
  // re-fragments them, which dominated the node's CPU under load. Reads start at first_seq_
  // (iterate_lower_bound), so these tombstones are never scanned.
  for (uint64_t seq = first_seq_; seq <= upto; ++seq)
    extra.del(table::inbox, item_key(user_, seq));
  if (upto >= first_seq_)
    extra.put(table::inbox_meta, user_, meta_value(next_seq_, upto + 1));
  auto st = db_.write(extra);
  if (st.ok())
    first_seq_ = std::max(first_seq_, upto + 1);
  return st;
}

} // namespace tidings::storage
