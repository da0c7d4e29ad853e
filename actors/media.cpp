#include "actors/media.hpp"

#include <iostream>
#include <memory>

#include "media/access.hpp"
#include "media/sha256.hpp"

namespace tidings {

namespace {

blob_worker::behavior_type blob_worker_actor(blob_worker::pointer, media::blob_store* blobs) {
  return {
      [blobs](atom::store_blob, const std::string& temp,
              const std::string& hash) -> caf::result<bool> {
        switch (blobs->commit(temp, hash)) {
        case media::blob_store::commit_result::stored:
          return true;
        case media::blob_store::commit_result::already_stored:
          return false;
        case media::blob_store::commit_result::failed:
          break;
        }
        return make_error(errc::unavailable);
      },
      [blobs](atom::remove_blob, const std::string& hash) { return blobs->remove(hash); },
      [blobs](atom::drop_blob, const std::string& temp) { blobs->discard(temp); },
  };
}

unsigned hex_value(char c) {
  return c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'a' + 10);
}

} // namespace

void media_state::init(media_service::pointer s, const node_context* c, media::blob_store* b,
                       media::options o) {
  self = s;
  ctx = c;
  blobs = b;
  opts = std::move(o);
  if (!opts.now)
    opts.now = ctx->now;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.threads); ++i)
    workers.push_back(self->spawn<caf::detached + caf::linked>(blob_worker_actor, blobs));
  if (opts.retention_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(opts.retention_interval_ms),
                       atom::timer::value);
}

const blob_worker& media_state::worker_for(const std::string& hash) const {
  auto byte = hash.size() >= 2 ? hex_value(hash[0]) * 16 + hex_value(hash[1]) : 0;
  return workers[byte % workers.size()];
}

storage::fetched<media::record> media_state::record_of(const std::string& hash) {
  if (auto it = busy.find(hash); it != busy.end()) {
    if (it->second.deleting)
      return {std::nullopt, false};
    if (it->second.staged)
      return {it->second.staged, false};
  }
  bool failed = false;
  auto rec = media::read_record(*ctx->store, hash, &failed);
  return {std::move(rec), failed};
}

void media_state::write(const std::string& hash, storage::batch b,
                        std::optional<media::record> staged, std::function<void(bool ok)> then) {
  auto& entry = busy[hash];
  ++entry.writes;
  if (staged)
    entry.staged = std::move(staged);
  auto id = next_write++;
  writes.emplace(id, [this, hash, then = std::move(then)](bool ok) {
    auto& done = busy[hash];
    --done.writes;
    if (!ok)
      done.staged.reset(); // read it back from RocksDB, which has what did land
    then(ok);
    settle(hash);
  });
  ctx->writer->submit(std::move(b),
                      [me = caf::actor_cast<media_service>(self), id](const storage::status& st) {
                        caf::anon_send(me, atom::written::value, id, st.ok());
                      });
}

void media_state::on_written(uint64_t id, bool ok) {
  auto it = writes.find(id);
  if (it == writes.end())
    return;
  auto then = std::move(it->second);
  writes.erase(it);
  if (!ok)
    node_metrics::add(ctx->metrics->storage_errors);
  then(ok);
}

void media_state::settle(const std::string& hash) {
  auto it = busy.find(hash);
  if (it != busy.end() && it->second.writes == 0 && it->second.files == 0 && !it->second.deleting &&
      it->second.after_delete.empty())
    busy.erase(it);
}

caf::result<bool> media_state::may_read(const std::string& hash, const std::string& user) {
  if (!media::is_hash(hash))
    return false;
  if (auto it = busy.find(hash); it != busy.end() && it->second.deleting)
    return false;
  auto allowed = media::may_read(*ctx->store, hash, user);
  if (allowed == storage::answer::failed)
    return make_error(errc::unavailable);
  return allowed == storage::answer::yes;
}

