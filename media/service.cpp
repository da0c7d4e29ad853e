#include "media/service.hpp"

#include <chrono>
#include <iostream>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "media/access.hpp"
#include "media/index.hpp"
#include "media/range.hpp"
#include "net/codec.hpp"

namespace tidings::media {

namespace asio = boost::asio;
using net::json;

namespace {

int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A Content-Type fit to store and hand out again: 1-127 printable ASCII characters.
bool valid_mime(std::string_view mime) {
  if (mime.empty() || mime.size() > 127)
    return false;
  for (char c : mime)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

} // namespace

struct service::pool {
  asio::thread_pool threads;
  asio::steady_timer timer;
  std::atomic<bool> stopping{false};
  bool joined = false;

  explicit pool(std::size_t n) : threads(std::max<std::size_t>(1, n)), timer(threads) {}
};

/// Counts an upload from its first byte to its answer.
class upload_slot {
public:
  explicit upload_slot(std::atomic<std::size_t>& counter) : counter_(&counter) { ++*counter_; }
  upload_slot(upload_slot&& o) noexcept : counter_(std::exchange(o.counter_, nullptr)) {}
  upload_slot& operator=(upload_slot&&) = delete;
  ~upload_slot() { release(); }
  /// Ends the count early (before the answer goes out).
  void release() {
    if (counter_ != nullptr)
      --*counter_;
    counter_ = nullptr;
  }

private:
  std::atomic<std::size_t>* counter_;
};

/// One upload: writes and hashes chunks into a temporary file, hands it to the pool at the end.
/// Destroyed early (refused, connection lost): the temporary file goes with it.
class service::upload_sink : public net::body_sink {
public:
  upload_sink(service& svc, std::string user, std::string mime, std::unique_ptr<temp_blob> blob,
              upload_slot slot)
      : svc_(svc), user_(std::move(user)), mime_(std::move(mime)), blob_(std::move(blob)),
        slot_(std::move(slot)) {}

  std::optional<net::http_response> write(const char* data, std::size_t size) override {
    if (blob_->size() + size > svc_.opts_.max_bytes)
      return too_large(svc_.opts_.max_bytes);
    if (!blob_->write(data, size))
      return net::error_response(503, "unavailable", "cannot store the upload");
    return std::nullopt;
  }

  void finish(net::http_reply reply) override {
    asio::post(svc_.pool_->threads, [&svc = svc_, blob = std::move(blob_), user = std::move(user_),
                                     mime = std::move(mime_), slot = std::move(slot_),
                                     reply = std::move(reply)]() mutable {
      auto res = svc.commit(std::move(blob), user, mime);
      slot.release();
      reply(std::move(res));
    });
  }

