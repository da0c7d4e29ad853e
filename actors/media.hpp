#pragma once
// media actor: one per node (`node_context::media`, the typed `media_service`).
//
// Owns: the media tables (`media`: one record per blob; `media_readers`: who may read it;
// `avatars`: whose avatar it is; `media_pending`: inbox items that name it) and the blob files
// under `<data-dir>/media`. Every write of those tables is decided here, one message at a time:
// upload commits, grants (a media message lets its recipient read), refreshes of `used`, and
// retention's deletions. Others ask instead of reading the tables: the session (may the sender send
// this hash), the inbox (grant the recipient, durably, before it answers `sent`), the profile shard
// (the user takes or leaves this avatar) and the HTTP gateway (uploads and downloads,
// actors/media_http.*). Invariants:
// - A blob's record exists only once its file is stored and synced under its hash name.
// - Retention never deletes a hash with any work in flight here (an index write, a file job,
//   or an upload commit), and a grant is a use: it sets `used` to now in the same write. So a
//   grant decided before retention looks at a hash keeps it (for `retention_ms` from then,
//   time for the inbox to store its item), and a grant that comes after
//   retention has decided answers `not_found` (no `sent` names a deleted blob).
// - While a hash is being deleted (index, then file), commits of it wait and are then stored
//   anew; grants, reads and downloads see it as gone.
// - Index writes go through the group writer in submission order; the record a hash will have
//   once its writes land is kept in memory (`busy`) until then, so decisions never read a
//   stale record.
// Blocking: RocksDB point reads and short scans here; writes go to the group writer thread;
// file syncs, renames and deletions run on `options::threads` detached file workers (each hash
// always on the same one, so its jobs keep their order), never on the scheduler.
// In a cluster (docs/DESIGN.md, "The cluster"), every hash has a home node (rendezvous over
// the hash): its media actor alone keeps the blob's file, record and grants, and answers every
// node's `may_read`, `grant`, `blob_info` and `offer`. An upload through another node is kept
// in that node's cache and offered to the home, which fetches it chunk by chunk (`read_chunk`,
// at most `transfer_chunk` bytes per message) before it stores and indexes it. A download
// through another node fetches the blob from the home into the cache the same way: at most
// `cache_bytes` of unpinned copies (least recently used go first; the newest copy and copies
// being offered stay), emptied at every start. Fetches run in detached fetcher actors (file
// writes), one per transfer; concurrent downloads of one hash share one fetch.
// Avatars and claims: the owner's profile shard tells the media actor of the hash's home when a
// user takes or leaves an avatar (`avatar`, awaited before the profile changes), and who may
// see an avatar is asked of the owners' profile shards (their block lists). A media message's
// grant carries the recipient's inbox seq, kept as a claim: before retention deletes an unused
// blob it asks each claiming inbox (`holds`, through the recipient's home) whether the item is
// still there. So the media actor reads only tables it writes, on any node.

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/pending_writes.hpp"
#include "media/blob_store.hpp"
#include "media/index.hpp"
#include "media/options.hpp"

namespace tidings {

/// A file worker (detached): the blocking file work of the media actor.
using blob_worker = caf::typed_actor<
    // sync the temporary file and move it under its hash: true stored, false already there
    caf::replies_to<atom::store_blob, std::string, std::string>::with<bool>,
    // delete a stored blob: true if it was there
    caf::replies_to<atom::remove_blob, std::string>::with<bool>,
    // remove a temporary file not to be stored
    caf::reacts_to<atom::drop_blob, std::string>,
    // move a finished temporary file into the cache (not synced): true stored, false there
    caf::replies_to<atom::cache_in, std::string, std::string>::with<bool>,
    // delete a cached copy
    caf::reacts_to<atom::evict, std::string>,
    // bytes of a blob (stored, else cached): (hash, offset, length)
    caf::replies_to<atom::read_chunk, std::string, uint64_t, uint32_t>::with<std::string>>;

/// A fetcher (detached, one per transfer): asks a media actor for a blob's bytes chunk by chunk,
/// writes them into a temporary file of its blob store and answers the file's path once size and
/// hash match.
using blob_fetcher = caf::typed_actor<caf::replies_to<atom::fetch>::with<std::string>>;

/// What one retention step did.
struct retention_stats {
  uint64_t examined = 0; ///< blobs looked at
  uint64_t deleted = 0;  ///< blobs deleted (record, grants and file)
  bool pass_done = false;
};

struct media_state {
  static inline const char* name = "media";

  /// A hash with work in flight.
  struct busy_hash {
    std::optional<media::record> staged; ///< the record once its index writes have landed
    unsigned writes = 0;                 ///< index writes in flight
    unsigned files = 0;                  ///< file stores in flight
    bool deleting = false;               ///< retention is removing it (index, then file)
    std::vector<std::function<void()>> after_delete; ///< commits waiting for the deletion
  };

  /// A local copy of a blob homed on another node.
  struct cached_copy {
    uint64_t size = 0;
    uint64_t last_use = 0; ///< `cache_clock` at its last use
    unsigned pins = 0;     ///< offers in flight: never evicted meanwhile
  };

