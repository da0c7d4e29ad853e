#pragma once
// The settings of media (docs/OPERATIONS.md: --media.*), shared by the media actor and its
// HTTP side.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>

namespace tidings::media {

struct options {
  std::filesystem::path root;                ///< the blob store: `<data-dir>/media`
  uint64_t max_bytes = 64ull << 20;          ///< largest blob (413 above)
  int64_t retention_ms = 0;                  ///< delete unneeded blobs unused this long; 0 = never
  int64_t retention_interval_ms = 3'600'000; ///< pause between two retention passes
  std::size_t retention_batch = 1000;        ///< blobs examined per retention step
  int64_t used_refresh_ms = 3'600'000;       ///< downloads rewrite `used` at most this often
  std::size_t max_uploads = 64;              ///< concurrent uploads before 503 overloaded
  std::size_t threads = 2;                   ///< file workers (syncs, renames, deletes)
  uint64_t cache_bytes = 1ull << 30;         ///< cluster: local copies of blobs homed elsewhere
  uint32_t transfer_chunk = 256 * 1024;      ///< cluster: bytes per chunk between nodes
  std::size_t max_fetches = 32; ///< cluster: blobs fetched into the cache at once (more: 503)
  std::function<int64_t()> now;              ///< ms since the epoch (the node's clock if empty)
};

} // namespace tidings::media
