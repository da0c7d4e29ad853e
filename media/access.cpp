#include "media/access.hpp"

#include <cstdint>

#include "media/index.hpp"

namespace tidings::media {

bool exists(storage::db& db, std::string_view hash) {
  return db.get(storage::table::media, hash).has_value();
}

bool may_read(storage::db& db, std::string_view hash, std::string_view user) {
  if (db.get(storage::table::media_readers, pair_key(hash, user)))
    return true;
  if (auto rec = read_record(db, hash); rec && rec->uploader == user)
    return true;
  // The avatar of any profile whose owner has not blocked `user`.
  auto range = prefix_range(hash);
  bool visible = false;
  db.scan(storage::table::avatars, range.begin, range.end, SIZE_MAX,
          [&](std::string_view key, std::string_view) {
            auto owner = key.substr(range.begin.size());
            visible = owner == user || !db.get(storage::table::blocks, pair_key(owner, user));
            return !visible;
          });
  return visible;
}

void grant(storage::batch& b, std::string_view hash, std::string_view user) {
  b.put(storage::table::media_readers, pair_key(hash, user), {});
}

} // namespace tidings::media