  static net::http_response too_large(uint64_t limit) {
    return net::error_response(413, "too_large",
                               "media larger than " + std::to_string(limit) + " bytes");
  }

private:
  service& svc_;
  std::string user_;
  std::string mime_;
  std::unique_ptr<temp_blob> blob_;
  upload_slot slot_;
};

service::service(storage::db& db, options opts)
    : db_(db), opts_(std::move(opts)), store_(opts_.root),
      pool_(std::make_unique<pool>(opts_.threads)) {
  if (!opts_.now)
    opts_.now = system_ms;
}

service::~service() {
  stop();
}

void service::start() {
  if (opts_.retention_ms > 0)
    schedule_retention(opts_.retention_interval_ms);
}

void service::stop() {
  if (pool_->joined)
    return;
  pool_->stopping = true;
  asio::post(pool_->timer.get_executor(), [p = pool_.get()] { p->timer.cancel(); });
  pool_->threads.join(); // runs what is queued: pending commits answer first
  pool_->joined = true;
}

std::mutex& service::lock_for(std::string_view hash) {
  auto byte = std::stoul(std::string{hash.substr(0, 2)}, nullptr, 16);
  return locks_[byte % locks_.size()];
}

net::body_route service::upload(const std::string& user, const net::http_request& head) {
  net::body_route route;
  if (!valid_mime(head.content_type)) {
    route.refusal = net::error_response(400, "bad_request",
                                        "Content-Type is required (1-127 printable characters)");
    return route;
  }
  if (head.content_length && *head.content_length > opts_.max_bytes) {
    route.refusal = upload_sink::too_large(opts_.max_bytes);
    return route;
  }
  if (uploads_.load() >= opts_.max_uploads) {
    route.refusal = net::error_response(503, "overloaded", "too many uploads, retry later");
    route.refusal->headers.emplace_back("Retry-After", "1");
    return route;
  }
  upload_slot slot{uploads_};
  auto blob = store_.create_temp();
  if (!blob) {
    route.refusal = net::error_response(503, "unavailable", "cannot store uploads now");
    return route;
  }
  route.sink = std::make_unique<upload_sink>(*this, user, head.content_type, std::move(blob),
                                             std::move(slot));
  return route;
}

net::http_response service::commit(std::unique_ptr<temp_blob> blob, const std::string& user,
                                   const std::string& mime) {
  auto size = blob->size();
  auto hash = blob->seal();
  if (hash.empty())
    return net::error_response(503, "unavailable", "cannot store the upload");
  {
    std::lock_guard<std::mutex> guard{lock_for(hash)};
    if (store_.commit(*blob, hash) == blob_store::commit_result::failed)
      return net::error_response(503, "unavailable", "cannot store the upload");
    auto now = opts_.now();
    bool failed = false;
    auto rec = read_record(db_, hash, &failed);
    if (failed)
      return net::error_response(503, "unavailable", "cannot index the upload");
    if (!rec)
      rec = record{size, mime, user, now, now};
    rec->used = now;
    storage::batch b;
    b.put(storage::table::media, hash, encode(*rec));
    grant(b, hash, user);
    if (!db_.write(b).ok())
      return net::error_response(503, "unavailable", "cannot index the upload");
  }
  return {201, "application/json", json{{"hash", hash}, {"size", size}, {"mime", mime}}.dump(), {}};
}

net::http_response service::download(const std::string& user, std::string_view hash,
                                     const net::http_request& request) {
  std::optional<record> rec;
  bool failed = false;
  if (is_hash(hash))
    rec = read_record(db_, hash, &failed);
  auto allowed = rec ? may_read(db_, hash, user) : storage::answer::no;
  if (failed || allowed == storage::answer::failed)
    return net::error_response(503, "unavailable", "storage unavailable, retry");
  if (!rec)
    return net::error_response(404, "not_found", "no such media");
  if (allowed == storage::answer::no)
    return net::error_response(403, "forbidden", "you may not read this media");
  auto etag = "\"" + std::string{hash} + "\"";
  net::http_response res;
  res.content_type = rec->mime;
  res.headers = {{"ETag", etag},
                 {"Cache-Control", "private, max-age=31536000, immutable"},
                 {"Accept-Ranges", "bytes"}};
  if (!request.if_none_match.empty() && etag_matches(request.if_none_match, etag)) {
    res.status = 304;
    return res;
  }
  auto range = parse_range(request.range, rec->size);
  auto size_text = std::to_string(rec->size);
  if (range.kind == range_answer::unsatisfiable) {
    auto refused = net::error_response(416, "bad_request", "range not satisfiable");
    refused.headers = {{"Content-Range", "bytes */" + size_text}, {"Accept-Ranges", "bytes"}};
    return refused;
  }
  if (range.kind == range_answer::partial) {
    res.status = 206;
    res.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                                  std::to_string(range.offset + range.length - 1) +
                                                  "/" + size_text);
  }
  res.file = net::file_range{store_.path_of(hash).string(), range.offset, range.length};
  if (opts_.now() - rec->used >= opts_.used_refresh_ms)
    touch(std::string{hash});
  return res;
}

void service::touch(std::string hash) {
  asio::post(pool_->threads, [this, hash = std::move(hash)] {
    std::lock_guard<std::mutex> guard{lock_for(hash)};
    auto rec = read_record(db_, hash);
    auto now = opts_.now();
    if (!rec || now - rec->used < opts_.used_refresh_ms)
      return;
    rec->used = now;
    storage::batch b;
    b.put(storage::table::media, hash, encode(*rec));
    db_.write(b);
  });
}

retention_stats service::retention_step(int64_t now) {
  retention_stats stats;
  if (opts_.retention_ms <= 0)
    return stats;
  auto cutoff = now - opts_.retention_ms;
  std::lock_guard<std::mutex> steps{cursor_mutex_};
  std::vector<std::string> candidates;
  std::string last;
  db_.scan(storage::table::media, cursor_, std::string(1, '\x7f'), opts_.retention_batch,
           [&](std::string_view key, std::string_view value) {
             ++stats.examined;
             last = std::string{key};
             auto rec = decode_record(value);
             if (rec && rec->used < cutoff)
               candidates.push_back(last);
             return true;
           });
  stats.pass_done = stats.examined < opts_.retention_batch;
  cursor_ = stats.pass_done ? std::string{} : last + '\0';
  for (auto& hash : candidates) {
    std::lock_guard<std::mutex> guard{lock_for(hash)};
    auto rec = read_record(db_, hash); // an upload or download may have refreshed it since
    if (!rec || rec->used >= cutoff || any_with_prefix(db_, storage::table::avatars, hash) ||
        any_with_prefix(db_, storage::table::media_pending, hash))
      continue;
    storage::batch b;
    b.del(storage::table::media, hash);
    auto readers = prefix_range(hash);
    b.delete_range(storage::table::media_readers, readers.begin, readers.end);
    if (!db_.write(b).ok())
      continue; // the blob stays whole; the next pass tries again
    store_.remove(hash);
    ++stats.deleted;
  }
  return stats;
}

void service::schedule_retention(int64_t delay_ms) {
  if (pool_->stopping)
    return;
  pool_->timer.expires_after(std::chrono::milliseconds(delay_ms));
  pool_->timer.async_wait([this](boost::system::error_code ec) {
    if (ec || pool_->stopping)
      return;
    auto stats = retention_step(opts_.now());
    if (stats.deleted > 0)
      std::cout << "tidings: media retention deleted " << stats.deleted << " blobs" << std::endl;
    // The rest of a pass follows at once (other pool work interleaves); then a pause.
    schedule_retention(stats.pass_done ? opts_.retention_interval_ms : 0);
  });
}

} // namespace tidings::media
