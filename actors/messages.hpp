#pragma once
// Every atom and message type the actors exchange, and the one CAF type-ID block.
//
// Messages carry only plain data (strings, integers, actor handles and the structs below,
// each with inspect()), never functions, pointers or HTTP objects, so they can cross node
// boundaries. Inbox items travel as msgpack bytes (`std::string`).
// Register on every actor_system_config with `register_types(cfg)`.

#include <caf/all.hpp>

#include "actors/errors.hpp"

namespace tidings {

// Atoms: at most 10 characters, none of CAF's own.
namespace atom {
using frame = caf::atom_constant<caf::atom("frame")>;          ///< shim -> session: a frame
using wsclosed = caf::atom_constant<caf::atom("wsclosed")>;    ///< shim -> session: gone
using push = caf::atom_constant<caf::atom("push")>;            ///< inbox -> session: an item
using ack = caf::atom_constant<caf::atom("ack")>;              ///< session -> inbox: ack upto
using replaced = caf::atom_constant<caf::atom("replaced")>;    ///< inbox -> old session
using idle = caf::atom_constant<caf::atom("inboxidle")>;       ///< inbox -> directory
using stop = caf::atom_constant<caf::atom("stopinbox")>;       ///< directory -> inbox
using drain = caf::atom_constant<caf::atom("drain")>;          ///< directory <-> inbox: shutdown
using timer = caf::atom_constant<caf::atom("timer")>;          ///< periodic self-message
using written = caf::atom_constant<caf::atom("written")>;      ///< group writer -> inbox: done
using account = caf::atom_constant<caf::atom("account")>;      ///< gateway -> accounts worker
using read = caf::atom_constant<caf::atom("read")>;            ///< session -> inbox: user read
using profile_get = caf::atom_constant<caf::atom("profget")>;  ///< session -> profile shard
using privacy = caf::atom_constant<caf::atom("privacy")>;      ///< a user's privacy settings
using seen_by = caf::atom_constant<caf::atom("seenby")>;       ///< lastseen -> profile: facts
using profile_set = caf::atom_constant<caf::atom("profset")>;  ///< session -> profile shard
using contacts = caf::atom_constant<caf::atom("contacts")>;    ///< the contacts table
using blocks = caf::atom_constant<caf::atom("blocks")>;        ///< the blocks table
using list = caf::atom_constant<caf::atom("list")>;            ///< list a table's entries
using add_item = caf::atom_constant<caf::atom("additem")>;     ///< add an entry
using remove_item = caf::atom_constant<caf::atom("rmitem")>;   ///< remove an entry
using online = caf::atom_constant<caf::atom("online")>;        ///< session -> lastseen: fg/bg
using touch = caf::atom_constant<caf::atom("touch")>;          ///< session -> lastseen: activity
using offline = caf::atom_constant<caf::atom("offline")>;      ///< session -> lastseen: ended
using presence = caf::atom_constant<caf::atom("presence")>;    ///< presence query or push
using subscribe = caf::atom_constant<caf::atom("presub")>;     ///< presence_sub
using unsubscribe = caf::atom_constant<caf::atom("preunsub")>; ///< presence_unsub
using token = caf::atom_constant<caf::atom("token")>;          ///< whose is this bearer token
using exists = caf::atom_constant<caf::atom("exists")>;        ///< does this account exist
using revoked = caf::atom_constant<caf::atom("revoked")>;      ///< a token was revoked
using replay = caf::atom_constant<caf::atom("replay")>;        ///< handoff: try its queues
using may_read = caf::atom_constant<caf::atom("mayread")>;     ///< -> media: may U read H
using grant = caf::atom_constant<caf::atom("grant")>;          ///< inbox -> media: U may read H
using avatar = caf::atom_constant<caf::atom("mavatar")>;     ///< profile -> media: H is U's avatar
using holds = caf::atom_constant<caf::atom("holds")>;        ///< media -> inbox: is seq pending
using blob_info = caf::atom_constant<caf::atom("blobinfo")>; ///< gateway -> media: download
using commit = caf::atom_constant<caf::atom("mcommit")>;     ///< gateway -> media: an upload
using retain = caf::atom_constant<caf::atom("retain")>;      ///< one media retention step
using store_blob = caf::atom_constant<caf::atom("storeblob")>; ///< media -> file worker
using remove_blob = caf::atom_constant<caf::atom("rmblob")>;   ///< media -> file worker
using drop_blob = caf::atom_constant<caf::atom("dropblob")>;   ///< media -> file worker
using offer = caf::atom_constant<caf::atom("moffer")>;         ///< media -> media of H's home
using read_chunk = caf::atom_constant<caf::atom("mchunk")>;    ///< media -> media: bytes of H
using cached = caf::atom_constant<caf::atom("mcached")>;       ///< gateway -> media: local copy
using cache_in = caf::atom_constant<caf::atom("mcachein")>;    ///< media -> file worker
using evict = caf::atom_constant<caf::atom("mevict")>;         ///< media -> file worker
using fetch = caf::atom_constant<caf::atom("mfetch")>;         ///< media -> fetcher
using handover = caf::atom_constant<caf::atom("handover")>;    ///< handover: its next step
using probe = caf::atom_constant<caf::atom("probe")>;          ///< inspector -> any: your state
using census = caf::atom_constant<caf::atom("census")>;        ///< inspector: the inbox depths
using admin = caf::atom_constant<caf::atom("admin")>;          ///< tidings-inspect -> admin
using report = caf::atom_constant<caf::atom("report")>;        ///< admin -> inspector
using manage = caf::atom_constant<caf::atom("manage")>;        ///< admin -> steward, accounts
using devices = caf::atom_constant<caf::atom("devices")>;      ///< a user's devices (inbox)
using devlimit = caf::atom_constant<caf::atom("devlimit")>;    ///< inbox -> session: too many
using devgone = caf::atom_constant<caf::atom("devgone")>;      ///< inbox -> session: removed
} // namespace atom

/// session -> directory -> inbox of `to`: store a message; answered with sent_reply once it
/// is durable. `content` is the message's fields as a msgpack map; `media_hash` its media
/// (empty for text).
struct deliver_request {
  std::string to;
  std::string from;
  std::string cid;
  std::string content;
  std::string media_hash;
  /// Set only by a node replaying its handoff: the `sent` it already gave (mid and time),
  /// which the inbox keeps. Empty from sessions.
  std::string mid = {};
  int64_t ts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deliver_request& x) {
  return f(caf::meta::type_name("deliver_request"), x.to, x.from, x.cid, x.content, x.media_hash,
           x.mid, x.ts);
}

/// What the sender's `sent` carries: the message's id and server time.
struct sent_reply {
  std::string mid;
  int64_t ts = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, sent_reply& x) {
  return f(caf::meta::type_name("sent_reply"), x.mid, x.ts);
}

/// session -> directory -> inbox of `user`: `session` is a live session of the user, its
/// connection opened at `since` (an older connection of the same device never replaces a newer
/// one). `token_key`: the hex of the tokens-table key of the session's token, which names its
/// device (a token of no named device: the unnamed device). Answered with the inbox's handle.
struct attach_request {
  std::string user;
  caf::actor session;
  int64_t since = 0;
  std::string token_key = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attach_request& x) {
  return f(caf::meta::type_name("attach_request"), x.user, x.session, x.since, x.token_key);
}

/// The answer to an attach: the inbox as its attached session sees it, taking the session's
/// acks (naming the acking session) and reads (answered once the read receipt is stored in the
/// sender's inbox, or needs none; an error if it could not be stored: the client reads again). A
/// typed handle that crosses nodes, hence here and in the type-ID block (the inbox's whole
/// interface is `inbox_service`, interfaces.hpp).
using attached_inbox = caf::typed_actor<
    caf::reacts_to<atom::ack, uint64_t, caf::actor>,
    caf::replies_to<atom::read, std::string, std::vector<std::string>>::with<bool>>;

/// inbox -> directory -> inbox of `to`: store a receipt item (msgpack); answered with its seq
/// once durable.
struct receipt_delivery {
  std::string to;
  std::string item;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, receipt_delivery& x) {
  return f(caf::meta::type_name("receipt_delivery"), x.to, x.item);
}

/// An account request (`POST /v1/accounts`, `POST` or `DELETE /v1/sessions`) as the HTTP
/// front read it: plain data, so it may cross nodes.
struct account_request {
  std::string method;
  std::string path; ///< without the query
  std::string bearer;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_request& x) {
  return f(caf::meta::type_name("account_request"), x.method, x.path, x.bearer, x.body);
}

/// The answer to an account_request: an HTTP status, its JSON body, and Retry-After seconds
/// (0: none).
struct account_reply {
  uint16_t status = 200;
  std::string body;
  uint32_t retry_after_s = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, account_reply& x) {
  return f(caf::meta::type_name("account_reply"), x.status, x.body, x.retry_after_s);
}

/// gateway -> media: an upload streamed into a temporary file of this node (`temp`, its full
/// path), to be stored under its hash and indexed; answered once both are durable.
struct media_upload {
  std::string temp;
  std::string hash;
  uint64_t size = 0;
  std::string user;
  std::string mime;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, media_upload& x) {
  return f(caf::meta::type_name("media_upload"), x.temp, x.hash, x.size, x.user, x.mime);
}

/// media of the node an upload came through -> media of the hash's home: `user` uploaded
/// `hash` (`size` bytes of `mime`); `source` (that node's media actor) serves its bytes in
/// chunks (`read_chunk`) until the home answers. Answered once the blob is stored and indexed
/// on the home (true: these bytes were new there).
struct media_offer {
  std::string hash;
  uint64_t size = 0;
  std::string user;
  std::string mime;
  caf::actor source;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, media_offer& x) {
  return f(caf::meta::type_name("media_offer"), x.hash, x.size, x.user, x.mime, x.source);
}

/// media -> gateway: what a download needs of a blob the user may read.
struct media_blob {
  uint64_t size = 0;
  std::string mime; ///< of the first upload
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, media_blob& x) {
  return f(caf::meta::type_name("media_blob"), x.size, x.mime);
}

/// Node -> node after members were added (actors/handover.*): rows of the users and blobs
/// whose home moved from `from` (over its previous member list `previous`) to the receiver,
/// written there as they are. `tables[i]` is the storage::table of row i; a `media` record
/// comes with its blob, fetched from `media_source` before the rows are written. `complete`:
/// nothing more follows from `from`. Answered with the number of rows, once durable.
struct handover_batch {
  std::string from;
  std::vector<std::string> previous;
  std::string tables;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  caf::actor media_source;
  bool complete = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handover_batch& x) {
  return f(caf::meta::type_name("handover_batch"), x.from, x.previous, x.tables, x.keys, x.values,
           x.media_source, x.complete);
}

/// One actor as the inspector shows it, read from the actor's own state on request: its
/// mailbox length when it answered and the messages it handled since it started.
struct actor_probe {
  std::string kind; ///< directory, inbox, profile, lastseen, ...
  std::string name; ///< the user of an inbox, the shard number of a shard, else empty
  uint64_t mailbox = 0;
  uint64_t handled = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, actor_probe& x) {
  return f(caf::meta::type_name("actor_probe"), x.kind, x.name, x.mailbox, x.handled);
}

/// What a user's inbox (or, when none runs, the directory from storage) tells the inspector.
struct inbox_facts {
  bool running = false;   ///< an inbox actor runs for the user
  uint64_t depth = 0;     ///< items stored and not yet acknowledged
  int64_t oldest_ts = -1; ///< server time of the oldest of them (-1: none, or unknown)
  bool attached = false;  ///< a session is attached to the inbox
  uint64_t unacked = 0;   ///< items pushed to that session and not yet acknowledged
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, inbox_facts& x) {
  return f(caf::meta::type_name("inbox_facts"), x.running, x.depth, x.oldest_ts, x.attached,
           x.unacked);
}

/// `tidings-inspect user NAME`, answered by the inspector of the user's home node.
struct user_report {
  std::string user;
  std::string home;
  bool exists = false;
  inbox_facts inbox;
  bool session = false;           ///< a live session (its lastseen shard knows it)
  std::string session_node;       ///< the node that session is connected to
  bool foreground = false;        ///< that session is in the foreground (online)
  int64_t last_seen = -1;         ///< ms since the epoch (-1: never)
  int64_t contacts = -1;          ///< -1: the profile shard did not answer
  int64_t blocked = -1;           ///< users this user blocked (-1: no answer)
  std::vector<std::string> notes; ///< what could not be read, in words
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, user_report& x) {
  return f(caf::meta::type_name("user_report"), x.user, x.home, x.exists, x.inbox, x.session,
           x.session_node, x.foreground, x.last_seen, x.contacts, x.blocked, x.notes);
}

/// One inbox in a census: its user, items, and the server time of its oldest item.
struct inbox_row {
  std::string user;
  uint64_t depth = 0;
  int64_t oldest_ts = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, inbox_row& x) {
  return f(caf::meta::type_name("inbox_row"), x.user, x.depth, x.oldest_ts);
}

/// A census of the stored inboxes of one node: the deepest first.
struct census_report {
  std::string node;
  int64_t taken_ms = 0; ///< when the scan ended
  uint64_t inboxes = 0; ///< inboxes holding items
  uint64_t items = 0;
  bool complete = true; ///< false: a storage error ended the scan early
  std::vector<inbox_row> deepest;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, census_report& x) {
  return f(caf::meta::type_name("census_report"), x.node, x.taken_ms, x.inboxes, x.items,
           x.complete, x.deepest);
}

/// What a node tells the inspector about itself (`nodes`, `actors`, `top`).
struct node_report {
  std::string node; ///< its cluster id ("" on a single node)
  std::string version;
  int64_t started_ms = 0;
  int64_t now_ms = 0;
  uint64_t connections = 0; ///< WebSocket connections open
  uint64_t sessions = 0;    ///< of those, authenticated
  uint64_t inboxes = 0;     ///< inbox actors running
  uint64_t actors = 0;      ///< every actor of the node's actor system
  uint64_t stored = 0;      ///< messages stored since start
  uint64_t pushed = 0;      ///< items pushed to sessions since start
  uint64_t acked = 0;       ///< items acknowledged since start
  double stored_per_s = 0;  ///< over the last second
  double pushed_per_s = 0;
  double send_p50_ms = -1; ///< send -> sent over the last 10 s (-1: no sends)
  double send_p99_ms = -1;
  uint64_t inbox_items = 0; ///< items in every stored inbox (last census)
  uint64_t inboxes_pending = 0;
  int64_t census_ms = 0; ///< when that census was taken (0: none yet)
  int64_t handoff_queued = 0;
  std::vector<std::string> kinds;    ///< actor kinds ...
  std::vector<uint64_t> kind_counts; ///< ... and how many of each run
  std::vector<actor_probe> probes;   ///< the node's services and its busiest inboxes
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_report& x) {
  return f(caf::meta::type_name("node_report"), x.node, x.version, x.started_ms, x.now_ms,
           x.connections, x.sessions, x.inboxes, x.actors, x.stored, x.pushed, x.acked,
           x.stored_per_s, x.pushed_per_s, x.send_p50_ms, x.send_p99_ms, x.inbox_items,
           x.inboxes_pending, x.census_ms, x.handoff_queued, x.kinds, x.kind_counts, x.probes);
}

/// The error category of our errors inside CAF.
constexpr caf::atom_value error_category = caf::atom("tidings");

inline caf::error make_error(errc e) {
  return caf::error{static_cast<uint8_t>(e), error_category};
}

/// The same, with a message saying why (tidings-inspect prints it).
inline caf::error make_error(errc e, std::string why) {
  return caf::error{static_cast<uint8_t>(e), error_category, caf::make_message(std::move(why))};
}

/// Maps any CAF error to a protocol code (errors of other categories become `unavailable`).
inline errc to_errc(const caf::error& err) {
  if (err.category() == error_category)
    return static_cast<errc>(err.code());
  return errc::unavailable;
}

/// Registers the type-ID block and the error category on a config.
void register_types(caf::actor_system_config& cfg);

} // namespace tidings

