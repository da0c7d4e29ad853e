#include "actors/media_http.hpp"

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "media/http.hpp"
#include "media/sha256.hpp"

namespace tidings {

namespace {

constexpr auto download_timeout = std::chrono::seconds(30);
/// Syncing a large upload may take a while on a busy disk.
constexpr auto commit_timeout = std::chrono::minutes(5);

net::http_response unavailable(std::string_view what) {
  auto res = http_error(errc::unavailable, what);
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

/// Asks `media` once from a short-lived actor, which answers with an `R`; `on_value` or
/// `on_error` completes the reply.
template <class R, class OnValue, class OnError, class... Ts>
void ask_media(caf::actor_system& sys, const media_service& media,
               std::chrono::milliseconds timeout, OnValue on_value, OnError on_error, Ts... xs) {
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
        http_.sys_, http_.media_, commit_timeout,
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

media_http::media_http(caf::actor_system& sys, media_service media, media::blob_store& blobs,
                       const media::options& opts)
    : sys_(sys), media_(std::move(media)), blobs_(blobs), max_bytes_(opts.max_bytes),
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
  auto file = blobs_.path_of(hash);
  auto conditions = request; // only the headers matter; a GET has no body
  ask_media<media_blob>(
      sys_, media_, download_timeout,
      [reply, file, conditions, hash = std::string{hash}](const media_blob& blob) {
        reply(media::blob_response(hash, blob.size, blob.mime, file, conditions));
      },
      [reply](errc code) {
        switch (code) {
        case errc::not_found:
          return reply(http_error(code, "no such media"));
        case errc::forbidden:
          return reply(http_error(code, "you may not read this media"));
        default:
          return reply(unavailable("storage unavailable, retry"));
        }
      },
      atom::blob_info::value, std::string{hash}, user);
}

} // namespace tidings
