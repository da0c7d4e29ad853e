#include "media/access.hpp"

#include <cstdint>

#include "media/index.hpp"

namespace tidings::media {

bool exists(storage::db& db, std::string_view hash) {
  return db.get(storage::table::media, hash).found();
}

storage::answer is_reader(storage::db& db, std::string_view hash, std::string_view user) {
  using storage::answer;
  if (auto granted = db.contains(storage::table::media_readers, pair_key(hash, user));
      granted != answer::no)
    return granted;
  bool failed = false;
  if (auto rec = read_record(db, hash, &failed); rec && rec->uploader == user)
    return answer::yes;
  return failed ? answer::failed : answer::no;
}

void grant(storage::batch& b, std::string_view hash, std::string_view user) {
  b.put(storage::table::media_readers, pair_key(hash, user), {});
}

} // namespace tidings::media
