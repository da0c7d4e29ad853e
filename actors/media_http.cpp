#include "actors/media_http.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "media/http.hpp"
#include "media/sha256.hpp"

namespace tidings {

namespace {

constexpr auto download_timeout = std::chrono::seconds(30);
/// Fetching a blob homed elsewhere into the cache (64 MiB at most, in chunks).
constexpr auto fetch_timeout = std::chrono::minutes(5);
/// Syncing a large upload may take a while on a busy disk.
constexpr auto commit_timeout = std::chrono::minutes(5);

net::http_response unavailable(std::string_view what) {
  auto res = http_error(errc::unavailable, what);
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

/// Asks `media` once from a short-lived actor, which answers with an `R`; `on_value` or
/// `on_error` completes the reply.
template <class R, class Handle, class OnValue, class OnError, class... Ts>
void ask_media(caf::actor_system& sys, const Handle& media, std::chrono::milliseconds timeout,
               OnValue on_value, OnError on_error, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(media, timeout, xs...)
        .then(
            [self, on_value](const R& answer) {
              on_value(answer);
              self->quit();
            },
            [self, on_error](const caf::error& err) {
              on_error(to_errc(err));
              self->quit();
            });
  });
}

/// Counts an upload from its first byte to its answer.
class upload_slot {
public:
  explicit upload_slot(std::shared_ptr<std::atomic<std::size_t>> counter)
      : counter_(std::move(counter)) {
    ++*counter_;
  }
  upload_slot(upload_slot&&) noexcept = default;
  upload_slot& operator=(upload_slot&&) = delete;
  ~upload_slot() { release(); }
  /// Ends the count early (before the answer goes out).
  void release() {
    if (counter_)
      --*counter_;
    counter_ = nullptr;
  }

private:
  std::shared_ptr<std::atomic<std::size_t>> counter_;
};

} // namespace

/// One upload: writes and hashes chunks into a temporary file, hands it to the media actor at
/// the end. Destroyed early (refused, connection lost): the temporary file goes with it.
class media_http::upload_sink : public net::body_sink {
public:
  upload_sink(media_http& http, std::string user, std::string mime,
              std::unique_ptr<media::temp_blob> blob, upload_slot slot)
      : http_(http), user_(std::move(user)), mime_(std::move(mime)), blob_(std::move(blob)),
        slot_(std::make_shared<upload_slot>(std::move(slot))) {}

  std::optional<net::http_response> write(const char* data, std::size_t size) override {
    if (blob_->size() + size > http_.max_bytes_)
      return media::too_large(http_.max_bytes_);
    if (!blob_->write(data, size))
      return unavailable("cannot store the upload");
    return std::nullopt;
  }

  void finish(net::http_reply reply) override {
    auto size = blob_->size();
    auto hash = blob_->finish();
    if (hash.empty())
      return reply(unavailable("cannot store the upload"));
    media_upload up{blob_->path().string(), hash, size, user_, mime_};
    // The slot is released before the answer goes out, so the client may upload again at once.
    ask_media<bool>(
        http_.sys_, http_.ctx_.media, commit_timeout,
        [reply, hash, size, mime = mime_, slot = slot_](bool) {
          slot->release();
          reply(media::upload_created(hash, size, mime));
        },
        [reply, slot = slot_](errc) {
          slot->release();
          reply(unavailable("cannot store the upload"));
        },
        atom::commit::value, std::move(up));
  }

private:
  media_http& http_;
  std::string user_;
  std::string mime_;
  std::unique_ptr<media::temp_blob> blob_;
  std::shared_ptr<upload_slot> slot_; ///< released with the last copy: after the answer
};

media_http::media_http(caf::actor_system& sys, const node_context& ctx, media::blob_store& blobs,
                       const media::options& opts)
    : sys_(sys), ctx_(ctx), blobs_(blobs), max_bytes_(opts.max_bytes),
      max_uploads_(opts.max_uploads), uploads_(std::make_shared<std::atomic<std::size_t>>(0)) {}

net::body_route media_http::upload(const std::string& user, const net::http_request& head) {
  net::body_route route;
  if (auto refusal = media::refuse_upload(head, max_bytes_)) {
    route.refusal = std::move(refusal);
    return route;
  }
  if (uploads_->load() >= max_uploads_) {
    route.refusal = net::error_response(503, "overloaded", "too many uploads, retry later");
    route.refusal->headers.emplace_back("Retry-After", "1");
    return route;
  }
  upload_slot slot{uploads_};
  auto blob = blobs_.create_temp();
  if (!blob) {
    route.refusal = unavailable("cannot store uploads now");
    return route;
  }
  route.sink = std::make_unique<upload_sink>(*this, user, head.content_type, std::move(blob),
                                             std::move(slot));
  return route;
}

void media_http::download(const std::string& user, std::string_view hash,
                          const net::http_request& request, net::http_reply reply) {
  if (!media::is_hash(hash))
    return reply(http_error(errc::not_found, "no such media"));
  auto refused = [reply](errc code) {
    switch (code) {
    case errc::not_found:
      return reply(http_error(code, "no such media"));
    case errc::forbidden:
      return reply(http_error(code, "you may not read this media"));
    case errc::overloaded:
      return reply(net::error_response(503, "overloaded", "too many downloads, retry later"));
    default:
      return reply(unavailable("storage unavailable, retry"));
    }
  };
  auto conditions = request; // only the headers matter; a GET has no body
  auto home = ctx_.is_media_home(std::string{hash});
  auto file = blobs_.path_of(hash);
  auto& sys = sys_;
  auto local = ctx_.media;
  ask_media<media_blob>(
      sys_, ctx_.media_of(std::string{hash}), download_timeout,
      [=, &sys, hash = std::string{hash}](const media_blob& blob) {
        auto res = media::blob_response(hash, blob.size, blob.mime, file, conditions);
        if (home || !res.file)
          return reply(std::move(res));
        // Homed elsewhere: served from this node's copy, fetched first if needed.
        auto shared = std::make_shared<net::http_response>(std::move(res));
        ask_media<std::string>(
            sys, local, fetch_timeout,
            [reply, shared](const std::string& path) {
              shared->file->path = path;
              reply(std::move(*shared));
            },
            refused, atom::cached::value, hash, blob.size);
      },
      refused, atom::blob_info::value, std::string{hash}, user);
}

} // namespace tidings
