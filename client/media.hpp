#pragma once
// Streaming media transfers against a Tidings node (PROTOCOL.md section 8).
//
// Unlike http_call(), which holds whole bodies in memory, these move bodies in chunks of
// `transfer_chunk` bytes: an upload reads the file as it sends, a download hands each chunk
// to the caller as it arrives. Memory stays bounded whatever the size.
// Each call opens its own connection ("Connection: close") and runs a private io_context on
// the calling thread. Timeouts are per step: a call fails if no step (connect, a chunk
// written or read, the response header) completes within `idle_timeout`, however long the
// whole transfer takes. Transport failures throw std::runtime_error.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "client/endpoint.hpp"
#include "client/http.hpp"

namespace tidings::client {

/// Bytes per read or write of a streamed body.
constexpr std::size_t transfer_chunk = 256 * 1024;

/// POSTs the file at `path` to `target` as the body, with `content_type` and, if not empty,
/// "Authorization: Bearer BEARER". Returns the response (its body is read into memory, at most
/// 1 MiB). A server that answers before reading the whole body (413, 401) still gets its
/// answer returned. Throws std::runtime_error if the file cannot be read or the transfer fails.
http_response http_upload(const endpoint& ep, std::string_view target, const std::string& path,
                          const std::string& content_type, const std::string& bearer,
                          std::chrono::milliseconds idle_timeout = 30s);

/// A download's answer: status and headers, plus the body of an error answer (at most
/// 64 KiB); the body of a 200 or 206 went to the caller's `write` instead.
struct download_result {
  http_response response;
  uint64_t received = 0; ///< body bytes handed to `write`
};

/// GETs `target`, with "Range: bytes=OFFSET-" if `offset` > 0 and the bearer token if not
/// empty. `on_header`, if set, sees the status and headers first; then the body of a 200 or
/// 206 answer is passed to `write` in chunks as it arrives.
download_result http_download(const endpoint& ep, std::string_view target,
                              const std::string& bearer, uint64_t offset,
                              const std::function<void(const char*, std::size_t)>& write,
                              std::chrono::milliseconds idle_timeout = 30s,
                              const std::function<void(const http_response&)>& on_header = {});

/// POST /v1/media of the file at `path`; returns {"hash","size","mime"}. Throws api_error
/// unless 201.
json upload_media(const endpoint& ep, const std::string& token, const std::string& path,
                  const std::string& mime, std::chrono::milliseconds idle_timeout = 30s);

/// SHA-256 of the file at `path` (64 lowercase hex digits), read in chunks. Throws
/// std::runtime_error if it cannot be read.
std::string file_sha256(const std::string& path);

} // namespace tidings::client
