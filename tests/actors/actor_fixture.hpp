#pragma once
// A node's actors without the network: a real actor system and a real RocksDB in a temporary
// directory, with storage faults that a test switches on per table, and a fake WebSocket peer
// that records what a session sends. Tests stand in for the other actors with small stubs.
//
// Destruction order matters: the actor system (declared last) is destroyed first and waits for
// every actor, which still use the context, the metrics and the store declared before it.
// A test stops the actors it spawned (stop()) before the fixture goes away.

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <vector>

#include <caf/all.hpp>

#include "actors/accounts.hpp"
#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/profile.hpp"
#include "net/codec.hpp"
#include "net/server.hpp"

namespace tidings::test {

using namespace std::chrono_literals;

/// Any actor handle, dynamic or typed, for helpers that only stop, monitor or kill actors
/// (implicit, so one braced list may mix them).
struct any_actor {
  template <class Handle> any_actor(const Handle& h) : handle(caf::actor_cast<caf::actor>(h)) {}
  caf::actor handle;
};

/// Records the frames and the close a session sends to its connection.
class recording_peer : public net::ws_peer {
public:
  void send(std::string frame, bool binary) override {
    auto enc = binary ? net::encoding::msgpack : net::encoding::json;
    auto value = net::decode(frame, enc, nullptr);
    std::lock_guard<std::mutex> guard{mtx_};
    frames_.push_back(value.value_or(net::json{}));
    cv_.notify_all();
  }
  void close(uint16_t code, std::string) override {
    std::lock_guard<std::mutex> guard{mtx_};
    close_code_ = code;
    cv_.notify_all();
  }
  void frame_done() override {}

  /// Waits (bounded) until a frame of `type` was sent; returns it, or null on timeout.
  net::json wait_frame(const std::string& type, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    net::json found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& f : frames_)
        if (f.is_object() && f.value("type", "") == type) {
          found = f;
          return true;
        }
      return false;
    });
    return found;
  }
  /// Waits (bounded) for the close; returns its code, or 0 on timeout.
  uint16_t wait_close(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return close_code_ != 0; });
    return close_code_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<net::json> frames_;
  uint16_t close_code_ = 0;
};

