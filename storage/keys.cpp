#include "storage/keys.hpp"

#include "storage/db.hpp"

namespace tidings::storage {

std::string pair_key(std::string_view owner, std::string_view other) {
  std::string key;
  key.reserve(owner.size() + 1 + other.size());
  key.append(owner);
  key += '\0';
  key.append(other);
  return key;
}

key_range prefix_range(std::string_view owner) {
  std::string begin{owner};
  begin += '\0';
  std::string end{owner};
  end += '\x01';
  return {std::move(begin), std::move(end)};
}

std::string dedupe_key(std::string_view sender, std::string_view cid) {
  return pair_key(sender, cid);
}

std::string device_key(std::string_view user, uint64_t id) {
  std::string key{user};
  key.append("\0dev\0", 5);
  key += be64(id);
  return key;
}

key_range device_range(std::string_view user) {
  std::string begin{user};
  begin.append("\0dev\0", 5);
  std::string end{user};
  end.append("\0dev\1", 5);
  return {std::move(begin), std::move(end)};
}

std::string device_next_key(std::string_view user) {
  std::string key{user};
  key.append("\0devnext", 8);
  return key;
}

std::string received_key(std::string_view reader, std::string_view mid) {
  return pair_key(reader, mid);
}

std::string received_value(std::string_view sender, int64_t ts) {
  return pair_key(sender, be64(static_cast<uint64_t>(ts)));
}

std::string_view received_sender(std::string_view value) {
  return value.substr(0, value.find('\0'));
}

int64_t received_time(std::string_view value) {
  auto sep = value.find('\0');
  return sep == std::string_view::npos ? 0 : static_cast<int64_t>(from_be64(value.substr(sep + 1)));
}

std::string media_pending_key(std::string_view hash, std::string_view recipient, uint64_t seq) {
  return pair_key(pair_key(hash, recipient), be64(seq));
}

std::string handoff_queue_key(std::string_view home, uint64_t seq) {
  return pair_key("q" + std::string{home}, be64(seq));
}

std::string handoff_queue_end(std::string_view home) {
  return "q" + std::string{home} + '\x01';
}

std::string handoff_dedupe_key(std::string_view sender, std::string_view cid) {
  return "d" + pair_key(sender, cid);
}

std::string cluster_members_key() {
  return "members";
}

std::string cluster_received_key(std::string_view peer) {
  return pair_key("from", peer);
}

key_range cluster_received_range() {
  return prefix_range("from");
}

} // namespace tidings::storage
