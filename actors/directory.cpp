#include "actors/directory.hpp"

#include "actors/counted.hpp"
#include "actors/inbox.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"
#include "storage/inbox_log.hpp"

namespace tidings {

directory_state::entry* directory_state::find_or_spawn(const std::string& user, errc* why) {
  auto it = inboxes.find(user);
  if (it != inboxes.end())
    return &it->second;
  if (releasing || !ctx->is_home(user)) {
    // (Not served here: homed elsewhere, or its data still arriving after a member was added.)
    *why = errc::unavailable;
    return nullptr;
  }
  auto exists = ctx->store->contains(storage::table::accounts, user);
  if (exists != storage::answer::yes) {
    *why = exists == storage::answer::no ? errc::not_found : errc::unavailable;
    return nullptr;
  }
  auto inbox = spawn_counted(self, inbox_actor, ctx, user);
  self->monitor(inbox);
  users_by_inbox.emplace(inbox.address(), user);
  return &inboxes.emplace(user, entry{inbox, 0}).first->second;
}

void directory_state::on_idle(const std::string& user, uint64_t handled) {
  auto it = inboxes.find(user);
  if (it == inboxes.end() || it->second.inbox != self->current_sender() ||
      it->second.routed != handled)
    return; // something is still on its way to that inbox: it stays
  self->demonitor(it->second.inbox.address());
  self->send(it->second.inbox, atom::stop::value);
  users_by_inbox.erase(it->second.inbox.address());
  inboxes.erase(it);
}

void directory_state::on_down(const caf::down_msg& dm) {
  if (auto it = users_by_inbox.find(dm.source); it != users_by_inbox.end()) {
    inboxes.erase(it->second);
    users_by_inbox.erase(it);
  }
  if (auto it = evicting.find(dm.source); it != evicting.end()) {
    for (auto& rp : it->second)
      rp.deliver(true);
    evicting.erase(it);
  }
  if (stopping && inboxes.empty())
    self->quit(stop_reason);
}

void directory_state::shutdown(const caf::error& reason) {
  if (stopping)
    return;
  stopping = true;
  stop_reason = reason;
  if (inboxes.empty())
    return self->quit(reason);
  for (auto& [user, e] : inboxes)
    self->send(e.inbox, atom::drain::value);
}

void directory_state::on_drained(const std::string& user) {
  auto it = inboxes.find(user);
  if (it == inboxes.end() || it->second.inbox != self->current_sender())
    return;
  it->second.drained = true;
  for (auto& [name, e] : inboxes)
    if (!e.drained)
      return;
  // No ack is running anywhere, and no session exists to start one: all may go.
  releasing = true;
  for (auto& [name, e] : inboxes)
    self->send(e.inbox, atom::stop::value);
}

caf::result<inbox_facts> directory_state::probe_user(const std::string& user) {
  if (auto it = inboxes.find(user); it != inboxes.end()) {
    self->delegate(it->second.inbox, atom::probe::value, user);
    return caf::delegated<inbox_facts>{};
  }
  bool failed = false;
  auto facts = stored_inbox_facts(*ctx->store, user, &failed);
  if (failed)
    return make_error(errc::unavailable);
  return facts;
}

caf::result<bool> directory_state::evict(const std::string& user) {
  auto it = inboxes.find(user);
  if (it == inboxes.end())
    return true;
  auto addr = it->second.inbox.address();
  self->send(it->second.inbox, atom::stop::value);
  users_by_inbox.erase(addr);
  inboxes.erase(it);
  auto rp = self->make_response_promise<bool>();
  evicting[addr].push_back(rp);
  return rp;
}

std::vector<caf::actor> directory_state::running_inboxes() const {
  std::vector<caf::actor> out;
  out.reserve(inboxes.size());
  for (const auto& [user, e] : inboxes)
    out.push_back(caf::actor_cast<caf::actor>(e.inbox));
  return out;
}

int64_t item_time(std::string_view item) {
  std::string why;
  auto decoded = net::decode(item, net::encoding::msgpack, &why);
  if (!decoded)
    return -1;
  auto ts = decoded->find("ts");
  return ts != decoded->end() && ts->is_number_integer() ? ts->get<int64_t>() : -1;
}

inbox_facts stored_inbox_facts(storage::db& store, const std::string& user, bool* failed) {
  inbox_facts facts;
  storage::inbox_log log{store, user};
  if (!log.loaded().ok()) {
    *failed = true;
    return facts;
  }
  facts.depth = log.size();
  if (facts.depth > 0) {
    auto first = log.read(log.first_seq(), 1);
    if (!first.empty())
      facts.oldest_ts = item_time(first.front().item);
  }
  return facts;
}

directory_actor_t::behavior_type
directory_actor(directory_actor_t::stateful_pointer<directory_state> self,
                const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](const caf::exit_msg& em) { self->state.shutdown(em.reason); });
  return {
      // Sends and receipts are taken by reference and moved on: the message is not shared, so
      // the inbox gets its content without a copy.
      [self](deliver_request& d) -> caf::result<sent_reply> {
        // New work is refused first; attaches and receipts finish work already accepted.
        if (self->mailbox().size() > self->state.ctx->settings.service_backlog) {
          node_metrics::add(self->state.ctx->metrics->overload_refusals);
          return make_error(errc::overloaded);
        }
        auto to = d.to;
        return self->state.route<sent_reply>(to, std::move(d));
      },
      [self](const attach_request& a) { return self->state.route<attached_inbox>(a.user, a); },
      [self](receipt_delivery& r) {
        auto to = r.to;
        return self->state.route<uint64_t>(to, std::move(r));
      },
      [self](atom::holds h, const std::string& user, uint64_t seq) {
        return self->state.route<bool>(user, h, user, seq);
      },
      [self](atom::devices d, atom::add_item a, const std::string& user, const std::string& name,
             const std::string& key) {
        return self->state.route<uint32_t>(user, d, a, user, name, key);
      },
      [self](atom::devices d, atom::list l, const std::string& user) {
        return self->state.route<std::string>(user, d, l, user);
      },
      [self](atom::devices d, atom::remove_item r, const std::string& user, uint32_t id) {
        return self->state.route<bool>(user, d, r, user, id);
      },
      [self](atom::blocks, const std::string& owner, const std::string& other, bool blocked) {
        // Only a running inbox needs it: a starting one loads the whole list.
        if (auto it = self->state.inboxes.find(owner); it != self->state.inboxes.end())
          self->send(it->second.inbox, atom::blocks::value, other, blocked);
      },
      [self](atom::drain, const std::string& user) { self->state.on_drained(user); },
      [self](atom::idle, const std::string& user, uint64_t handled) {
        self->state.on_idle(user, handled);
      },
      [self](atom::probe) {
        return actor_probe{"directory", "", self->mailbox().size(), self->state.handled};
      },
      [self](atom::probe, const std::string& user) { return self->state.probe_user(user); },
      [self](atom::probe, atom::list) { return self->state.running_inboxes(); },
      [self](atom::stop, const std::string& user) { return self->state.evict(user); },
  };
}

} // namespace tidings
