#pragma once
// Helpers for tests of the inbox's and the directory's state machines: a stub directory that
// records what inboxes send it and holds receipt requests (and idle reports) until the test
// releases them, stub sessions that record what an inbox pushes, and bounded round trips.
//
// Ordering: a round trip (request and response) to an actor proves that everything enqueued
// in its mailbox before the request has been handled; the tests chain such round trips instead
// of sleeping. A stub's `release` is answered after the held answers are in the inboxes'
// mailboxes, so whatever the test sends an inbox afterwards is handled after them.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "storage/inbox_log.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace tidings::test {

namespace test_atom {
using release = caf::atom_constant<caf::atom("trelease")>; ///< test -> stub: answer what is held
using sync = caf::atom_constant<caf::atom("tsync")>;       ///< test -> stub: a round trip
using open = caf::atom_constant<caf::atom("topen")>;       ///< test -> stub: hold nothing more
} // namespace test_atom

/// Ends every actor of a test when the test's scope ends, also when an assertion failed half-way
/// (one actor left running hangs the fixture's destructor). Declare it right after the fixture.
/// At the end: stub directories stop holding anything, real directories shut down through
/// their drain protocol (which stops their inboxes), then everything registered is killed; a
/// stub directory kills every actor that ever wrote to it (the inboxes) when it ends.
class actor_guard {
public:
  explicit actor_guard(caf::actor_system& sys) : sys_(sys) {}
  actor_guard(const actor_guard&) = delete;
  actor_guard& operator=(const actor_guard&) = delete;

  ~actor_guard() {
    for (const auto& stub : stubs_)
      caf::anon_send(stub, test_atom::open::value);
    for (const auto& directory : directories_) {
      caf::scoped_actor self{sys_};
      self->monitor(directory);
      caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
      bool down = false;
      self->receive([&](const caf::down_msg&) { down = true; },
                    caf::after(std::chrono::seconds(10)) >> [] {});
      if (!down)
        caf::anon_send_exit(directory, caf::exit_reason::kill);
    }
    for (const auto& a : actors_)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  }

  caf::actor_system& sys() { return sys_; }
  /// Killed at the end.
  template <class Handle> Handle add(Handle a) {
    actors_.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }
  /// A stub directory: told to hold nothing more, then killed.
  void add_stub(const any_actor& stub) {
    stubs_.push_back(stub.handle);
    add(stub.handle);
  }
  /// A real directory: shut down (bounded), killed if it does not quit.
  directory_service add_directory(directory_service directory) {
    directories_.push_back(directory);
    return directory;
  }

private:
  caf::actor_system& sys_;
  std::vector<caf::actor> stubs_;
  std::vector<directory_service> directories_;
  std::vector<caf::actor> actors_;
};

/// A receipt request an inbox sent to the (stub) directory.
struct receipt_request {
  enum outcome { held, stored, failed };
  std::string to;     ///< whose inbox it was meant for
  std::string status; ///< delivered | read
  std::string by;
  std::vector<std::string> mids;
  outcome result = held;
};

/// The directory's interface, as the stub plays it, and the test's controls of the stub.
using directory_stub_service =
    directory_service::extend<caf::replies_to<test_atom::release>::with<uint64_t>,
                              caf::reacts_to<test_atom::open>,
                              caf::replies_to<test_atom::sync>::with<bool>>;

/// Plays the directory for inboxes: takes their receipt requests, drain and idle reports.
/// Receipts are held until `release` (or answered at once); drains are passed on to a real
/// directory when `forward` is set, idle reports too (held until `release` if `hold_idle`).
/// It routes nothing: a deliver or an attach sent to it fails.
class directory_stub {
public:
  struct options {
    bool hold_receipts = true;          ///< false: every receipt is "stored" at once
    bool fail_first_per_sender = false; ///< the first receipt for each sender fails
    bool hold_idle = false;             ///< idle reports wait for `release`
    directory_service forward;          ///< a real directory for drain and idle reports
  };