struct actor_fixture {
  std::filesystem::path dir;
  std::mutex fault_mtx;
  std::condition_variable fault_cv;
  std::set<storage::table> failing; ///< tables whose reads fail now
  bool writes_fail = false;         ///< every write fails now
  int writes_to_fail = 0;           ///< the next this many writes fail
  bool writes_held = false;         ///< writes wait (in the writer thread) until released
  std::unique_ptr<storage::db> store;
  std::unique_ptr<storage::group_writer> writer;
  node_metrics metrics;
  node_context ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  actor_fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidings-actors-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    storage::db_options opts{dir.string(), false};
    opts.read_fault = [this](storage::table t, std::string_view) {
      std::lock_guard<std::mutex> guard{fault_mtx};
      return failing.count(t) > 0;
    };
    opts.write_fault = [this] {
      std::unique_lock<std::mutex> lock{fault_mtx};
      fault_cv.wait(lock, [this] { return !writes_held; });
      if (writes_to_fail > 0) {
        --writes_to_fail;
        return true;
      }
      return writes_fail;
    };
    store = storage::db::open(opts);
    writer = std::make_unique<storage::group_writer>(*store, storage::group_writer::options{});
    ctx.store = store.get();
    ctx.writer = writer.get();
    ctx.metrics = &metrics;
    register_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    // A real profile shard: inboxes ask it for their user's blocks when they start.
    ctx.profiles = {sys->spawn(profile_actor, &ctx)};
    // The real registry: sessions ask it whose a token is.
    ctx.registry = sys->spawn(registry_actor, &ctx);
  }

  ~actor_fixture() {
    shutdown();
    writer.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  /// Stops the fixture's own actors and destroys the system, which waits for every actor
  /// (a test stops its own first). The store stays open for checks afterwards.
  void shutdown() {
    if (!sys)
      return;
    for (const auto& p : ctx.profiles)
      caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx.registry, caf::exit_reason::user_shutdown);
    ctx.registry = nullptr;
    sys.reset();
  }

  void fail_writes(bool on = true) {
    std::lock_guard<std::mutex> guard{fault_mtx};
    writes_fail = on;
  }

  /// The next `n` writes fail (then writes succeed again).
  void fail_next_writes(int n) {
    std::lock_guard<std::mutex> guard{fault_mtx};
    writes_to_fail = n;
  }

  /// Holds every write (the group writer waits) until hold_writes(false). The test thread
  /// itself must not write meanwhile.
  void hold_writes(bool on = true) {
    std::lock_guard<std::mutex> guard{fault_mtx};
    writes_held = on;
    fault_cv.notify_all();
  }

  void fail_reads(storage::table t, bool on = true) {
    std::lock_guard<std::mutex> guard{fault_mtx};
    if (on)
      failing.insert(t);
    else
      failing.erase(t);
  }

  void add_account(const std::string& user) {
    storage::batch b;
    b.put(storage::table::accounts, user,
          net::encode(net::json{{"argon2id", "x"}, {"created", 1}}, net::encoding::msgpack));
    REQUIRE(store->write(b).ok());
  }

  void add_token(const std::string& token, const std::string& user) {
    storage::batch b;
    b.put(storage::table::tokens, token_key(token), user);
    REQUIRE(store->write(b).ok());
  }

  /// A lastseen shard that takes a session's reports and answers nothing. (Not a catch-all
  /// `caf::drop`: that answers every message with an error, which ends the sender.)
  lastseen_service lastseen_stub() {
    return sys->spawn([](lastseen_service::pointer) -> lastseen_service::behavior_type {
      return {
          [](atom::online, const std::string&, const caf::actor&, bool) {},
          [](atom::touch, const std::string&, const caf::actor&) {},
          [](atom::presence, const std::string&, const std::string&) {
            return caf::result<bool, int64_t>{false, int64_t{-1}};
          },
          [](atom::subscribe, const std::string&, const caf::actor&,
             const std::vector<std::string>&) {},
          [](atom::unsubscribe, const caf::actor&, const std::vector<std::string>&) {},
          [](atom::timer) {},
      };
    });
  }

  /// Ends actors spawned by a test (the system waits for them at destruction).
  void stop(std::initializer_list<any_actor> actors) {
    for (const auto& a : actors)
      if (a.handle)
        caf::anon_send_exit(a.handle, caf::exit_reason::user_shutdown);
  }
};

/// Counts events across threads; a test waits (bounded) for a count.
class counter_signal {
public:
  void raise() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++n_;
    cv_.notify_all();
  }
  /// True once at least `n` events happened, false if `timeout` passed first.
  bool wait_for(int n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> guard{mtx_};
    return n_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int n_ = 0;
};

/// A text message's stored content, as a session hands it to `deliver`.
inline std::string text_content(const std::string& body) {
  return net::encode(net::json{{"kind", "text"}, {"body", body}}, net::encoding::msgpack);
}

/// The answer to a deliver: the mid, or the error.
struct delivery {
  std::string mid;
  caf::error err;
  bool answered = false;
};

/// Sends a text message from `from` to `to` through `target` (an inbox, or a directory that
/// routes by `to`) and waits at most 10 s for the answer.
template <class Handle>
delivery deliver_text(caf::actor_system& sys, const Handle& target, const std::string& to,
                      const std::string& from, const std::string& cid) {
  caf::scoped_actor self{sys};
  delivery out;
  self->request(target, 10s, deliver_request{to, from, cid, text_content("hi"), ""})
      .receive(
          [&](const sent_reply& r) {
            out.mid = r.mid;
            out.answered = true;
          },
          [&](const caf::error& err) { out.err = err; });
  return out;
}

/// The error a delivery to `to` through `directory` gets (errc{} for none).
template <class Handle>
errc deliver_error(caf::actor_system& sys, const Handle& directory, const std::string& to) {
  auto d = deliver_text(sys, directory, to, "alice", "probe");
  return d.answered ? errc{} : to_errc(d.err);
}

} // namespace tidings::test
