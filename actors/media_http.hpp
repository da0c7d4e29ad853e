#pragma once
// media_http: the HTTP side of the media service, called by the gateway on Beast threads.
//
// `POST /v1/media`: the body is hashed and written chunk by chunk into a temporary file on the
// Beast thread that read it (short, bounded by one chunk); the finished file is handed to the
// media actor (`commit`), which has it synced and renamed by a file worker, indexes it, and is
// answered once both are durable (in a cluster, on the hash's home: the local media actor
// offers it there). `GET`/`HEAD /v1/media/HASH`: the media actor of the hash's home says
// whether the user may read the blob and gives its size and type; the file is streamed by net,
// from this node's blobs if it is the home, else from the local media actor's cache (which
// fetches it from the home first if needed).
// A short-lived actor asks the media actor and completes the HTTP reply: the reply function
// stays in this process, never in a message.
// Limits: at most `max_bytes` per blob (413), at most `max_uploads` uploads between their first
// byte and their answer (503 overloaded). An upload whose commit is never answered (the node
// stops) leaves its temporary file, which the next start removes.
// Thread-safe: immutable after construction but for an atomic count of uploads.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "media/blob_store.hpp"
#include "media/options.hpp"
#include "net/server.hpp"

namespace tidings {

class media_http {
public:
  media_http(caf::actor_system& sys, const node_context& ctx, media::blob_store& blobs,
             const media::options& opts);

  /// The body route of `POST /v1/media` for `user`: a sink that stores the body, or a refusal
  /// (400 without Content-Type, 413 for a declared size over the limit, 503 when busy).
  net::body_route upload(const std::string& user, const net::http_request& head);
  /// Answers `GET` or `HEAD /v1/media/HASH` for `user` (net omits the body of HEAD answers).
  void download(const std::string& user, std::string_view hash, const net::http_request& request,
                net::http_reply reply);
  /// Uploads between their first byte and their answer.
  std::size_t uploads_in_progress() const { return uploads_->load(); }

private:
  class upload_sink;

  caf::actor_system& sys_;
  const node_context& ctx_;
  media::blob_store& blobs_;
  uint64_t max_bytes_;
  std::size_t max_uploads_;
  std::shared_ptr<std::atomic<std::size_t>> uploads_;
};

} // namespace tidings
