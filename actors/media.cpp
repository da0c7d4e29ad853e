#include "actors/media.hpp"

#include <algorithm>
#include <iostream>
#include <memory>

#include "media/access.hpp"
#include "media/sha256.hpp"

namespace tidings {

namespace {

/// How long one chunk between nodes may take.
constexpr auto chunk_timeout = std::chrono::seconds(30);
/// A write's completion that answers `rp`: true once written, else `unavailable`.
std::function<void(bool)> answer_when_written(caf::typed_response_promise<bool> rp) {
  return [rp](bool ok) mutable {
    if (ok)
      rp.deliver(true);
    else
      rp.deliver(make_error(errc::unavailable));
  };
}

/// For a block check of an avatar's owner, and a retention check of a claim's inbox.
constexpr auto ask_timeout = std::chrono::seconds(10);
/// Owners asked whether a viewer may see their avatar; claims checked per blob per step.
constexpr std::size_t max_owners = 8;
constexpr std::size_t max_claims = 16;
/// How long the home may take to fetch, store and index an offered upload.
constexpr auto offer_timeout = std::chrono::minutes(5);

/// A file worker's answer to a commit: true stored, false already there.
caf::result<bool> stored(media::blob_store::commit_result r) {
  switch (r) {
  case media::blob_store::commit_result::stored:
    return true;
  case media::blob_store::commit_result::already_stored:
    return false;
  case media::blob_store::commit_result::failed:
    break;
  }
  return make_error(errc::unavailable);
}

blob_worker::behavior_type blob_worker_actor(blob_worker::pointer, media::blob_store* blobs,
                                             media::blob_store* cache) {
  return {
      [blobs](atom::store_blob, const std::string& temp, const std::string& hash)
          -> caf::result<bool> { return stored(blobs->commit(temp, hash)); },
      [blobs](atom::remove_blob, const std::string& hash) { return blobs->remove(hash); },
      [blobs](atom::drop_blob, const std::string& temp) { blobs->discard(temp); },
      [cache](atom::cache_in, const std::string& temp, const std::string& hash)
          -> caf::result<bool> { return stored(cache->commit(temp, hash, false)); },
      [cache](atom::evict, const std::string& hash) { cache->remove(hash); },
      [blobs, cache](atom::read_chunk, const std::string& hash, uint64_t offset,
                     uint32_t length) -> caf::result<std::string> {
        std::string out;
        if (blobs->read(hash, offset, length, out) ||
            (cache && cache->read(hash, offset, length, out)))
          return out;
        return make_error(errc::not_found);
      },
  };
}

/// One fetch: the file being written; its bytes arrive one chunk at a time, so memory stays at
/// one chunk per transfer.
struct fetch_state {
  static inline const char* name = "media-fetch";

  blob_fetcher::stateful_pointer<fetch_state> self = nullptr;
  media_api source;
  std::string hash;
  uint64_t size = 0;
  media::blob_store* into = nullptr;
  uint32_t chunk = 0;
  std::unique_ptr<media::temp_blob> file;
  caf::typed_response_promise<std::string> rp;

  /// Asks for the next chunk, or answers once the file is whole.
  void next() {
    if (file->size() == size) {
      auto got = file->finish();
      auto path = file->path().string();
      if (got == hash) {
        rp.deliver(std::move(path));
      } else {
        into->discard(path);
        rp.deliver(make_error(errc::unavailable));
      }
      return self->quit();
    }
    auto want = static_cast<uint32_t>(std::min<uint64_t>(chunk, size - file->size()));
    self->request(source, chunk_timeout, atom::read_chunk::value, hash, file->size(), want)
        .then(
            [this](const std::string& bytes) {
              if (bytes.empty() || file->size() + bytes.size() > size ||
                  !file->write(bytes.data(), bytes.size()))
                return fail(errc::unavailable);
              next();
            },
            [this](const caf::error& err) {
              fail(to_errc(err) == errc::not_found ? errc::not_found : errc::unavailable);
            });
  }