CAF_BEGIN_TYPE_ID_BLOCK(tidings, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(tidings, (std::vector<std::string>))
CAF_ADD_TYPE_ID(tidings, (std::vector<uint64_t>))
CAF_ADD_TYPE_ID(tidings, (tidings::deliver_request))
CAF_ADD_TYPE_ID(tidings, (tidings::sent_reply))
CAF_ADD_TYPE_ID(tidings, (tidings::attach_request))
CAF_ADD_TYPE_ID(tidings, (tidings::receipt_delivery))
CAF_ADD_TYPE_ID(tidings, (tidings::account_request))
CAF_ADD_TYPE_ID(tidings, (tidings::account_reply))
CAF_ADD_TYPE_ID(tidings, (tidings::media_upload))
CAF_ADD_TYPE_ID(tidings, (tidings::media_blob))
CAF_ADD_TYPE_ID(tidings, (tidings::attached_inbox))
CAF_ADD_TYPE_ID(tidings, (tidings::media_offer))
CAF_ADD_TYPE_ID(tidings, (tidings::handover_batch))
CAF_ADD_TYPE_ID(tidings, (tidings::actor_probe))
CAF_ADD_TYPE_ID(tidings, (tidings::inbox_facts))
CAF_ADD_TYPE_ID(tidings, (tidings::user_report))
CAF_ADD_TYPE_ID(tidings, (tidings::census_report))
CAF_ADD_TYPE_ID(tidings, (tidings::node_report))
CAF_END_TYPE_ID_BLOCK(tidings)
