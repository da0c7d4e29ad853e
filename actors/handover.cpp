#include "actors/handover.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include "cluster/transition.hpp"
#include "media/index.hpp"
#include "net/codec.hpp"
#include "storage/keys.hpp"

namespace tidings {

namespace {

using storage::table;

/// Every table holding data of a user or a blob, in the order they move. Not `handoff` (this
/// node's own queue of sends for other homes) nor `cluster` (this node's own state).
constexpr std::array<table, 14> moving_tables = {
    table::accounts, table::tokens,        table::profiles,      table::contacts, table::blocks,
    table::lastseen, table::inbox_meta,    table::inbox,         table::received, table::dedupe,
    table::media,    table::media_readers, table::media_pending, table::avatars};

bool moving(table t) {
  return std::find(moving_tables.begin(), moving_tables.end(), t) != moving_tables.end();
}

/// Past every key of any table (user names and hashes never start with 0xff; token hashes
/// are 32 bytes).
const std::string table_end(64, '\xff');

/// A new member's share, and how long a fetch of a blob there may take.
constexpr auto offer_timeout = std::chrono::minutes(5);

} // namespace

std::string row_owner(table t, std::string_view key, std::string_view value) {
  switch (t) {
  case table::tokens: // blake2b(token) -> user
    return std::string{value};
  case table::dedupe: { // sender \0 cid -> {mid, ts, to}: the recipient's inbox wrote it
    auto rec = net::decode(value, net::encoding::msgpack, nullptr);
    return rec && rec->is_object() ? rec->value("to", std::string{}) : std::string{};
  }
  default: // user, user \0 ..., hash, hash \0 ...
    return moving(t) ? std::string{key.substr(0, key.find('\0'))} : std::string{};
  }
}

member_changes read_member_changes(storage::db& store) {
  member_changes out;
  auto members = store.get(table::cluster, storage::cluster_members_key());
  if (members.failed())
    throw std::runtime_error("cannot read the cluster's member list: " + members.error());
  if (members.found())
    out.previous = cluster::decode_members(members.value());
  auto range = storage::cluster_received_range();
  auto st = store.scan(table::cluster, range.begin, range.end, SIZE_MAX,
                       [&out](std::string_view key, std::string_view value) {
                         out.received[std::string{key.substr(key.find('\0') + 1)}] =
                             cluster::decode_members(value);
                         return true;
                       });
  if (!st.ok())
    throw std::runtime_error("cannot read the cluster's handovers: " + st.error);
  return out;
}

void handover_state::log(const std::string& line) const {
  if (opts.log)
    opts.log(line);
}

void handover_state::init() {
  auto changes = ctx->cluster->changes();
  for (auto& to : changes.owed()) {
    jobs.emplace_back();
    jobs.back().to = to;
  }
  auto names = [](const std::vector<std::string>& ids) { return cluster::encode_members(ids); };
  if (!jobs.empty())
    log("cluster: members added since the last run (" + names(changes.owed()) +
        "): handing over their users and blobs once they are up");
  if (auto gone = changes.removed(); !gone.empty())
    log("cluster: members removed since the last run (" + names(gone) +
        "): removing members is not supported, their users' data stays where it was");
  if (changes.previous().empty() && changes.now().members().size() > 1)
    log("cluster: no member list stored yet: the users homed here are served once every peer "
        "has said which list it had (a new cluster, or a handover to this node)");
  tick();
}

void handover_state::tick() {
  auto changes = ctx->cluster->changes();
  auto awaited = changes.awaited();
  for (const auto& peer : awaited)
    if (ctx->cluster->gate(peer) && // heard: its list lacks this node
        std::find(announced.begin(), announced.end(), peer) == announced.end()) {
      announced.push_back(peer);
      log("cluster: awaiting the handover from '" + peer + "'");
    }
  std::size_t open = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto& j = jobs[i];
    if (j.complete)
      continue;
    ++open;
    if (!j.running && ctx->cluster->gate(j.to)) {
      j.running = true;
      if (j.started_ms == 0)
        j.started_ms = ctx->now();
      step(i);
    }
  }
  ctx->metrics->handover_pending = static_cast<int64_t>(open + awaited.size());
  persist_if_done();
  // Soon while a member may come up to take its share (its users wait for it), else slowly.
  auto period = persisted ? ctx->settings.tick_ms : std::min<int64_t>(ctx->settings.tick_ms, 200);
  self->delayed_send(self, std::chrono::milliseconds(period), atom::timer::value);
}