caf::result<bool> media_state::grant(const std::string& hash, const std::string& user) {
  auto rec = record_of(hash);
  if (rec.failed)
    return make_error(errc::unavailable);
  if (!rec.value)
    return make_error(errc::not_found);
  // A grant is a use: retention leaves the blob alone for `retention_ms` from now.
  rec.value->used = opts.now();
  storage::batch b;
  b.put(storage::table::media, hash, media::encode(*rec.value));
  media::grant(b, hash, user);
  auto rp = self->make_response_promise<bool>();
  write(hash, std::move(b), rec.value, [rp](bool ok) mutable {
    if (ok)
      rp.deliver(true);
    else
      rp.deliver(make_error(errc::unavailable));
  });
  return rp;
}

caf::result<media_blob> media_state::blob_info(const std::string& hash, const std::string& user) {
  if (!media::is_hash(hash))
    return make_error(errc::not_found);
  auto rec = record_of(hash);
  if (rec.failed)
    return make_error(errc::unavailable);
  if (!rec.value)
    return make_error(errc::not_found);
  auto allowed = media::may_read(*ctx->store, hash, user);
  if (allowed == storage::answer::failed)
    return make_error(errc::unavailable);
  if (allowed == storage::answer::no)
    return make_error(errc::forbidden);
  media_blob out{rec.value->size, rec.value->mime};
  if (auto now = opts.now(); now - rec.value->used >= opts.used_refresh_ms) {
    rec.value->used = now;
    storage::batch b;
    b.put(storage::table::media, hash, media::encode(*rec.value));
    write(hash, std::move(b), rec.value, [](bool) {}); // a lost refresh is retried next time
  }
  return out;
}

caf::result<bool> media_state::commit(const media_upload& upload) {
  if (!media::is_hash(upload.hash)) {
    self->send(worker_for(upload.hash), atom::drop_blob::value, upload.temp);
    return make_error(errc::bad_request);
  }
  auto rp = self->make_response_promise<bool>();
  if (auto it = busy.find(upload.hash); it != busy.end() && it->second.deleting) {
    // Stored anew once retention has removed the old file and record.
    it->second.after_delete.emplace_back(
        [this, upload, rp]() mutable { start_commit(std::move(upload), rp); });
    return rp;
  }
  start_commit(upload, rp);
  return rp;
}

void media_state::start_commit(media_upload upload, caf::typed_response_promise<bool> rp) {
  // Always through the hash's file worker, also when the blob is stored already: the worker
  // then only removes this copy, in order with every other file job of the hash, and the
  // answer goes out after it (no temporary file is left behind an answer).
  ++busy[upload.hash].files;
  auto hash = upload.hash;
  self->request(worker_for(hash), caf::infinite, atom::store_blob::value, upload.temp, hash)
      .then(
          [this, upload, rp](bool stored) mutable {
            --busy[upload.hash].files;
            index_upload(upload, stored, rp);
            settle(upload.hash);
          },
          [this, hash, rp](const caf::error&) mutable {
            --busy[hash].files;
            settle(hash);
            rp.deliver(make_error(errc::unavailable));
          });
}

void media_state::index_upload(const media_upload& upload, bool new_file,
                               caf::typed_response_promise<bool> rp) {
  auto rec = record_of(upload.hash);
  if (rec.failed) {
    rp.deliver(make_error(errc::unavailable));
    return;
  }
  auto now = opts.now();
  // The first upload's record stays (its mime and uploader); every upload is a use.
  auto r = rec.value.value_or(media::record{upload.size, upload.mime, upload.user, now, now});
  r.used = now;
  storage::batch b;
  b.put(storage::table::media, upload.hash, media::encode(r));
  media::grant(b, upload.hash, upload.user);
  write(upload.hash, std::move(b), r, [rp, new_file](bool ok) mutable {
    if (ok)
      rp.deliver(new_file);
    else
      rp.deliver(make_error(errc::unavailable));
  });
}

