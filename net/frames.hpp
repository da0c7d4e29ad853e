#pragma once
// The frames of the client protocol (PROTOCOL.md sections 3-9): a client frame in, a typed
// request out; the parts of a reply in, the reply frame's bytes out.
//
// `parse_client_frame` applies every rule the protocol states about a frame by itself: the
// envelope, the `id`, the `type`, which frame may come before `auth`, and each field's presence,
// type, size and UTF-8. Its result is one request struct, carrying the `id` and the encoding
// its reply needs (`reply_to`), or a `bad_request` holding the exact message of the error
// frame. Whatever needs more than the frame (the token, permissions, rate limits, who exists)
// is the session's.
//
// A msgpack frame is read straight from its bytes into the request struct (`net/frame_doc.hpp`:
// views, no json DOM); JSON frames are decoded first, then read the same way. The hot replies
// (`sent`, a pushed item) to msgpack clients are written without a DOM too.
//
// Pure functions: no I/O, no shared state, nothing throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/codec.hpp"

namespace tidings::net {

/// Largest `body` of a send (a text, or a media message's caption), in bytes.
constexpr std::size_t max_body_bytes = 64 * 1024;
/// Largest `media.thumb`, in bytes (after base64 decoding in JSON).
constexpr std::size_t max_thumb_bytes = 16 * 1024;
/// Most mids one `read` may name.
constexpr std::size_t max_read_mids = 1024;
/// Most users one `presence_sub` or `presence_unsub` may name.
constexpr std::size_t max_presence_users = 1024;
/// Longest string `id`, in characters.
constexpr std::size_t max_id_chars = 64;

/// A request's `id`: none, an unsigned integer, or a string of at most 64 characters.
using request_id = std::variant<std::monostate, uint64_t, std::string>;

/// What a reply needs of the request it answers: its `id` (echoed) and its encoding.
struct reply_to {
  request_id id;
  encoding enc = encoding::json;
};

/// A frame that cannot be taken: the session answers `bad_request` with `message`.
struct bad_request : reply_to {
  std::string message;
  /// False if the bytes did not decode to an envelope at all (such frames are not counted
  /// against the rate limit, only against the bad-frame limit).
  bool decoded = true;
};

/// Before `auth`, a frame of another type: the session answers `unauthorized` and closes.
struct auth_missing : reply_to {};

struct auth_request : reply_to {
  std::string token;      ///< 1-512 bytes
  bool foreground = true; ///< optional in the frame, default true
};

struct ping_request : reply_to {};

/// `media` of a send: what the stored message carries.
struct media_ref {
  std::string hash; ///< 64 lowercase hex digits
  std::string mime; ///< 1-127 characters
  uint64_t size = 0;
  std::optional<std::string> name;  ///< 1-255 characters
  std::optional<std::string> thumb; ///< raw bytes (base64 already decoded), at most 16 KiB
};

struct send_request : reply_to {
  std::string cid;  ///< 1-64 characters
  std::string to;   ///< a user name
  std::string kind; ///< text, image, video, audio or document
  /// A text's body (1 byte - 64 KiB) or a media message's caption (0 - 64 KiB, optional).
  std::optional<std::string> body;
  std::optional<media_ref> media; ///< set exactly for the media kinds
};

struct ack_request : reply_to {
  uint64_t upto = 0;
};

struct read_request : reply_to {
  std::string from;              ///< a user name
  std::vector<std::string> mids; ///< 1-1024 mids of 1-64 bytes each
};

struct state_request : reply_to {
  bool foreground = true;
};

struct profile_get_request : reply_to {
  std::string user;
};

/// `privacy` of a profile_set: each setting is changed only if given.
struct privacy_change {
  std::optional<std::string> last_seen; ///< everyone, contacts or nobody
  std::optional<bool> read_receipts;
};

struct profile_set_request : reply_to {
  std::optional<std::string> name;  ///< trimmed, at most 64 characters, no control characters
  std::optional<std::string> about; ///< trimmed, at most 256 characters, no control characters
  /// Unset: unchanged; set to nullopt: remove the avatar; else a 64-byte media hash.
  std::optional<std::optional<std::string>> avatar;
  std::optional<privacy_change> privacy;
};

struct presence_get_request : reply_to {
  std::string user;
};

/// `presence_sub` (subscribe) or `presence_unsub`.
struct presence_sub_request : reply_to {
  bool subscribe = true;
  std::vector<std::string> users; ///< at most 1024 user names
};

/// The two per-user lists of PROTOCOL.md section 9.
enum class user_list : uint8_t { contacts, blocked };

/// `contacts_list` or `blocked_list`.
struct list_get_request : reply_to {
  user_list list = user_list::contacts;
};

/// `contacts_add`, `contacts_remove`, `block` or `unblock`.
struct list_change_request : reply_to {
  user_list list = user_list::contacts;
  bool add = true;
  std::string user; ///< never the requesting user
};

/// One client frame, parsed.
using client_frame =
    std::variant<bad_request, auth_missing, auth_request, ping_request, send_request, ack_request,
                 read_request, state_request, profile_get_request, profile_set_request,
                 presence_get_request, presence_sub_request, list_get_request, list_change_request>;

/// Parses one WebSocket frame (`binary`: msgpack, else JSON) from `user`, the session's
/// authenticated user, or empty before `auth` (then only `auth_request`, `auth_missing` or
/// `bad_request` come out; after it, never `auth_request`).
client_frame parse_client_frame(std::string_view bytes, bool binary, std::string_view user);

/// The reply fields of any parse result.
const reply_to& reply_of(const client_frame& frame);

/// The content of a send as it is stored and pushed: a msgpack map of `kind`, `body` and
/// `media` (with `thumb` as `bin`), without the fields the server stamps.
std::string stored_content(const send_request& request);

/// The changes of a profile_set as the profile service takes them: a msgpack map.
std::string profile_changes(const profile_set_request& request);

/// `{"type":"welcome","user","ts"}`.
std::string welcome_frame(const reply_to& to, std::string_view user, int64_t ts);
/// `{"type":"sent","cid","mid","ts"}`.
std::string sent_frame(const reply_to& to, std::string_view cid, std::string_view mid, int64_t ts);
/// `{"type":"error","code","message","retry_ms"?}`; a negative `retry_ms` is left out.
std::string error_frame(const reply_to& to, std::string_view code, std::string_view message,
                        int64_t retry_ms = -1);
/// `{"type":"pong"}`.
std::string pong_frame(const reply_to& to);
/// `{"type":"ok"}`: the reply of frames that have none of their own.
std::string ok_frame(const reply_to& to);
/// `{"type":"profile",…}` from the profile service's answer (a msgpack map of its fields).
std::string profile_frame(const reply_to& to, std::string_view fields);
/// `{"type":"presence","user","online","last_seen"}`; a negative `last_seen` is null.
std::string presence_frame(const reply_to& to, std::string_view user, bool online,
                           int64_t last_seen);
/// `{"type":"contacts","users"}` or `{"type":"blocked","users"}`.
std::string user_list_frame(const reply_to& to, user_list list,
                            const std::vector<std::string>& users);
/// A pushed inbox item: the stored item (a msgpack map) with `seq`, in `enc`; nullopt if the
/// item is not a msgpack map.
std::optional<std::string> push_frame(encoding enc, std::string_view item, uint64_t seq);

} // namespace tidings::net
