#include "media/access.hpp"

#include <cstdint>

#include "media/index.hpp"

namespace tidings::media {

bool exists(storage::db& db, std::string_view hash) {
  return db.get(storage::table::media, hash).found();
}

storage::answer may_read(storage::db& db, std::string_view hash, std::string_view user) {
  using storage::answer;
  if (auto granted = db.contains(storage::table::media_readers, pair_key(hash, user));
      granted != answer::no)
    return granted;
  bool failed = false;
  if (auto rec = read_record(db, hash, &failed); rec && rec->uploader == user)
    return answer::yes;
  if (failed)
    return answer::failed;
  // The avatar of any profile whose owner has not blocked `user`.
  auto range = prefix_range(hash);
  answer visible = answer::no;
  db.scan(storage::table::avatars, range.begin, range.end, SIZE_MAX,
          [&](std::string_view key, std::string_view) {
            auto owner = key.substr(range.begin.size());
            if (owner == user)
              visible = answer::yes;
            else if (auto blocked = db.contains(storage::table::blocks, pair_key(owner, user));
                     blocked != answer::yes)
              visible = blocked == answer::no ? answer::yes : answer::failed;
            return visible == answer::no;
          });
  return visible;
}

void grant(storage::batch& b, std::string_view hash, std::string_view user) {
  b.put(storage::table::media_readers, pair_key(hash, user), {});
}

} // namespace tidings::media