caf::result<uint64_t, uint64_t, bool> media_state::retain() {
  auto rp = self->make_response_promise<uint64_t, uint64_t, bool>();
  step([rp](retention_stats s) mutable { rp.deliver(s.examined, s.deleted, s.pass_done); });
  return rp;
}

void media_state::tick() {
  step([this](retention_stats s) {
    if (s.deleted > 0)
      std::cout << "tidings: media retention deleted " << s.deleted << " blobs" << std::endl;
    // The rest of a pass follows at once (other messages interleave); then a pause.
    if (s.pass_done)
      self->delayed_send(self, std::chrono::milliseconds(opts.retention_interval_ms),
                         atom::timer::value);
    else
      self->send(self, atom::timer::value);
  });
}

void media_state::step(std::function<void(retention_stats)> done) {
  retention_stats stats;
  stats.pass_done = true;
  if (opts.retention_ms <= 0)
    return done(stats);
  auto& db = *ctx->store;
  auto scan = media::scan_unused(db, cursor, opts.retention_batch, opts.now() - opts.retention_ms);
  cursor = scan.next_cursor;
  stats.examined = scan.examined;
  stats.pass_done = scan.pass_done;
  std::vector<std::string> unneeded;
  for (auto& hash : scan.unused) {
    // Anything in flight for the hash (a grant, an upload, a refresh) is a use: keep it.
    if (busy.count(hash) == 0 && media::still_named(db, hash) == storage::answer::no)
      unneeded.push_back(std::move(hash));
  }
  if (unneeded.empty())
    return done(stats);
  struct progress {
    std::size_t left;
    retention_stats stats;
    std::function<void(retention_stats)> done;
  };
  auto p = std::make_shared<progress>(progress{unneeded.size(), stats, std::move(done)});
  for (auto& hash : unneeded)
    remove(hash, [p](bool deleted) {
      p->stats.deleted += deleted ? 1 : 0;
      if (--p->left == 0)
        p->done(p->stats);
    });
}

void media_state::remove(const std::string& hash, std::function<void(bool)> done) {
  busy[hash].deleting = true;
  storage::batch b;
  media::forget(b, hash);
  write(hash, std::move(b), std::nullopt, [this, hash, done](bool ok) {
    if (!ok) { // the blob stays whole; the next pass tries again
      end_delete(hash);
      return done(false);
    }
    // The index no longer names it: the file goes (a failure leaves an orphan file, which
    // nothing serves and the next upload of the same bytes adopts).
    self->request(worker_for(hash), caf::infinite, atom::remove_blob::value, hash)
        .then(
            [this, hash, done](bool) {
              end_delete(hash);
              done(true);
            },
            [this, hash, done](const caf::error&) {
              end_delete(hash);
              done(true);
            });
  });
}

void media_state::end_delete(const std::string& hash) {
  auto it = busy.find(hash);
  if (it == busy.end())
    return;
  it->second.deleting = false;
  auto waiting = std::move(it->second.after_delete);
  it->second.after_delete.clear();
  settle(hash);
  for (auto& start : waiting)
    start();
}

media_service::behavior_type media_actor(media_service::stateful_pointer<media_state> self,
                                         const node_context* ctx, media::blob_store* blobs,
                                         media::options opts) {
  self->state.init(self, ctx, blobs, std::move(opts));
  return {
      [self](atom::may_read, const std::string& hash, const std::string& user) {
        return self->state.may_read(hash, user);
      },
      [self](atom::grant, const std::string& hash, const std::string& user) {
        return self->state.grant(hash, user);
      },
      [self](atom::blob_info, const std::string& hash, const std::string& user) {
        return self->state.blob_info(hash, user);
      },
      [self](atom::commit, const media_upload& upload) { return self->state.commit(upload); },
      [self](atom::retain) { return self->state.retain(); },
      [self](atom::written, uint64_t id, bool ok) { self->state.on_written(id, ok); },
      [self](atom::timer) { self->state.tick(); },
  };
}

} // namespace tidings
