#include "media/blob_store.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tidings::media {

namespace fs = std::filesystem;

namespace {

void log_errno(const char* what, const fs::path& path) {
  std::cerr << "tidings: media: " << what << " " << path.string() << ": " << std::strerror(errno)
            << "\n";
}

/// fsync of a directory, so a rename or unlink in it survives a power cut.
bool sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    log_errno("cannot open directory", dir);
    return false;
  }
  bool ok = ::fsync(fd) == 0;
  if (!ok)
    log_errno("cannot sync directory", dir);
  ::close(fd);
  return ok;
}

/// Creates `dir` if missing; a new entry is made durable by syncing `parent`.
bool make_dir(const fs::path& dir, const fs::path& parent, bool durable = true) {
  if (::mkdir(dir.c_str(), 0750) == 0)
    return !durable || sync_dir(parent);
  if (errno == EEXIST)
    return true;
  log_errno("cannot create directory", dir);
  return false;
}

std::string temp_name() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[48];
  std::snprintf(buf, sizeof buf, "upload-%016llx-%llu", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(++counter));
  return buf;
}

} // namespace

temp_blob::temp_blob(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}

temp_blob::~temp_blob() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!finished_)
    ::unlink(path_.c_str());
}

bool temp_blob::write(const char* data, std::size_t size) {
  hash_.update(data, size);
  while (size > 0) {
    auto n = ::write(fd_, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      log_errno("cannot write", path_);
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  return true;
}

std::string temp_blob::finish() {
  bool ok = ::close(fd_) == 0;
  fd_ = -1;
  if (!ok) {
    log_errno("cannot close", path_);
    return {};
  }
  finished_ = true;
  return hash_.hex_digest();
}

blob_store::blob_store(fs::path root) : root_(std::move(root)), temp_(root_ / "tmp") {
  std::error_code ec;
  fs::create_directories(temp_, ec);
  if (ec)
    throw std::runtime_error("cannot create " + temp_.string() + ": " + ec.message());
  // Uploads cut short by a crash: nothing refers to them.
  for (auto& entry : fs::directory_iterator(temp_, ec))
    fs::remove(entry.path(), ec);
}

fs::path blob_store::path_of(std::string_view hash) const {
  std::string h{hash};
  return root_ / h.substr(0, 2) / h.substr(2, 2) / h;
}

bool blob_store::contains(std::string_view hash) const {
  struct stat st {};
  return ::stat(path_of(hash).c_str(), &st) == 0;
}

std::unique_ptr<temp_blob> blob_store::create_temp() {
  auto path = temp_ / temp_name();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    log_errno("cannot create", path);
    return nullptr;
  }
  return std::make_unique<temp_blob>(fd, std::move(path));
}

blob_store::commit_result blob_store::commit(const fs::path& temp, std::string_view hash,
                                             bool durable) {
  auto target = path_of(hash);
  if (contains(hash)) {
    discard(temp);
    return commit_result::already_stored;
  }
  auto failed = [&] {
    discard(temp);
    return commit_result::failed;
  };
  int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    log_errno("cannot open", temp);
    return failed();
  }
  bool synced = !durable || ::fdatasync(fd) == 0;
  if (!synced)
    log_errno("cannot sync", temp);
  ::close(fd);
  auto inner = target.parent_path();
  auto outer = inner.parent_path();
  if (!synced || !make_dir(outer, root_, durable) || !make_dir(inner, outer, durable))
    return failed();
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    log_errno("cannot rename into", target);
    return failed();
  }
  if (durable && !sync_dir(inner))
    return commit_result::failed; // in place but maybe not durable: the next upload adopts it
  return commit_result::stored;
}

bool blob_store::read(std::string_view hash, uint64_t offset, std::size_t length,
                      std::string& out) const {
  auto path = path_of(hash);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      log_errno("cannot open", path);
    return false;
  }
  out.resize(length);
  std::size_t got = 0;
  bool ok = true;
  while (got < length) {
    auto n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      log_errno("cannot read", path);
      ok = false;
      break;
    }
    if (n == 0)
      break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return ok;
}

void blob_store::discard(const fs::path& temp) {
  if (::unlink(temp.c_str()) != 0 && errno != ENOENT)
    log_errno("cannot delete", temp);
}

bool blob_store::remove(std::string_view hash) {
  auto path = path_of(hash);
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT)
      log_errno("cannot delete", path);
    return false;
  }
  sync_dir(path.parent_path());
  return true;
}

} // namespace tidings::media