  directory_stub(actor_guard& guard, options opts) : sys_(guard.sys()), shared_(new shared) {
    actor = sys_.spawn([sh = shared_, opts](directory_stub_service::pointer self)
                           -> directory_stub_service::behavior_type {
      using promise = caf::typed_response_promise<uint64_t>;
      struct idle_report {
        inbox_service inbox;
        std::string user;
        uint64_t handled;
      };
      struct local {
        std::vector<std::pair<std::size_t, promise>> held;
        std::vector<idle_report> idles;
        std::set<std::string> failed_once;
        std::set<caf::actor> senders; ///< killed when the stub ends
        bool open = false;            ///< holds nothing more (the test is ending)
      };
      auto st = std::make_shared<local>();
      self->attach_functor([st] {
        for (const auto& a : st->senders)
          caf::anon_send_exit(a, caf::exit_reason::kill);
      });
      auto note_sender = [self, st] {
        if (auto a = caf::actor_cast<caf::actor>(self->current_sender()))
          st->senders.insert(a);
      };
      auto release = [sh, st, opts] {
        auto n = st->held.size() + st->idles.size();
        for (auto& [index, rp] : st->held) {
          sh->mark_stored(index);
          rp.deliver(uint64_t{1});
        }
        st->held.clear();
        for (auto& r : st->idles) // under the inbox's identity, as the directory checks it
          caf::send_as(r.inbox, opts.forward, atom::idle::value, r.user, r.handled);
        st->idles.clear();
        return static_cast<uint64_t>(n);
      };
      return {
          [=](const receipt_delivery& delivery) -> caf::result<uint64_t> {
            const auto& to = delivery.to;
            const auto& item = delivery.item;
            note_sender();
            receipt_request r;
            r.to = to;
            if (auto j = net::decode(item, net::encoding::msgpack, nullptr)) {
              r.status = j->value("status", "");
              r.by = j->value("by", "");
              if (j->contains("mids"))
                r.mids = (*j)["mids"].get<std::vector<std::string>>();
            }
            bool fail =
                opts.fail_first_per_sender && !st->open && st->failed_once.insert(to).second;
            bool hold = opts.hold_receipts && !st->open;
            r.result = fail   ? receipt_request::failed
                       : hold ? receipt_request::held
                              : receipt_request::stored;
            std::size_t index = sh->add(std::move(r));
            if (fail)
              return make_error(errc::unavailable);
            if (!hold)
              return uint64_t{1};
            auto rp = self->make_response_promise<uint64_t>();
            st->held.emplace_back(index, rp);
            return rp;
          },
          [](const deliver_request&) -> caf::result<sent_reply> {
            return make_error(errc::unavailable); // not routed by the stub
          },
          [](const attach_request&) -> caf::result<attached_inbox> {
            return make_error(errc::unavailable);
          },
          [](atom::holds, const std::string&, uint64_t) -> caf::result<bool> {
            return make_error(errc::unavailable);
          },
          [](atom::devices, atom::add_item, const std::string&, const std::string&,
             const std::string&) -> caf::result<uint32_t> { return make_error(errc::unavailable); },
          [](atom::devices, atom::list, const std::string&) -> caf::result<std::string> {
            return make_error(errc::unavailable);
          },
          [](atom::devices, atom::remove_item, const std::string&, uint32_t) -> caf::result<bool> {
            return make_error(errc::unavailable);
          },
          [](atom::blocks, const std::string&, const std::string&, bool) {},
          [=](atom::drain, const std::string& user) {
            note_sender();
            if (opts.forward)
              self->delegate(opts.forward, atom::drain::value, user); // keeps the inbox as sender
            sh->note_drain(user);
          },
          [=](atom::idle, const std::string& user, uint64_t handled) {
            note_sender();
            auto inbox = caf::actor_cast<inbox_service>(self->current_sender());
            if (opts.hold_idle && !st->open)
              st->idles.push_back({inbox, user, handled});
            else if (opts.forward)
              self->delegate(opts.forward, atom::idle::value, user, handled);
            sh->note_idle(inbox);
          },
          [=](test_atom::release) { return release(); },
          [=](test_atom::open) {
            st->open = true;
            release();
          },
          [](test_atom::sync) { return true; },
      };
    });
    guard.add_stub(actor);
  }