void handover_state::step(std::size_t i) {
  auto& j = jobs[i];
  auto changes = ctx->cluster->changes();
  handover_batch b;
  b.from = ctx->cluster->self();
  b.previous = changes.previous();
  b.media_source = caf::actor_cast<caf::actor>(ctx->media);
  if (j.table == moving_tables.size()) {
    b.complete = true;
    return send_batch(i, std::move(b), false, {});
  }
  auto t = moving_tables[j.table];
  std::size_t visited = 0;
  std::size_t bytes = 0;
  bool full = false;
  std::string last;
  auto st = ctx->store->scan(
      t, j.cursor, table_end, opts.scan_keys, [&](std::string_view key, std::string_view value) {
        ++visited;
        last.assign(key);
        auto owner = row_owner(t, key, value);
        if (owner.empty() ||
            !cluster::transition::moves(changes.before(), changes.now(), owner, b.from, j.to))
          return true;
        if (t == table::media) {
          auto rec = media::decode_record(value);
          if (!rec || !blobs->contains(owner)) {
            log("cluster: blob " + owner + " has a record but no file here: not handed over");
            return true;
          }
          bytes += rec->size;
        }
        b.tables.push_back(static_cast<char>(t));
        b.keys.emplace_back(key);
        b.values.emplace_back(value);
        bytes += key.size() + value.size();
        full = bytes >= opts.batch_bytes;
        return !full;
      });
  if (!st.ok())
    return fail(i, "cannot read table " + std::string{storage::table_name(t)} + ": " + st.error);
  bool table_done = !full && visited < opts.scan_keys;
  auto next_cursor = visited > 0 ? last + '\0' : j.cursor;
  if (b.keys.empty()) {
    j.cursor = table_done ? std::string{} : std::move(next_cursor);
    j.table += table_done ? 1 : 0;
    self->send(self, atom::handover::value, static_cast<uint64_t>(i)); // others interleave
    return;
  }
  send_batch(i, std::move(b), table_done, std::move(next_cursor));
}

void handover_state::send_batch(std::size_t i, handover_batch b, bool table_done,
                                std::string next_cursor) {
  auto gate = ctx->cluster->gate(jobs[i].to);
  if (!gate)
    return fail(i, "is down");
  // What to delete here once the new home has the rows (kept: the batch goes to the request).
  auto sent = std::make_shared<std::pair<std::string, std::vector<std::string>>>(b.tables, b.keys);
  bool complete = b.complete;
  self->request(caf::actor_cast<handover_service>(gate), opts.request_timeout, std::move(b))
      .then(
          [this, i, sent, table_done, next_cursor, complete](uint64_t) {
            auto& j = jobs[i];
            if (complete) {
              j.complete = true;
              j.running = false;
              log("cluster: handover to '" + j.to + "' complete: " + std::to_string(j.rows) +
                  " rows, " + std::to_string(j.blobs) + " blobs moved in " +
                  std::to_string(ctx->now() - j.started_ms) + " ms");
              return persist_if_done();
            }
            storage::batch gone;
            uint64_t blob_count = 0;
            for (std::size_t k = 0; k < sent->second.size(); ++k) {
              auto t = static_cast<table>(sent->first[k]);
              gone.del(t, sent->second[k]);
              blob_count += t == table::media ? 1 : 0;
            }
            if (auto st = ctx->store->write(gone); !st.ok())
              return fail(i, "cannot delete the rows it has: " + st.error); // sent again later
            for (std::size_t k = 0; k < sent->second.size(); ++k)
              if (static_cast<table>(sent->first[k]) == table::media)
                blobs->remove(sent->second[k]); // its record is gone: nothing serves it here
            j.rows += sent->second.size();
            j.blobs += blob_count;
            node_metrics::add(ctx->metrics->handover_rows_sent, sent->second.size());
            node_metrics::add(ctx->metrics->handover_blobs_sent, blob_count);
            j.cursor = table_done ? std::string{} : next_cursor;
            j.table += table_done ? 1 : 0;
            j.last_error.clear();
            self->send(self, atom::handover::value, static_cast<uint64_t>(i));
          },
          [this, i](const caf::error& err) { fail(i, "refused: " + self->system().render(err)); });
}

void handover_state::fail(std::size_t i, const std::string& why) {
  auto& j = jobs[i];
  j.running = false; // the next tick tries again from the same place
  if (why != j.last_error)
    log("cluster: handover to '" + j.to + "' " + why + " (retrying)");
  j.last_error = why;
}