  media_service::pointer self = nullptr;
  uint64_t handled = 0; ///< messages handled (spawn_counted)
  const node_context* ctx = nullptr;
  media::options opts;
  media::blob_store* blobs = nullptr;
  media::blob_store* cache = nullptr; ///< copies of blobs homed elsewhere (cluster only)
  std::unordered_map<std::string, cached_copy> copies;
  uint64_t cached_bytes = 0;
  uint64_t cache_clock = 0;
  /// Downloads waiting for a fetch into the cache, by hash.
  std::unordered_map<std::string, std::vector<caf::typed_response_promise<std::string>>> fetching;
  std::vector<blob_worker> workers;
  std::unordered_map<std::string, busy_hash> busy;
  pending_writes writes; ///< writes in flight, by id
  std::string cursor;    ///< first key of the next retention step

  void init(media_service::pointer s, const node_context* c, media::blob_store* b,
            media::blob_store* cache_store, media::options o);
  caf::result<bool> may_read(const std::string& hash, const std::string& user);
  /// `user` may read `hash` (a media message): with `seq` > 0, also the claim of the
  /// recipient's inbox item `seq` on the blob.
  caf::result<bool> grant(const std::string& hash, const std::string& user, uint64_t seq);
  /// `owner` takes (`on`) or leaves `hash` as their avatar: taking it needs read access
  /// (false: not allowed or no such blob); the avatar row keeps the blob from retention.
  caf::result<bool> avatar(const std::string& hash, const std::string& owner, bool on);
  caf::result<media_blob> blob_info(const std::string& hash, const std::string& user);
  caf::result<bool> commit(const media_upload& upload);
  /// The home's side of an upload through another node.
  caf::result<bool> offer(const media_offer& offer);
  caf::result<std::string> read_chunk(const std::string& hash, uint64_t offset, uint32_t length);
  /// The path of a local copy of `hash` (`size` bytes), fetched from its home if needed.
  caf::result<std::string> cached(const std::string& hash, uint64_t size);
  caf::result<uint64_t, uint64_t, bool> retain();
  /// The group writer finished write `id`.
  void on_written(uint64_t id, bool ok);
  /// The retention timer: one step, then the next one (at once within a pass).
  void tick();

private:
  /// The record of `hash` as it will be once the writes in flight land (absent while it is
  /// being deleted); `failed` if it cannot be read.
  storage::fetched<media::record> record_of(const std::string& hash);
  /// Hands `b` (changes of `hash`) to the group writer; `staged` is the record it leaves, if
  /// it writes one. `then` runs here once it completed.
  void write(const std::string& hash, storage::batch b, std::optional<media::record> staged,
             std::function<void(bool ok)> then);
  /// Forgets `hash`'s busy entry once nothing is in flight for it.
  void settle(const std::string& hash);
  const blob_worker& worker_for(const std::string& hash) const;
  /// Stores an upload in this node's temporary file here (after a deletion of the same
  /// hash, if one is running); answers `rp`.
  void store_upload(media_upload upload, caf::typed_response_promise<bool> rp);
  /// Keeps an upload homed elsewhere in the cache and offers it to the hash's home.
  void offer_upload(media_upload upload, caf::typed_response_promise<bool> rp);
  /// Fetches `hash` (`size` bytes) from `source` into a temporary file of `into`; `done` gets
  /// its path, or an error.
  void fetch(media_api source, const std::string& hash, uint64_t size, media::blob_store* into,
             std::function<void(caf::expected<std::string>)> done);
  /// Records a copy now in the cache (pinned `pins` times) and evicts over the budget.
  void keep_copy(const std::string& hash, uint64_t size, unsigned pins);
  /// Stores the file (or drops it, if that blob is stored), then indexes the upload.
  void start_commit(media_upload upload, caf::typed_response_promise<bool> rp);
  /// Writes the record (the first upload's) and the uploader's grant; answers `rp`.
  void index_upload(const media_upload& upload, bool new_file,
                    caf::typed_response_promise<bool> rp);
  /// Whether `user` may read `hash`: the media tables, then (for an avatar) the owners' profile
  /// shards, asked whether they blocked `user`. `done` runs here.
  void check_read(const std::string& hash, const std::string& user,
                  std::function<void(storage::answer)> done);
  /// Whether no inbox item still names `hash` (its claims, each asked of the recipient's
  /// inbox) and it is still unused since `cutoff`; the claims of acknowledged items go.
  void check_claims(const std::string& hash, int64_t cutoff,
                    std::function<void(bool unclaimed)> done);
  /// One retention step at the clock's time; `done` runs once its deletions have finished.
  void step(std::function<void(retention_stats)> done);
  /// Deletes an unused, unnamed blob: index first, then the file; `done(deleted)` at the end.
  void remove(const std::string& hash, std::function<void(bool)> done);
  /// The deletion of `hash` is over: runs the commits that waited for it.
  void end_delete(const std::string& hash);
};

/// Spawns its file workers (detached, linked) and serves the media_service interface.
/// `cache` holds local copies of blobs homed on other nodes (unused on a single node; may be
/// null there).
media_service::behavior_type media_actor(media_service::stateful_pointer<media_state> self,
                                         const node_context* ctx, media::blob_store* blobs,
                                         media::blob_store* cache, media::options opts);

} // namespace tidings
