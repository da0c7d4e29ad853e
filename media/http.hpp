#pragma once
// The HTTP answers of media (PROTOCOL.md section 8) as functions of data: what to refuse
// before an upload's body is read, the `201` of a stored upload, and the answer to `GET` or
// `HEAD` of a blob the user may read (ETag, ranges, the file to stream). CAF-free and
// RocksDB-free: the media actor decides, these only shape the answer.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "net/server.hpp"

namespace tidings::media {

/// A Content-Type fit to store and hand out again: 1-127 printable ASCII characters.
bool valid_mime(std::string_view mime);

/// The refusal of an upload from its head alone (400 without a valid Content-Type, 413 for a
/// declared size over `max_bytes`), or nothing if it may start.
std::optional<net::http_response> refuse_upload(const net::http_request& head, uint64_t max_bytes);

/// 413: the body passed `max_bytes`.
net::http_response too_large(uint64_t max_bytes);

/// 201 with the stored upload's hash, size and the mime this upload declared.
net::http_response upload_created(const std::string& hash, uint64_t size, const std::string& mime);

/// The answer to `request` (GET or HEAD) for a stored blob the user may read: 200, 206 for a
/// range, 304 for a matching If-None-Match, 416 for an unsatisfiable range.
net::http_response blob_response(std::string_view hash, uint64_t size, const std::string& mime,
                                 const std::filesystem::path& file,
                                 const net::http_request& request);

} // namespace tidings::media