  directory_stub(const directory_stub&) = delete;
  directory_stub& operator=(const directory_stub&) = delete;

  directory_stub_service actor;

  /// Answers every held receipt request (stored) and passes held idle reports on; returns
  /// once they are sent. How many were released, or -1 on timeout.
  int release() {
    caf::scoped_actor self{sys_};
    int out = -1;
    self->request(actor, 10s, test_atom::release::value)
        .receive([&](uint64_t n) { out = static_cast<int>(n); }, [](const caf::error&) {});
    return out;
  }
  /// A round trip: everything sent to the stub before has been handled.
  bool sync() {
    caf::scoped_actor self{sys_};
    bool out = false;
    self->request(actor, 10s, test_atom::sync::value)
        .receive([&](bool) { out = true; }, [](const caf::error&) {});
    return out;
  }

  std::vector<receipt_request> receipts() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    return shared_->receipts;
  }
  std::vector<std::string> drains() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    return shared_->drains;
  }
  /// The inbox that sent the first idle report.
  inbox_service idle_sender() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    return shared_->idle_sender;
  }
  counter_signal& receipt_signal() { return shared_->receipt_signal; }
  counter_signal& drain_signal() { return shared_->drain_signal; }
  counter_signal& idle_signal() { return shared_->idle_signal; }

private:
  struct shared {
    std::mutex mtx;
    std::vector<receipt_request> receipts;
    std::vector<std::string> drains;
    inbox_service idle_sender;
    counter_signal receipt_signal;
    counter_signal drain_signal;
    counter_signal idle_signal;

    std::size_t add(receipt_request r) {
      std::size_t index;
      {
        std::lock_guard<std::mutex> guard{mtx};
        index = receipts.size();
        receipts.push_back(std::move(r));
      }
      receipt_signal.raise();
      return index;
    }
    void mark_stored(std::size_t index) {
      std::lock_guard<std::mutex> guard{mtx};
      receipts[index].result = receipt_request::stored;
    }
    void note_drain(const std::string& user) {
      {
        std::lock_guard<std::mutex> guard{mtx};
        drains.push_back(user);
      }
      drain_signal.raise();
    }
    void note_idle(const inbox_service& inbox) {
      {
        std::lock_guard<std::mutex> guard{mtx};
        if (!idle_sender)
          idle_sender = inbox;
      }
      idle_signal.raise();
    }
  };

  caf::actor_system& sys_;
  std::shared_ptr<shared> shared_;
};

/// Plays a session for an inbox: records the pushes (seq and mid) and `replaced`.
class session_stub {
public:
  explicit session_stub(actor_guard& guard) : shared_(new shared) {
    actor = guard.sys().spawn([sh = shared_](caf::event_based_actor*) -> caf::behavior {
      return {
          [sh](atom::push, uint64_t seq, const std::string& bytes) {
            std::string mid;
            if (auto j = net::decode(bytes, net::encoding::msgpack, nullptr))
              mid = j->value("mid", "");
            {
              std::lock_guard<std::mutex> guard{sh->mtx};
              sh->pushes.emplace_back(seq, std::move(mid));
            }
            sh->push_signal.raise();
          },
          [sh](atom::replaced) { sh->replaced_signal.raise(); },
          [](atom::devices, uint32_t, bool) {}, // its device: the unnamed one here
      };
    });
    guard.add(actor);
  }

  session_stub(const session_stub&) = delete;
  session_stub& operator=(const session_stub&) = delete;

  caf::actor actor;

  /// (seq, mid) of every push so far, in arrival order.
  std::vector<std::pair<uint64_t, std::string>> pushes() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    return shared_->pushes;
  }
  std::vector<uint64_t> pushed_seqs() {
    std::vector<uint64_t> out;
    for (auto& p : pushes())
      out.push_back(p.first);
    return out;
  }
  bool wait_pushes(int n) { return shared_->push_signal.wait_for(n); }
  counter_signal& replaced_signal() { return shared_->replaced_signal; }

