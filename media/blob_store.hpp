#pragma once
// The content-addressed file store of media: `<root>/ab/cd/<hash>` (ab and cd are the first
// two and next two hex digits of the hash), and `<root>/tmp/` for uploads in progress.
//
// Invariants: a file under its hash name is complete, synced and never changes (it is only
// ever renamed into place after fdatasync, and the directory entry is synced too); `tmp/`
// holds nothing that matters (it is emptied at start). Two commits of the same hash at once,
// or a commit and a removal of one hash, must be serialised by the caller (the media actor's
// file workers take every hash on one worker).
// Blocking: every call but path_of does file-system I/O (commit and remove sync); nothing here
// touches RocksDB. Thread-safe for different hashes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "media/sha256.hpp"

namespace tidings::media {

/// An upload in progress: a temporary file, written and hashed chunk by chunk. Removed by the
/// destructor unless it was finished. Not thread-safe (one connection writes it).
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
  /// Closes the file (not synced: blob_store::commit does that) and returns the hash; "" on
  /// an I/O error. The file at path() then belongs to the caller: committed or discarded.
  std::string finish();
  const std::filesystem::path& path() const { return path_; }

private:
  int fd_;
  std::filesystem::path path_;
  sha256 hash_;
  uint64_t size_ = 0;
  bool finished_ = false; ///< handed over by finish(): no longer this object's to remove
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
  /// Syncs a finished temporary file and moves it under its hash (syncing the directories),
  /// or drops it if that blob is already stored. On failure the temporary file is removed.
  /// With `durable` false nothing is synced (a cache, emptied at every start).
  commit_result commit(const std::filesystem::path& temp, std::string_view hash,
                       bool durable = true);
  /// Up to `length` bytes of a stored blob from `offset` into `out` (fewer at its end);
  /// false if the blob is not here or cannot be read.
  bool read(std::string_view hash, uint64_t offset, std::size_t length, std::string& out) const;
  /// Removes a finished temporary file that is not to be stored.
  void discard(const std::filesystem::path& temp);
  /// Deletes a stored blob and syncs its directory; true if it was there.
  bool remove(std::string_view hash);

private:
  std::filesystem::path root_;
  std::filesystem::path temp_;
};

} // namespace tidings::media
