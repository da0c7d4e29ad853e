#include "storage/inbox_log.hpp"

#include <algorithm>

namespace tidings::storage {

std::string inbox_log::item_key(std::string_view user, uint64_t seq) {
  std::string key{user};
  key += '\0';
  key += be64(seq);
  return key;
}

std::string inbox_log::first_key(std::string_view user) {
  std::string key{user};
  key += '\0';
  key += "first";
  return key;
}

inbox_log::inbox_log(db& store, std::string user) : db_(store), user_(std::move(user)) {
  auto next = db_.get(table::inbox_meta, user_);
  auto first = next.failed() ? next : db_.get(table::inbox_meta, first_key(user_));
  uint64_t lower = first.found() ? from_be64(first.value()) : 0;
  // The next seq: past the last item still stored and past the first live seq (which covers an
  // inbox emptied by acks). Neither appends nor removals write a counter of their own.
  auto last = first.failed()
                  ? first
                  : db_.last_key(table::inbox, item_key(user_, lower), item_key(user_, UINT64_MAX));
  if (last.failed()) {
    loaded_ = {last.error()};
    return;
  }
  // Every seq anyone saw is either still stored or below the first live seq (removals write
  // it): past both is new. (`next` is what versions before this one recorded at removals.)
  next_seq_ = std::max(next_seq_, lower);
  if (next.found())
    next_seq_ = std::max(next_seq_, from_be64(next.value()));
  if (last.found())
    next_seq_ = std::max(
        next_seq_, from_be64(std::string_view{last.value()}.substr(last.value().size() - 8)) + 1);
  if (first.found()) {
    first_seq_ = std::min(lower, next_seq_);
    return;
  }
  // Written before first seqs were kept: find the first item once (the next ack records it).
  first_seq_ = next_seq_;
  db_.scan(table::inbox, item_key(user_, 0), item_key(user_, next_seq_), 1,
           [this](std::string_view key, std::string_view) {
             first_seq_ = from_be64(key.substr(key.size() - 8));
             return false;
           });
}

std::vector<uint64_t> inbox_log::stage_append(const std::vector<std::string>& items, batch& b) {
  std::vector<uint64_t> seqs;
  seqs.reserve(items.size());
  for (const auto& item : items)
    seqs.push_back(stage_append(item, b));
  return seqs;
}

uint64_t inbox_log::stage_append(std::string_view item, batch& b) {
  b.put(table::inbox, item_key(user_, next_seq_), item);
  return next_seq_++; // the next seq is implied by the items (see the constructor)
}

uint64_t inbox_log::stage_remove(uint64_t upto, batch& b) {
  upto = std::min(upto, next_seq_ - 1);
  if (upto < first_seq_)
    return first_seq_;
  // Point deletes, not DeleteRange: every iterator over a memtable holding range tombstones
  // re-fragments them, which dominated the node's CPU under load. Reads start at first_seq_
  // (iterate_lower_bound), so these tombstones are never scanned.
  auto first = first_key(user_);
  auto key_bytes = user_.size() + 1 + 8; // an item key: user, NUL, big-endian seq
  b.reserve(upto - first_seq_ + 2, (upto - first_seq_ + 1) * key_bytes + first.size() + 8);
  for (uint64_t seq = first_seq_; seq <= upto; ++seq)
    b.del(table::inbox, item_key(user_, seq));
  // The first live seq also bounds the next seq from below once these items are gone (see the
  // constructor): one meta key per removal.
  b.put(table::inbox_meta, first, be64(upto + 1));
  return upto + 1;
}

void inbox_log::removed(uint64_t new_first) {
  first_seq_ = std::max(first_seq_, new_first);
}

status inbox_log::append(const std::vector<std::string>& items, batch& extra,
                         std::vector<uint64_t>* seqs) {
  auto reserved = stage_append(items, extra);
  auto st = db_.write(extra);
  if (st.ok() && seqs != nullptr)
    seqs->insert(seqs->end(), reserved.begin(), reserved.end());
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
  auto new_first = stage_remove(upto, extra);
  if (new_first == first_seq_ && extra.count() == 0)
    return {};
  auto st = db_.write(extra);
  if (st.ok())
    removed(new_first);
  return st;
}

} // namespace tidings::storage