  void fail(errc code) {
    rp.deliver(make_error(code));
    self->quit(); // the unfinished temporary file goes with `file`
  }
};

unsigned hex_value(char c) {
  return c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'a' + 10);
}

blob_fetcher::behavior_type fetcher_actor(blob_fetcher::stateful_pointer<fetch_state> self,
                                          media_api source, std::string hash, uint64_t size,
                                          media::blob_store* into, uint32_t chunk) {
  auto& st = self->state;
  st.self = self;
  st.source = std::move(source);
  st.hash = std::move(hash);
  st.size = size;
  st.into = into;
  st.chunk = std::max<uint32_t>(chunk, 1);
  return {
      [self](atom::fetch) -> caf::result<std::string> {
        auto& st = self->state;
        st.file = st.into->create_temp();
        if (!st.file)
          return make_error(errc::unavailable);
        st.rp = self->make_response_promise<std::string>();
        st.next();
        return st.rp;
      },
  };
}

} // namespace

void media_state::init(media_service::pointer s, const node_context* c, media::blob_store* b,
                       media::blob_store* cache_store, media::options o) {
  self = s;
  ctx = c;
  blobs = b;
  cache = cache_store;
  opts = std::move(o);
  if (!opts.now)
    opts.now = ctx->now;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.threads); ++i)
    workers.push_back(
        self->spawn<caf::detached + caf::linked>(blob_worker_actor, blobs, cache_store));
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
  writes.submit(*ctx->writer, caf::actor_cast<media_service>(self), std::move(b),
                [this, hash, then = std::move(then)](bool ok) {
                  auto& done = busy[hash];
                  --done.writes;
                  if (!ok) {
                    node_metrics::add(ctx->metrics->storage_errors);
                    done.staged.reset(); // read it back from RocksDB, which has what did land
                  }
                  then(ok);
                  settle(hash);
                });
}

void media_state::on_written(uint64_t id, bool ok) {
  writes.done(id, ok);
}

void media_state::settle(const std::string& hash) {
  auto it = busy.find(hash);
  if (it != busy.end() && it->second.writes == 0 && it->second.files == 0 && !it->second.deleting &&
      it->second.after_delete.empty())
    busy.erase(it);
}

void media_state::check_read(const std::string& hash, const std::string& user,
                             std::function<void(storage::answer)> done) {
  using storage::answer;
  auto& db = *ctx->store;
  if (auto local = media::is_reader(db, hash, user); local != answer::no)
    return done(local);
  // The avatar of an owner who has not blocked `user`: the owners' shards know their blocks.
  auto owners = media::avatar_owners(db, hash, max_owners);
  if (owners.failed)
    return done(answer::failed);
  auto& list = *owners.value;
  if (list.empty())
    return done(answer::no);
  if (std::find(list.begin(), list.end(), user) != list.end())
    return done(answer::yes);
  struct progress {
    std::size_t left;
    answer result = answer::no;
    bool failed = false;
    std::function<void(answer)> done;
  };
  auto p = std::make_shared<progress>(progress{list.size(), answer::no, false, std::move(done)});
  auto one = [p](answer a) {
    if (a == answer::yes && p->result != answer::yes) {
      p->result = answer::yes;
      p->done(answer::yes); // the first owner who shows it decides
    }
    p->failed = p->failed || a == answer::failed;
    if (--p->left == 0 && p->result != answer::yes)
      p->done(p->failed ? answer::failed : answer::no);
  };
  for (auto& owner : list) {
    auto shard = ctx->profile_of(owner);
    if (!shard) {
      one(answer::failed);
      continue;
    }
    self->request(shard, ask_timeout, atom::seen_by::value, owner, user)
        .then([one](bool exists, const std::string&, bool,
                    bool blocked) { one(exists && !blocked ? answer::yes : answer::no); },
              [one](const caf::error&) { one(answer::failed); });
  }
}

caf::result<bool> media_state::may_read(const std::string& hash, const std::string& user) {
  if (!media::is_hash(hash))
    return false;
  if (auto it = busy.find(hash); it != busy.end() && it->second.deleting)
    return false;
  auto rp = self->make_response_promise<bool>();
  check_read(hash, user, [rp](storage::answer allowed) mutable {
    if (allowed == storage::answer::failed)
      rp.deliver(make_error(errc::unavailable));
    else
      rp.deliver(allowed == storage::answer::yes);
  });
  return rp;
}

caf::result<bool> media_state::grant(const std::string& hash, const std::string& user,
                                     uint64_t seq) {
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
  // The claim: retention asks the recipient's inbox about item `seq` before deleting.
  if (seq > 0)
    b.put(storage::table::media_pending, storage::media_pending_key(hash, user, seq), "");
  auto rp = self->make_response_promise<bool>();
  write(hash, std::move(b), rec.value, answer_when_written(rp));
  return rp;
}