private:
  struct shared {
    std::mutex mtx;
    std::vector<std::pair<uint64_t, std::string>> pushes;
    counter_signal push_signal;
    counter_signal replaced_signal;
  };
  std::shared_ptr<shared> shared_;
};

/// Delivers a text message straight to an inbox (bounded).
inline delivery deliver_to_inbox(caf::actor_system& sys, const inbox_service& inbox,
                                 const std::string& from, const std::string& cid) {
  return deliver_text(sys, inbox, "", from, cid);
}

/// Delivers a text message to `to` through a directory (bounded).
inline delivery deliver_via(caf::actor_system& sys, const directory_service& directory,
                            const std::string& to, const std::string& from,
                            const std::string& cid) {
  return deliver_text(sys, directory, to, from, cid);
}

/// Sends an attach to `target` (an inbox, or a directory that routes by `user`); returns the
/// inbox that answered (null on error or timeout), seen whole: the tests also deliver to it and
/// stop it, where a session sees only `attached_inbox`.
template <class Handle>
inbox_service attach_with(caf::actor_system& sys, const Handle& target, const std::string& user,
                          const caf::actor& session, int64_t since) {
  caf::scoped_actor self{sys};
  inbox_service out;
  self->request(target, 10s, attach_request{user, session, since})
      .receive([&](const attached_inbox& a) { out = caf::actor_cast<inbox_service>(a); },
               [](const caf::error&) {});
  return out;
}

/// Attaches a session straight to an inbox; returns the inbox (null on error or timeout).
inline inbox_service attach_to_inbox(caf::actor_system& sys, const inbox_service& inbox,
                                     const caf::actor& session, int64_t since) {
  return attach_with(sys, inbox, "", session, since);
}

/// Attaches a session to `user`'s inbox through a directory; returns the inbox.
inline inbox_service attach_via(caf::actor_system& sys, const directory_service& directory,
                                const std::string& user, const caf::actor& session, int64_t since) {
  return attach_with(sys, directory, user, session, since);
}

/// Monitors actors from a scoped actor and keeps every down message it took in.
class down_watch {
public:
  explicit down_watch(caf::actor_system& sys) : self_(sys) {}

  void watch(const any_actor& a) { self_->monitor(a.handle); }
  /// Whether a watched actor is down already (takes in what has arrived; does not wait).
  bool any_down() {
    take(std::chrono::milliseconds(1));
    return !downs_.empty();
  }
  /// Waits (bounded) until every actor in `actors` is down.
  bool wait_all(std::initializer_list<any_actor> actors, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto all_down = [&] {
      for (const auto& a : actors)
        if (downs_.count(a.handle.address()) == 0)
          return false;
      return true;
    };
    while (!all_down()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !take(left))
        return false;
    }
    return true;
  }
  /// Why `a` went down (after wait_all).
  caf::error reason(const any_actor& a) {
    auto it = downs_.find(a.handle.address());
    return it == downs_.end() ? caf::error{} : it->second;
  }

private:
  /// Takes in one down message; false if none arrived within `timeout`.
  bool take(std::chrono::milliseconds timeout) {
    bool got = false;
    self_->receive(
        [&](const caf::down_msg& dm) {
          downs_.emplace(dm.source, dm.reason);
          got = true;
        },
        caf::after(timeout) >> [] {});
    return got;
  }

  caf::scoped_actor self_;
  std::map<caf::actor_addr, caf::error> downs_;
};

/// A stored inbox item: its seq, type and (messages) mid.
struct stored_item {
  uint64_t seq;
  std::string type;
  std::string mid;
};

/// The items of `user`'s inbox as stored (read once the inbox actor is gone).
inline std::vector<stored_item> stored_items_of(storage::db& store, const std::string& user) {
  storage::inbox_log log{store, user};
  std::vector<stored_item> out;
  for (auto& e : log.read(log.first_seq(), SIZE_MAX)) {
    stored_item s{e.seq, "", ""};
    if (auto j = net::decode(e.item, net::encoding::msgpack, nullptr)) {
      s.type = j->value("type", "");
      s.mid = j->value("mid", "");
    }
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace tidings::test