caf::result<uint64_t> handover_state::receive(handover_batch& b) {
  auto& view = *ctx->cluster;
  const auto& me = view.self();
  const auto& members = view.ring().members();
  auto listed = [](const std::vector<std::string>& ids, const std::string& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  auto refuse = [this, &b](const std::string& why) -> caf::result<uint64_t> {
    log("cluster: refusing a handover from '" + b.from + "': " + why);
    return make_error(errc::bad_request);
  };
  b.previous = cluster::decode_members(cluster::encode_members(b.previous)); // sorted
  if (b.from == me || !listed(members, b.from) || !listed(b.previous, b.from) ||
      listed(b.previous, me))
    return refuse("this node is not new to it");
  if (b.tables.size() != b.keys.size() || b.values.size() != b.keys.size())
    return refuse("malformed batch");
  cluster::placement before{b.previous};
  for (std::size_t k = 0; k < b.keys.size(); ++k) {
    auto t = static_cast<table>(b.tables[k]);
    auto owner = moving(t) ? row_owner(t, b.keys[k], b.values[k]) : std::string{};
    if (owner.empty() || !cluster::transition::moves(before, view.ring(), owner, b.from, me))
      return refuse("a row of table " + std::to_string(b.tables[k]) + " does not move here");
  }
  // After `complete` nothing more may come: these users are served here now.
  if (!b.keys.empty() && !view.changes().awaits(b.from, b.previous))
    return refuse("its handover is complete already");
  if (b.complete)
    return complete_from(b);
  auto rp = self->make_response_promise<uint64_t>();
  // Blobs first: a record is written only once its file is stored here.
  std::vector<media_offer> offers;
  for (std::size_t k = 0; k < b.keys.size(); ++k)
    if (static_cast<table>(b.tables[k]) == table::media)
      if (auto rec = media::decode_record(b.values[k]))
        offers.push_back(
            media_offer{b.keys[k], rec->size, rec->uploader, rec->mime, b.media_source});
  if (offers.empty()) {
    write_rows(b, rp);
    return rp;
  }
  struct progress {
    std::size_t left;
    bool failed = false;
  };
  auto p = std::make_shared<progress>(progress{offers.size()});
  auto batch = std::make_shared<handover_batch>(std::move(b));
  for (auto& o : offers)
    self->request(ctx->media, offer_timeout, atom::offer::value, std::move(o))
        .then(
            [this, p, batch, rp](bool) mutable {
              if (--p->left == 0 && !p->failed)
                write_rows(*batch, rp);
              else if (p->left == 0)
                rp.deliver(make_error(errc::unavailable));
            },
            [p, rp](const caf::error&) mutable {
              p->failed = true;
              if (--p->left == 0)
                rp.deliver(make_error(errc::unavailable));
            });
  return rp;
}

void handover_state::write_rows(const handover_batch& b, caf::typed_response_promise<uint64_t> rp) {
  storage::batch rows;
  for (std::size_t k = 0; k < b.keys.size(); ++k)
    rows.put(static_cast<table>(b.tables[k]), b.keys[k], b.values[k]);
  if (auto st = ctx->store->write(rows); !st.ok()) {
    node_metrics::add(ctx->metrics->storage_errors);
    rp.deliver(make_error(errc::unavailable));
    return;
  }
  node_metrics::add(ctx->metrics->handover_rows_received, b.keys.size());
  rp.deliver(static_cast<uint64_t>(b.keys.size()));
}

caf::result<uint64_t> handover_state::complete_from(const handover_batch& b) {
  storage::batch marker;
  marker.put(table::cluster, storage::cluster_received_key(b.from),
             cluster::encode_members(b.previous));
  if (auto st = ctx->store->write(marker); !st.ok()) {
    node_metrics::add(ctx->metrics->storage_errors);
    return make_error(errc::unavailable);
  }
  bool was_awaited = false;
  for (const auto& peer : ctx->cluster->changes().awaited())
    was_awaited = was_awaited || peer == b.from;
  ctx->cluster->received(b.from, b.previous);
  if (was_awaited)
    log("cluster: handover from '" + b.from +
        "' complete: its users and blobs that are homed "
        "here now are served here");
  persist_if_done();
  return uint64_t{0};
}

void handover_state::persist_if_done() {
  if (persisted)
    return;
  auto changes = ctx->cluster->changes();
  if (!changes.settled() ||
      std::any_of(jobs.begin(), jobs.end(), [](const job& j) { return !j.complete; }))
    return;
  if (changes.changed()) {
    storage::batch b;
    b.put(table::cluster, storage::cluster_members_key(),
          cluster::encode_members(changes.now().members()));
    if (auto st = ctx->store->write(b); !st.ok()) {
      node_metrics::add(ctx->metrics->storage_errors);
      return; // the next tick tries again
    }
    ctx->cluster->completed();
    log("cluster: member list " + cluster::encode_members(changes.now().members()) +
        " complete on this node");
  }
  persisted = true;
  ctx->metrics->handover_pending = 0;
}

handover_actor_service::behavior_type
handover_actor(handover_actor_service::stateful_pointer<handover_state> self,
               const node_context* ctx, media::blob_store* blobs, handover_options opts) {
  auto& st = self->state;
  st.self = self;
  st.ctx = ctx;
  st.blobs = blobs;
  st.opts = std::move(opts);
  st.init();
  return {
      [self](handover_batch& b) { return self->state.receive(b); },
      [self](atom::handover, uint64_t i) { self->state.step(static_cast<std::size_t>(i)); },
      [self](atom::timer) { self->state.tick(); },
  };
}

} // namespace tidings
