#pragma once
// users: the accounts the bots log in as, prepared before the measured phases.
//
// Registration and login both run argon2id on the node (tens of milliseconds each), so they
// run a few at a time on plain threads with the blocking client (tidings_client), never inside
// the measured run. A users file (`--users-file`) keeps accounts and tokens between runs:
// lines "USER PASSWORD [TOKEN]", '#' starts a comment. Users in the file are reused (and
// logged in if they have no token); missing ones are registered and appended.
// Bots whose group sends media upload one file each (POST /v1/media); a node without the
// media service (404) makes media unsupported for the whole run.
// Blocks the calling thread; throws std::runtime_error if a user cannot be prepared.

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "client/endpoint.hpp"

namespace tidings::bots {

struct bot_user {
  std::string name;
  std::string password;
  std::string token;
  /// A media file this user uploaded (for media messages), or empty.
  std::string media_hash;
  std::string media_mime;
  uint64_t media_size = 0;
};

struct prepare_options {
  client::endpoint node;
  std::size_t count = 0;
  std::string prefix = "bot";
  std::string password;
  std::string run_id;
  std::size_t parallel = 8;
  /// Empty: register fresh users. Otherwise read (if present) and rewrite this file.
  std::string users_file;
  /// Per user: bytes of the media file to upload, 0 for none (size `count`, or empty).
  std::vector<std::size_t> media_bytes;
  /// Called from worker threads (serialised) as users get ready.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct prepared_users {
  std::vector<bot_user> users;
  std::size_t registered = 0; ///< accounts created by this run
  std::size_t reused = 0;     ///< accounts taken from the users file
  std::size_t logins = 0;     ///< logins performed (users without a stored token)
  std::size_t uploads = 0;    ///< media files uploaded
  std::size_t upload_failures = 0;
  bool media_supported = true; ///< false once the node answered 404 to POST /v1/media
  double seconds = 0;
};

/// Registers and/or logs in `opts.count` users and uploads their media files.
prepared_users prepare_users(const prepare_options& opts);

/// A random run id: 6 characters of [a-z0-9], distinct between runs.
std::string make_run_id();

/// Reads a users file (USER PASSWORD [TOKEN] per line). Throws std::runtime_error.
std::vector<bot_user> read_users_file(const std::string& path);

/// Writes `users` to `path` (replacing it). Throws std::runtime_error.
void write_users_file(const std::string& path, const std::vector<bot_user>& users);

} // namespace tidings::bots
