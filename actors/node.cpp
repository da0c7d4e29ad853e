#include "actors/node.hpp"

#include <iostream>
#include <random>
#include <sodium.h>

#include <caf/openssl/publish.hpp>

#include "actors/accounts.hpp"
#include "actors/counted.hpp"
#include "actors/directory.hpp"
#include "actors/gate.hpp"
#include "actors/gateway.hpp"
#include "actors/handoff.hpp"
#include "actors/handover.hpp"
#include "actors/inspector.hpp"
#include "actors/media.hpp"
#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "actors/sweeper.hpp"
#include "cluster/membership.hpp"

namespace tidings {

int64_t system_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_of(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += hex[c >> 4];
    out += hex[c & 0xF];
  }
  return out;
}

std::string bytes_of_hex(std::string_view hex) {
  auto digit = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; // callers pass hex_of's output
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(digit(hex[i]) << 4 | digit(hex[i + 1]));
  return out;
}

std::string random_id(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return hex_of(raw);
}

int64_t jittered(int64_t base) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return base + static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(1, base)));
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::tidings>();
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message&) -> std::string {
                           return std::string{to_string(static_cast<errc>(code))};
                         });
}

node::node(caf::actor_system& sys, node_options opts) : sys_(sys), opts_(std::move(opts)) {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialise");
  if (!opts_.web_dir.empty()) // a missing folder throws here, before anything has started
    web_ = std::make_unique<net::static_site>(opts_.web_dir);
  store_ = storage::db::open(opts_.db);
  // Read before any actor exists (a throw then leaves nothing running, and the process can
  // exit): a node that cannot read the sends it already answered `sent` for must not start.
  handoff_backlog backlog;
  member_changes changes; // and which member list it last completed with
  if (!opts_.cluster.node_id.empty()) {
    backlog = read_handoff_backlog(*store_);
    changes = read_member_changes(*store_);
  }
  // The media folders too (they may throw: a file where a folder should be, no permission).
  opts_.media.root = std::filesystem::path{opts_.db.path} / "media";
  blobs_ = std::make_unique<media::blob_store>(opts_.media.root);
  if (!opts_.cluster.node_id.empty()) {
    // Copies of blobs homed on other nodes: a cache, emptied at every start.
    auto cache_root = opts_.media.root / "cache";
    std::error_code ignored;
    std::filesystem::remove_all(cache_root, ignored);
    cache_ = std::make_unique<media::blob_store>(cache_root);
  }
  ctx_.settings = opts_.settings;
  ctx_.log = opts_.log;
  ctx_.started_ms = ctx_.now();
  ctx_.store = store_.get();
  store_->on_health([this](const storage::health& h) { storage_health_changed(h); });
  writer_ = std::make_unique<storage::group_writer>(*store_, opts_.writer);
  ctx_.writer = writer_.get();
  ctx_.metrics = &metrics_;
  opts_.server.frame_limit = ctx_.settings.frame_limit;
  opts_.server.reads_paused = &metrics_.frames_paused;
  opts_.server.connections_refused = &metrics_.connections_refused;
  opts_.server.pending_auth = &metrics_.sessions_pending;
  opts_.server.upgrades_refused = &metrics_.sessions_refused;
  ctx_.directory = spawn_counted(sys_, directory_actor, &ctx_);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, opts_.account_workers); ++i)
    ctx_.accounts.push_back(sys_.spawn<caf::detached>(accounts_actor, &ctx_));
  ctx_.registry = sys_.spawn(registry_actor, &ctx_);
  sweeper_ = sys_.spawn(sweeper_actor, &ctx_);
  spawn_services(sys_, ctx_);
  gate_ = sys_.spawn(gate_actor, &ctx_);
  if (!opts_.cluster.node_id.empty()) {
    members_ =
        std::make_unique<cluster::view>(opts_.cluster.node_id, opts_.cluster.peers,
                                        std::move(changes.previous), std::move(changes.received));
    ctx_.cluster = members_.get();
    ctx_.handoff =
        caf::actor_cast<caf::actor>(spawn_counted(sys_, handoff_actor, &ctx_, std::move(backlog)));
  }
  readiness_ = std::make_unique<readiness>(writer_.get(), members_.get(), ctx_.now,
                                           opts_.cluster.form_timeout.count());
  ctx_.ready = readiness_.get();
  opts_.media.now = ctx_.now;
  ctx_.media = spawn_counted(sys_, media_actor, &ctx_, blobs_.get(), cache_.get(), opts_.media);
  if (members_) {
    handover_options ho;
    ho.log = opts_.cluster.log;
    ctx_.handover = caf::actor_cast<handover_service>(
        sys_.spawn<caf::detached>(handover_actor, &ctx_, blobs_.get(), std::move(ho)));
  }
  inspector_options io;
  io.version = TIDINGS_VERSION;
  io.census_interval = opts_.admin.census_interval;
  auto inspector = spawn_counted(sys_, inspector_actor, &ctx_, std::move(io));
  ctx_.inspector = inspector;
  inspector_ = caf::actor_cast<caf::actor>(inspector);
  media_http_ = std::make_unique<media_http>(sys_, ctx_, *blobs_, opts_.media);
  gateway_ = std::make_unique<gateway>(sys_, ctx_, *media_http_, web_.get());
  server_ = std::make_unique<net::server>(opts_.server, *gateway_);
}

