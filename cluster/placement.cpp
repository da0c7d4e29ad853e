#include "cluster/placement.hpp"

#include <algorithm>
#include <stdexcept>

namespace tidings::cluster {

namespace {

constexpr uint64_t fnv_offset = 0xcbf29ce484222325ULL;
constexpr uint64_t fnv_prime = 0x100000001b3ULL;

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  return h;
}

uint64_t splitmix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

} // namespace

uint64_t stable_hash(std::string_view bytes) {
  return splitmix64(fnv1a(fnv_offset, bytes));
}

std::size_t shard_of(std::string_view key, std::size_t shards) {
  return static_cast<std::size_t>(stable_hash(key) % shards);
}

placement::placement(std::vector<std::string> members) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
}

uint64_t placement::score(std::string_view member, std::string_view user) {
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  auto h = fnv1a(fnv_offset, member);
  h = fnv1a(h, std::string_view{"\0", 1});
  return splitmix64(fnv1a(h, user));
}

const std::string& placement::home(std::string_view user) const {
  if (members_.empty())
    throw std::logic_error("placement::home needs at least one member");
  const std::string* best = &members_.front();
  uint64_t best_score = score(*best, user);
  for (const auto& m : members_) {
    auto s = score(m, user);
    if (s > best_score) { // ties (2^-64) go to the smallest id: members_ is sorted
      best = &m;
      best_score = s;
    }
  }
  return *best;
}

} // namespace tidings::cluster
