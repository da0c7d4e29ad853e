#pragma once
// Who may read a media hash (PROTOCOL.md section 8), as functions of the stored data. CAF-free:
// called by the media actor, which answers everyone else's questions (downloads, media
// messages, avatars) and writes every grant.
//
// A user may read a hash if they uploaded it, were granted it (they received a media message
// naming it, or uploaded the same bytes themselves), or it is the current avatar of a profile
// whose owner has not blocked them. The first two are facts of the media tables and are
// answered here; the last needs the owners' block lists, which their profile shards keep: the
// media actor asks them (actors/media.cpp).
// Blocking: point reads in RocksDB. Thread-safe.

#include <string_view>

#include "storage/db.hpp"

namespace tidings::media {

/// True if a blob with this hash is stored (false if that cannot be read).
bool exists(storage::db& db, std::string_view hash);

/// uploader or granted reader; `failed` when storage could not answer (callers answer
/// `unavailable`, never `forbidden`).
storage::answer is_reader(storage::db& db, std::string_view hash, std::string_view user);

/// adds to `b` the read grant for `user` (an upload grants the uploader, a media message the
/// recipient)
void grant(storage::batch& b, std::string_view hash, std::string_view user);

} // namespace tidings::media