node::~node() {
  stop();
}

uint16_t node::start() {
  if (members_) {
    cluster::membership_options mo;
    if (opts_.cluster.tls && !sys_.has_openssl_manager())
      throw std::runtime_error("cluster TLS needs caf::openssl::manager loaded");
    if (opts_.cluster.protocol_version != 0)
      mo.version = opts_.cluster.protocol_version;
    mo.tls = opts_.cluster.tls;
    mo.now = ctx_.now;
    mo.log = opts_.cluster.log;
    membership_ = sys_.spawn(cluster::membership_actor, members_.get(),
                             caf::actor_cast<caf::actor>(gate_), std::move(mo));
    // With TLS the cluster port speaks TLS only: nothing is published in plaintext.
    const auto* bind = opts_.cluster.bind.c_str();
    auto port = opts_.cluster.tls
                    ? caf::openssl::publish(membership_, opts_.cluster.port, bind, true)
                    : sys_.middleman().publish(membership_, opts_.cluster.port, bind, true);
    if (!port)
      throw std::runtime_error("cannot open the cluster port " + opts_.cluster.bind + ":" +
                               std::to_string(opts_.cluster.port) + ": " +
                               sys_.render(port.error()));
    cluster_port_ = *port;
  }
  if (opts_.admin.enabled) {
    admin_options ao;
    ao.secret = opts_.admin.secret;
    admin_ = sys_.spawn(admin_actor, &ctx_, std::move(ao));
    auto port = sys_.middleman().publish(admin_, opts_.admin.port, opts_.admin.bind.c_str(), true);
    if (!port)
      throw std::runtime_error("cannot open the admin port " + opts_.admin.bind + ":" +
                               std::to_string(opts_.admin.port) + ": " + sys_.render(port.error()));
    admin_port_ = *port;
  }
  auto port = server_->start();
  readiness_->started();
  return port;
}

void node::start_draining() {
  readiness_->start_draining();
}

void node::storage_health_changed(const storage::health& h) {
  metrics_.storage_writable = h.writable ? 1 : 0;
  if (!h.writable) {
    node_metrics::add(metrics_.storage_read_only);
    ctx_.logs().warn("storage read-only: a write failed; sends are refused (unavailable) "
                     "until the store recovers",
                     {{"error", h.error}, {"times", h.read_only}});
    return;
  }
  node_metrics::add(metrics_.storage_recoveries);
  ctx_.logs().warn("storage writable again: sends are accepted",
                   {{"read_only_ms", h.read_only_ms}, {"reopened", h.reopens}});
}

void node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  server_->shutdown(opts_.shutdown_grace);
  if (membership_) {
    // Peers see this node down at once; requests already passed on are still answered. The
    // middleman's unpublish closes a TLS port too: both middleman actors hand their ports to
    // the one BASP broker (caf::openssl::unpublish of 0.17.6 omits the actor the middleman
    // actor's unpublish takes, so it cannot be used).
    sys_.middleman().unpublish(membership_, cluster_port_);
    caf::anon_send_exit(membership_, caf::exit_reason::user_shutdown);
  }
  if (admin_) {
    sys_.middleman().unpublish(admin_, admin_port_);
    caf::anon_send_exit(admin_, caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(inspector_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(gate_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ctx_.handoff, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ctx_.handover, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ctx_.directory, caf::exit_reason::user_shutdown);
  // Its file workers (linked) go with it; an upload not yet committed stays a temporary file,
  // removed at the next start (its answer could no longer go out anyway).
  caf::anon_send_exit(ctx_.media, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sweeper_, caf::exit_reason::user_shutdown);
  stop_services(ctx_);
  for (auto& a : ctx_.accounts)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ctx_.registry, caf::exit_reason::user_shutdown);
  // Session actors quit as their connections end; all of them hold &ctx_ and the store.
  sys_.await_all_actors_done();
  ctx_.accounts.clear();
  ctx_.registry = nullptr;
  ctx_.directory = nullptr;
  gate_ = nullptr;
  ctx_.handoff = nullptr;
  ctx_.handover = nullptr;
  membership_ = nullptr;
  admin_ = nullptr;
  inspector_ = nullptr;
  ctx_.inspector = nullptr;
  ctx_.media = nullptr;
  writer_->stop(); // every inbox has quit, so nothing waits on a write any more
  store_->on_health({});
  if (auto st = store_->flush(); !st.ok())
    std::cerr << "tidings: flush at shutdown failed: " << st.error << "\n";
}

} // namespace tidings
