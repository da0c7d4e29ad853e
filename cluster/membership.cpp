#include "cluster/membership.hpp"

#include <random>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

namespace tidings::cluster {

void membership_state::start() {
  for (const auto& m : members->peers()) {
    auto& p = peers[m.id];
    p.config = m;
    p.dialer = members->self() < m.id;
    if (p.dialer)
      dial(m.id);
  }
}

void membership_state::dial(const std::string& id) {
  auto it = peers.find(id);
  if (it == peers.end() || it->second.dialing || it->second.membership)
    return;
  auto& p = it->second;
  p.dialing = true;
  auto mm = opts.tls ? self->system().openssl_manager().actor_handle()
                     : self->system().middleman().actor_handle();
  self->request(mm, opts.request_timeout, caf::connect_atom::value, p.config.host, p.config.port)
      .then(
          [this, id](const caf::node_id&, caf::strong_actor_ptr& remote,
                     const std::set<std::string>&) {
            auto& p = peers[id];
            if (!remote)
              return retry(p, "no actor published on " + p.config.host + ":" +
                                  std::to_string(p.config.port));
            auto theirs = caf::actor_cast<caf::actor>(remote);
            self->request(theirs, opts.request_timeout, atom::hello::value, opts.version,
                          members->self(), caf::actor_cast<caf::actor>(self), gate,
                          members->previous())
                .then(
                    [this, id, theirs](uint32_t, const std::string& their_id,
                                       const caf::actor& their_gate,
                                       std::vector<std::string>& their_previous) {
                      auto& p = peers[id];
                      if (their_id != id)
                        return retry(p, "answered as '" + their_id + "'");
                      up(p, theirs, their_gate, std::move(their_previous));
                    },
                    [this, id](const caf::error& err) {
                      // A refusal (version, unknown id) is final until someone changes a node; a
                      // lost or slow answer is retried soon.
                      bool refused = err == caf::make_error(caf::sec::unexpected_message);
                      retry(
                          peers[id],
                          (refused ? "refused the handshake: " : "did not answer the handshake: ") +
                              self->system().render(err),
                          refused);
                    });
          },
          [this, id](const caf::error& err) { retry(peers[id], connect_failure(err)); });
}

std::string membership_state::connect_failure(const caf::error& err) const {
  // CAF 0.17.6 reports a failed TLS handshake as cannot_connect_to_node without context (a
  // failed TCP connect carries "ip_connect failed", host and port), or as a disconnect during
  // the BASP handshake when the other side closes the connection; its SSL errors go to CAF's
  // log only. Both wordings below stay the same whichever of the two a race produces.
  bool handshake = err == caf::sec::disconnect_during_handshake ||
                   (opts.tls && err == caf::sec::cannot_connect_to_node && err.context().empty());
  if (!handshake)
    return std::string{opts.tls ? "cannot connect over TLS: " : "cannot connect: "} +
           self->system().render(err);
  if (opts.tls)
    return "cannot connect over TLS: the handshake failed (the peer does not use TLS, or its "
           "certificate or this node's is not signed by the other's cluster.tls-ca)";
  return "cannot connect: the peer closed the connection during the handshake (does it "
         "require TLS? this node has no cluster.tls-* options)";
}

caf::result<uint32_t, std::string, caf::actor, std::vector<std::string>>
membership_state::on_hello(uint32_t version, const std::string& id, const caf::actor& membership,
                           const caf::actor& their_gate, std::vector<std::string> their_previous) {
  if (version != opts.version) {
    log("cluster: refusing peer '" + id + "': it speaks cluster protocol " +
        std::to_string(version) + ", this node speaks " + std::to_string(opts.version));
    return caf::make_error(caf::sec::unexpected_message,
                           "incompatible cluster protocol version " + std::to_string(version) +
                               " (this node: " + std::to_string(opts.version) + ")");
  }
  auto it = peers.find(id);
  if (it == peers.end() || !membership || !their_gate) {
    log("cluster: refusing '" + id + "': not a configured peer of this node");
    return caf::make_error(caf::sec::unexpected_message, "'" + id + "' is not a configured peer");
  }
  up(it->second, membership, their_gate, std::move(their_previous));
  return {opts.version, members->self(), gate, members->previous()};
}

void membership_state::up(peer& p, caf::actor membership, caf::actor their_gate,
                          std::vector<std::string> their_previous) {
  p.dialing = false;
  p.backoff_ms = 0;
  p.last_error.clear();
  if (p.membership && p.membership != membership)
    self->demonitor(p.membership); // it restarted: the old one's down message is moot
  p.membership = membership;
  self->monitor(membership);
  // Before it counts as up: what it owes this node is known before anything is asked of it.
  members->heard(p.config.id, std::move(their_previous));
  members->set_up(p.config.id, std::move(their_gate), opts.now());
  log("cluster: peer '" + p.config.id + "' up (" + p.config.host + ":" +
      std::to_string(p.config.port) + ")");
}

void membership_state::retry(peer& p, const std::string& why, bool refused) {
  p.dialing = false;
  if (why != p.last_error) {
    log("cluster: peer '" + p.config.id + "' " + why);
    p.last_error = why;
  }
  p.backoff_ms =
      refused ? opts.backoff_max_ms
              : std::min(opts.backoff_max_ms, std::max(opts.backoff_min_ms, p.backoff_ms * 2));
  static thread_local std::minstd_rand rng{std::random_device{}()};
  auto delay = p.backoff_ms / 2 + static_cast<int64_t>(rng() % (p.backoff_ms / 2 + 1));
  self->delayed_send(self, std::chrono::milliseconds(delay), atom::dial::value, p.config.id);
}

void membership_state::on_down(const caf::down_msg& dm) {
  for (auto& [id, p] : peers) {
    if (!p.membership || p.membership.address() != dm.source)
      continue;
    p.membership = nullptr;
    members->set_down(id, opts.now());
    log("cluster: peer '" + id + "' down");
    if (p.dialer) {
      p.backoff_ms = 0;
      retry(p, "down, reconnecting");
    }
  }
}

void membership_state::log(const std::string& line) const {
  if (opts.log)
    opts.log(line);
}

caf::behavior membership_actor(caf::stateful_actor<membership_state>* self, view* members,
                               caf::actor gate, membership_options opts) {
  auto& st = self->state;
  st.self = self;
  st.members = members;
  st.gate = std::move(gate);
  st.opts = std::move(opts);
  if (!st.opts.now)
    st.opts.now = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  self->set_down_handler([self](const caf::down_msg& dm) { self->state.on_down(dm); });
  st.start();
  return {
      [self](atom::hello, uint32_t version, const std::string& id, const caf::actor& membership,
             const caf::actor& their_gate, std::vector<std::string>& their_previous) {
        return self->state.on_hello(version, id, membership, their_gate, std::move(their_previous));
      },
      // The handshake of protocol 1 (no member list): refused with the versions named.
      [self](atom::hello, uint32_t version, const std::string& id, const caf::actor& membership,
             const caf::actor& their_gate) {
        return self->state.on_hello(version, id, membership, their_gate, {});
      },
      [self](atom::dial, const std::string& id) { self->state.dial(id); },
  };
}

} // namespace tidings::cluster
