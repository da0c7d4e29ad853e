#pragma once
// media::service: the HTTP side of media (PROTOCOL.md section 8): streamed, hashed uploads
// into the content-addressed blob store, authorised and ranged downloads, and retention.
//
// Owns: the blob store under `<data-dir>/media`, the media index rows it writes (`media`,
// `media_readers`), and a small thread pool for everything that may block for long.
// Callers authenticate: every method takes the user a bearer token already resolved to.
//
// Concurrency and blocking:
// - Upload chunks are hashed and written (page cache) on the Beast thread that read them:
//   short, bounded by one chunk. Sealing (fdatasync), the rename into the store (with
//   directory syncs) and the synced index write run on the service's pool, so a slow disk
//   never holds up another connection; the reply comes from the pool.
// - Downloads: the index lookups (point reads, a short prefix scan) run on the Beast thread;
//   the bytes are streamed from disk by net. Refreshing `used` is posted to the pool.
// - Retention steps run on the pool (or directly, in tests, with an explicit time).
// - Everything that touches one hash's file and index rows together (commit, retention
//   delete, `used` refresh) holds that hash's lock, so a blob is never deleted under a
//   concurrent upload of the same bytes, and two uploads of the same bytes store one file.
// Limits: at most `max_bytes` per blob (413), at most `max_uploads` uploads at once (503
// overloaded); an upload holds one chunk of memory (net's) plus a hasher.
// Lifecycle: construct -> start() -> stop() (joins the pool; pending uploads finish and
// reply first). Sinks handed out must be destroyed before the service.

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "media/blob_store.hpp"
#include "net/server.hpp"
#include "storage/db.hpp"

namespace tidings::media {

struct options {
  std::filesystem::path root;                ///< the blob store: `<data-dir>/media`
  uint64_t max_bytes = 64ull << 20;          ///< largest blob (413 above)
  int64_t retention_ms = 0;                  ///< delete unneeded blobs unused this long; 0 = never
  int64_t retention_interval_ms = 3'600'000; ///< pause between two retention passes
  std::size_t retention_batch = 1000;        ///< blobs examined per retention step
  int64_t used_refresh_ms = 3'600'000;       ///< `used` is rewritten at most this often per blob
  std::size_t max_uploads = 64;              ///< concurrent uploads before 503 overloaded
  std::size_t threads = 2;                   ///< the pool for syncs, renames and index writes
  std::function<int64_t()> now;              ///< ms since the epoch (system clock if empty)
};

struct retention_stats {
  std::size_t examined = 0; ///< blobs looked at in this step
  std::size_t deleted = 0;  ///< blobs deleted (file and index rows)
  bool pass_done = false;   ///< the step reached the end of the table (next starts over)
};

class service {
public:
  service(storage::db& db, options opts);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Starts the periodic retention passes (if retention is on).
  void start();
  /// Stops retention and waits for pending uploads to be committed and answered. Idempotent.
  void stop();

  /// The body route of `POST /v1/media` for `user`: a sink that stores the body, or a refusal
  /// (400 without Content-Type, 413 for a declared size over the limit, 503 when busy).
  net::body_route upload(const std::string& user, const net::http_request& head);
  /// `GET` or `HEAD /v1/media/HASH` for `user` (net omits the body of HEAD answers).
  net::http_response download(const std::string& user, std::string_view hash,
                              const net::http_request& request);
  /// One retention step at time `now`: examines up to `retention_batch` blobs after the last
  /// one examined and deletes those nobody may still need (see docs/OPERATIONS.md).
  retention_stats retention_step(int64_t now);

  const blob_store& store() const { return store_; }
  const options& settings() const { return opts_; }
  /// Uploads between their first byte and their answer.
  std::size_t uploads_in_progress() const { return uploads_.load(); }

private:
  class upload_sink;
  struct retention_timer;

  std::mutex& lock_for(std::string_view hash);
  /// Seals, stores and indexes a finished upload; returns the answer (on the pool).
  net::http_response commit(std::unique_ptr<temp_blob> blob, const std::string& user,
                            const std::string& mime);
  void touch(std::string hash);
  void schedule_retention(int64_t delay_ms);

  storage::db& db_;
  options opts_;
  blob_store store_;
  std::array<std::mutex, 64> locks_;
  std::atomic<std::size_t> uploads_{0};
  std::mutex cursor_mutex_;
  std::string cursor_; ///< first key of the next retention step
  struct pool;
  std::unique_ptr<pool> pool_;
};

} // namespace tidings::media
