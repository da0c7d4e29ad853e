#pragma once
// handover actor: one per clustered node, detached (it scans and writes RocksDB on its own
// thread). Moves users' and blobs' data after members were added to a running cluster
// (docs/DESIGN.md, "Adding a member"; who owes whom what: cluster/transition.hpp).
//
// As an old home: for each new member N (configured, absent from this node's previous list),
// once N is up, it scans the moving tables in bounded steps for the rows of the users and blobs
// homed here over the previous list and on N over the configured one, sends them in batches of
// at most `batch_bytes` to N's handover actor (through N's gate), and deletes them here only once
// N answered that they are durable; after the last table it tells N `complete`. Once every new
// member has had its handover and nothing is awaited here, it persists the configured list as
// this node's previous list. A crash anywhere repeats at most a batch (N writes puts: the same
// rows again change nothing).
// As a new home: it checks that every row of a batch belongs to a key moving from the sender
// to this node, has its media actor fetch the blob of every `media` record first (`offer`, the
// way uploads travel: `read_chunk` from the sender's media actor), writes the rows as they are
// and answers once they are durable. `complete` is persisted (the handover of that peer, for
// its previous list) and ends the wait: the users and blobs whose previous home it is are
// served here from then on.
// Nothing else touches these rows meanwhile: the old home serves only keys homed on it by the
// configured list; the new one serves none of the moving keys until their handover is complete
// (node_context::is_home).
// Rows that stay: the handoff queue (the old home's own sends for other homes), and a `media`
// record whose file is missing (logged; nothing could serve it).
// Blocking: RocksDB scans and writes and blob file deletions, on this actor's own thread.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "media/blob_store.hpp"

namespace tidings {

using handover_actor_service =
    handover_service::extend<caf::reacts_to<atom::handover, uint64_t>, caf::reacts_to<atom::timer>>;

struct handover_options {
  std::function<void(const std::string&)> log;        ///< one line, no newline
  std::size_t batch_bytes = 256 * 1024;               ///< rows (and blob bytes) per batch
  std::size_t scan_keys = 4096;                       ///< keys looked at per step
  std::chrono::milliseconds request_timeout{300'000}; ///< a batch's answer (it may carry blobs)
};

/// What this node persisted of member changes (the `cluster` table), read before it starts.
struct member_changes {
  std::vector<std::string> previous;
  std::map<std::string, std::vector<std::string>> received;
};

/// Reads the `cluster` table; throws std::runtime_error if it cannot be read.
member_changes read_member_changes(storage::db& store);

/// The user or blob hash a row of `t` belongs to, or "" for a row that does not move.
std::string row_owner(storage::table t, std::string_view key, std::string_view value);

struct handover_state {
  static inline const char* name = "handover";

  /// A handover this node owes a new member.
  struct job {
    std::string to;
    std::size_t table = 0; ///< index into the moving tables; past the end: `complete` is next
    std::string cursor;    ///< the next key to look at in that table
    bool running = false;  ///< a step or a batch is under way (else the next tick starts one)
    bool complete = false; ///< the new member acknowledged `complete`
    uint64_t rows = 0;
    uint64_t blobs = 0;
    int64_t started_ms = 0; ///< when its first batch was made (for the log)
    std::string last_error; ///< logged once until it changes
  };

  handover_actor_service::pointer self = nullptr;
  const node_context* ctx = nullptr;
  media::blob_store* blobs = nullptr;
  handover_options opts;
  std::vector<job> jobs;
  std::vector<std::string> announced; ///< awaited peers already logged
  bool persisted = false;             ///< nothing left to do (the list is stored)

  void init();
  /// Starts the handovers whose member is up, logs what is awaited, persists once all is done.
  void tick();
  /// The next batch of job `i`: scans, sends, and continues once the answer is in.
  void step(std::size_t i);
  /// A batch from an old home.
  caf::result<uint64_t> receive(handover_batch& b);

private:
  void send_batch(std::size_t i, handover_batch b, bool table_done, std::string next_cursor);
  void fail(std::size_t i, const std::string& why);
  caf::result<uint64_t> complete_from(const handover_batch& b);
  /// Writes the rows of `b` (its blobs fetched), answering `rp`.
  void write_rows(const handover_batch& b, caf::typed_response_promise<uint64_t> rp);
  void persist_if_done();
  void log(const std::string& line) const;
};

handover_actor_service::behavior_type
handover_actor(handover_actor_service::stateful_pointer<handover_state> self,
               const node_context* ctx, media::blob_store* blobs, handover_options opts);

} // namespace tidings