caf::result<bool> media_state::avatar(const std::string& hash, const std::string& owner, bool on) {
  if (!media::is_hash(hash))
    return on ? caf::result<bool>{false} : caf::result<bool>{true};
  auto rp = self->make_response_promise<bool>();
  auto key = media::pair_key(hash, owner);
  if (!on) {
    storage::batch b;
    b.del(storage::table::avatars, key);
    auto rec = record_of(hash);
    write(hash, std::move(b), rec.failed ? std::nullopt : rec.value, answer_when_written(rp));
    return rp;
  }
  if (auto it = busy.find(hash); it != busy.end() && it->second.deleting)
    return false;
  check_read(hash, owner, [this, rp, hash, key](storage::answer allowed) mutable -> void {
    if (allowed != storage::answer::yes) {
      if (allowed == storage::answer::failed)
        rp.deliver(make_error(errc::unavailable));
      else
        rp.deliver(false);
      return;
    }
    auto rec = record_of(hash); // asked again: other messages ran meanwhile
    if (rec.failed) {
      rp.deliver(make_error(errc::unavailable));
      return;
    }
    if (!rec.value) {
      rp.deliver(false);
      return;
    }
    // Taking it as an avatar is a use; the avatar row then keeps it from retention.
    rec.value->used = opts.now();
    storage::batch b;
    b.put(storage::table::media, hash, media::encode(*rec.value));
    b.put(storage::table::avatars, key, "");
    write(hash, std::move(b), rec.value, answer_when_written(rp));
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
  auto rp = self->make_response_promise<media_blob>();
  check_read(hash, user, [this, rp, hash](storage::answer allowed) mutable -> void {
    if (allowed != storage::answer::yes) {
      rp.deliver(
          make_error(allowed == storage::answer::failed ? errc::unavailable : errc::forbidden));
      return;
    }
    auto rec = record_of(hash); // asked again: other messages may have run meanwhile
    if (rec.failed) {
      rp.deliver(make_error(errc::unavailable));
      return;
    }
    if (!rec.value) {
      rp.deliver(make_error(errc::not_found));
      return;
    }
    rp.deliver(media_blob{rec.value->size, rec.value->mime});
    if (auto now = opts.now(); now - rec.value->used >= opts.used_refresh_ms) {
      rec.value->used = now;
      storage::batch b;
      b.put(storage::table::media, hash, media::encode(*rec.value));
      write(hash, std::move(b), rec.value, [](bool) {}); // a lost refresh is retried next time
    }
  });
  return rp;
}

caf::result<bool> media_state::commit(const media_upload& upload) {
  if (!media::is_hash(upload.hash)) {
    self->send(worker_for(upload.hash), atom::drop_blob::value, upload.temp);
    return make_error(errc::bad_request);
  }
  auto rp = self->make_response_promise<bool>();
  if (ctx->is_media_home(upload.hash) || cache == nullptr)
    store_upload(upload, rp);
  else
    offer_upload(upload, rp);
  return rp;
}

void media_state::store_upload(media_upload upload, caf::typed_response_promise<bool> rp) {
  if (auto it = busy.find(upload.hash); it != busy.end() && it->second.deleting) {
    // Stored anew once retention has removed the old file and record.
    it->second.after_delete.emplace_back(
        [this, upload, rp]() mutable { start_commit(std::move(upload), rp); });
    return;
  }
  start_commit(std::move(upload), rp);
}

void media_state::offer_upload(media_upload upload, caf::typed_response_promise<bool> rp) {
  // The copy stays here (pinned) while the home fetches it, then serves later downloads.
  auto hash = upload.hash;
  self->request(worker_for(hash), caf::infinite, atom::cache_in::value, upload.temp, hash)
      .then(
          [this, upload, rp](bool) mutable {
            keep_copy(upload.hash, upload.size, 1);
            auto unpin = [this, hash = upload.hash] {
              if (auto it = copies.find(hash); it != copies.end() && it->second.pins > 0)
                --it->second.pins;
            };
            media_offer o{upload.hash, upload.size, upload.user, upload.mime,
                          caf::actor_cast<caf::actor>(self)};
            self->request(ctx->media_of(upload.hash), offer_timeout, atom::offer::value, o)
                .then(
                    [rp, unpin](bool stored) mutable {
                      unpin();
                      rp.deliver(stored);
                    },
                    [rp, unpin](const caf::error& err) mutable {
                      unpin();
                      auto code = to_errc(err);
                      rp.deliver(make_error(code == errc::bad_request ? code : errc::unavailable));
                    });
          },
          [rp](const caf::error&) mutable { rp.deliver(make_error(errc::unavailable)); });
}

caf::result<bool> media_state::offer(const media_offer& o) {
  if (!media::is_hash(o.hash) || o.size > opts.max_bytes)
    return make_error(errc::bad_request);
  auto rec = record_of(o.hash);
  if (rec.failed)
    return make_error(errc::unavailable);
  auto rp = self->make_response_promise<bool>();
  media_upload upload{{}, o.hash, o.size, o.user, o.mime};
  if (rec.value) { // stored here already: only the uploader's grant and a use
    index_upload(upload, false, rp);
    return rp;
  }
  fetch(caf::actor_cast<media_api>(o.source), o.hash, o.size, blobs,
        [this, upload, rp](caf::expected<std::string> temp) mutable {
          if (!temp) {
            rp.deliver(make_error(errc::unavailable));
            return;
          }
          upload.temp = std::move(*temp);
          store_upload(std::move(upload), rp);
        });
  return rp;
}

caf::result<std::string> media_state::read_chunk(const std::string& hash, uint64_t offset,
                                                 uint32_t length) {
  if (!media::is_hash(hash))
    return make_error(errc::not_found);
  self->delegate(worker_for(hash), atom::read_chunk::value, hash, offset,
                 std::min(length, opts.transfer_chunk));
  return caf::delegated<std::string>{};
}

caf::result<std::string> media_state::cached(const std::string& hash, uint64_t size) {
  if (!media::is_hash(hash))
    return make_error(errc::not_found);
  if (ctx->is_media_home(hash) || cache == nullptr)
    return blobs->path_of(hash).string();
  if (auto it = copies.find(hash); it != copies.end()) {
    it->second.last_use = ++cache_clock;
    return cache->path_of(hash).string();
  }
  // Each fetch holds a detached fetcher (a thread) and a temporary file: a bounded number.
  if (fetching.count(hash) == 0 && fetching.size() >= opts.max_fetches)
    return make_error(errc::overloaded);
  auto rp = self->make_response_promise<std::string>();
  auto& waiting = fetching[hash];
  waiting.push_back(rp);
  if (waiting.size() > 1)
    return rp; // joins the fetch under way
  auto answer = [this, hash](caf::expected<std::string> path) {
    auto waiters = std::move(fetching[hash]);
    fetching.erase(hash);
    for (auto& w : waiters)
      if (path)
        w.deliver(*path);
      else
        w.deliver(path.error());
  };
  fetch(ctx->media_of(hash), hash, size, cache,
        [this, hash, size, answer](caf::expected<std::string> temp) {
          if (!temp)
            return answer(temp.error());
          self->request(worker_for(hash), caf::infinite, atom::cache_in::value, *temp, hash)
              .then(
                  [this, hash, size, answer](bool) {
                    keep_copy(hash, size, 0);
                    answer(cache->path_of(hash).string());
                  },
                  [answer](const caf::error&) { answer(make_error(errc::unavailable)); });
        });
  return rp;
}

void media_state::fetch(media_api source, const std::string& hash, uint64_t size,
                        media::blob_store* into,
                        std::function<void(caf::expected<std::string>)> done) {
  if (!source)
    return done(make_error(errc::unavailable));
  auto fetcher =
      self->spawn<caf::detached>(fetcher_actor, source, hash, size, into, opts.transfer_chunk);
  self->request(fetcher, caf::infinite, atom::fetch::value)
      .then([done](const std::string& path) { done(path); },
            [done](const caf::error& err) { done(err); });
}

void media_state::keep_copy(const std::string& hash, uint64_t size, unsigned pins) {
  auto [it, added] = copies.try_emplace(hash, cached_copy{size, 0, 0});
  if (added)
    cached_bytes += size;
  it->second.last_use = ++cache_clock;
  it->second.pins += pins;
  // Least recently used first; the newest copy and pinned ones stay.
  while (cached_bytes > opts.cache_bytes) {
    auto victim = copies.end();
    for (auto c = copies.begin(); c != copies.end(); ++c)
      if (c->first != hash && c->second.pins == 0 &&
          (victim == copies.end() || c->second.last_use < victim->second.last_use))
        victim = c;
    if (victim == copies.end())
      break;
    cached_bytes -= victim->second.size;
    self->send(worker_for(victim->first), atom::evict::value, victim->first);
    copies.erase(victim);
  }
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
  auto cutoff = opts.now() - opts.retention_ms;
  auto scan = media::scan_unused(db, cursor, opts.retention_batch, cutoff);
  cursor = scan.next_cursor;
  stats.examined = scan.examined;
  stats.pass_done = scan.pass_done;
  struct progress {
    std::size_t left;
    retention_stats stats;
    std::function<void(retention_stats)> done;
  };
  auto p = std::make_shared<progress>(progress{1, stats, std::move(done)});
  auto finish = [p] {
    if (--p->left == 0)
      p->done(p->stats);
  };
  for (auto& hash : scan.unused) {
    // Anything in flight for the hash (a grant, an upload, a refresh) is a use: keep it; so
    // is being somebody's avatar. A blob not served here (homed elsewhere since a member was
    // added, or still arriving) is the handover's: retention leaves it alone.
    if (busy.count(hash) > 0 || !ctx->is_media_home(hash) ||
        media::is_avatar(db, hash) != storage::answer::no)
      continue;
    ++p->left;
    check_claims(hash, cutoff, [this, hash, p, finish](bool unclaimed) {
      if (!unclaimed)
        return finish();
      remove(hash, [p, finish](bool deleted) {
        p->stats.deleted += deleted ? 1 : 0;
        finish();
      });
    });
  }
  finish();
}

void media_state::check_claims(const std::string& hash, int64_t cutoff,
                               std::function<void(bool unclaimed)> done) {
  auto found = media::claims(*ctx->store, hash, max_claims);
  if (found.failed)
    return done(false);
  auto list = std::move(*found.value);
  // Still unused and not busy once the answers are in (a grant may have come meanwhile).
  auto still_unused = [this, hash, cutoff] {
    if (busy.count(hash) > 0 || media::is_avatar(*ctx->store, hash) != storage::answer::no)
      return false;
    auto rec = record_of(hash);
    return !rec.failed && rec.value && rec.value->used < cutoff;
  };
  if (list.empty())
    return done(still_unused());
  struct progress {
    std::size_t left;
    bool held = false; ///< an inbox still holds its item, or could not say
    storage::batch dead;
  };
  auto p = std::make_shared<progress>(progress{list.size(), list.size() == max_claims, {}});
  auto one = [this, hash, p, still_unused, done](const media::claim& c, bool held) {
    if (held)
      p->held = true;
    else
      p->dead.del(storage::table::media_pending, c.key);
    if (--p->left > 0)
      return;
    if (!p->held)
      return done(still_unused()); // the deletion removes the claims with the record
    // Some item still names it: the blob stays; the claims of acknowledged items go.
    write(hash, std::move(p->dead), record_of(hash).value, [done](bool) { done(false); });
  };
  for (auto& c : list) {
    auto route = ctx->directory_of(c.recipient);
    if (!route) { // the recipient's home is down: it may still hold the item
      one(c, true);
      continue;
    }
    self->request(route, ask_timeout, atom::holds::value, c.recipient, c.seq)
        .then([one, c](bool held) { one(c, held); },
              [one, c](const caf::error& err) {
                // An account that no longer exists holds nothing; anything else may.
                one(c, to_errc(err) != errc::not_found);
              });
  }
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
                                         media::blob_store* cache, media::options opts) {
  self->state.init(self, ctx, blobs, cache, std::move(opts));
  return {
      [self](atom::may_read, const std::string& hash, const std::string& user) {
        return self->state.may_read(hash, user);
      },
      [self](atom::grant, const std::string& hash, const std::string& user, uint64_t seq) {
        return self->state.grant(hash, user, seq);
      },
      [self](atom::avatar, const std::string& hash, const std::string& owner, bool on) {
        return self->state.avatar(hash, owner, on);
      },
      [self](atom::blob_info, const std::string& hash, const std::string& user) {
        return self->state.blob_info(hash, user);
      },
      [self](atom::offer, const media_offer& o) { return self->state.offer(o); },
      [self](atom::read_chunk, const std::string& hash, uint64_t offset, uint32_t length) {
        return self->state.read_chunk(hash, offset, length);
      },
      [self](atom::commit, const media_upload& upload) { return self->state.commit(upload); },
      [self](atom::cached, const std::string& hash, uint64_t size) {
        return self->state.cached(hash, size);
      },
      [self](atom::retain) { return self->state.retain(); },
      [self](atom::written, uint64_t id, bool ok) { self->state.on_written(id, ok); },
      [self](atom::timer) { self->state.tick(); },
  };
}

} // namespace tidings
