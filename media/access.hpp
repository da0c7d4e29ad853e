#pragma once
// Who may read a media hash (PROTOCOL.md section 8), as functions of the stored data. CAF-free:
// called by the media actor, which answers everyone else's questions (downloads, media
// messages, avatars) and writes every grant.
//
// A user may read a hash if they uploaded it, were granted it (they received a media message
// naming it, or uploaded the same bytes themselves), or it is the current avatar of a profile
// whose owner has not blocked them.
// Blocking: point reads and short prefix scans in RocksDB. Thread-safe.

#include <string_view>

#include "storage/db.hpp"

namespace tidings::media {

/// True if a blob with this hash is stored (false if that cannot be read).
bool exists(storage::db& db, std::string_view hash);

/// uploader, granted reader, or the avatar of an owner who has not blocked `user`; `failed`
/// when storage could not answer (callers answer `unavailable`, never `forbidden`).
storage::answer may_read(storage::db& db, std::string_view hash, std::string_view user);

/// adds to `b` the read grant for `user` (an upload grants the uploader, a media message the
/// recipient)
void grant(storage::batch& b, std::string_view hash, std::string_view user);

} // namespace tidings::media
