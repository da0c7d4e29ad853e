#pragma once
// The content-addressed file store of media: `<root>/ab/cd/<hash>` (ab and cd are the first
// two and next two hex digits of the hash), and `<root>/tmp/` for uploads in progress.
//
// Invariants: a file under its hash name is complete, synced and never changes (it is only
// ever renamed into place after fdatasync, and the directory entry is synced too); `tmp/`
// holds nothing that matters (it is emptied at start). Two commits of the same hash at once
// must be serialised by the caller (the media service locks per hash).
// Blocking: every call does file-system I/O; nothing here touches RocksDB. Thread-safe
// for different hashes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "media/sha256.hpp"

namespace tidings::media {

/// An upload in progress: a temporary file, written and hashed chunk by chunk. Removed by the
/// destructor unless it was committed. Not thread-safe (one connection writes it).
class temp_blob {
public:
  temp_blob(int fd, std::filesystem::path path);
  ~temp_blob();
  temp_blob(const temp_blob&) = delete;
  temp_blob& operator=(const temp_blob&) = delete;

  /// Appends bytes; false on an I/O error (the disk is full, say).
  bool write(const char* data, std::size_t size);
  /// Bytes written so far.
  uint64_t size() const { return size_; }
  /// Syncs the data to disk, closes the file and returns the hash; "" on an I/O error.
  std::string seal();
  const std::filesystem::path& path() const { return path_; }

private:
  friend class blob_store;
  int fd_;
  std::filesystem::path path_;
  sha256 hash_;
  uint64_t size_ = 0;
  bool moved_ = false; ///< renamed into the store or already removed
};

class blob_store {
public:
  enum class commit_result { stored, already_stored, failed };

  /// Creates `root` and `root/tmp` if missing and empties `root/tmp`. Throws
  /// std::runtime_error if they cannot be created.
  explicit blob_store(std::filesystem::path root);

  /// Where the blob of `hash` lives (whether or not it exists).
  std::filesystem::path path_of(std::string_view hash) const;
  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& temp_dir() const { return temp_; }
  bool contains(std::string_view hash) const;

  /// A new temporary file for an upload, or nullptr if it cannot be created.
  std::unique_ptr<temp_blob> create_temp();
  /// Moves a sealed temporary file under its hash (syncing the directories), or drops it if
  /// that blob is already stored.
  commit_result commit(temp_blob& blob, std::string_view hash);
  /// Deletes a stored blob and syncs its directory; true if it was there.
  bool remove(std::string_view hash);

private:
  std::filesystem::path root_;
  std::filesystem::path temp_;
};

} // namespace tidings::media
