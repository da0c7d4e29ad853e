#pragma once
// node: one Tidings server inside an actor_system. Opens the store, spawns the
// well-known actors, starts the Beast front; stops it all in the reverse order.
//
// Lifecycle: construct -> start() -> stop() (also run by the destructor). After stop()
// returns every actor of the node has quit and the store is flushed.

#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/media_http.hpp"
#include "actors/readiness.hpp"
#include "cluster/members.hpp"
#include "media/blob_store.hpp"
#include "media/options.hpp"
#include "net/server.hpp"
#include "net/static_site.hpp"
#include "storage/db.hpp"
#include "storage/group_writer.hpp"

namespace tidings {

class gateway;

/// Clustering (docs/OPERATIONS.md, "Cluster"): off when `node_id` is empty.
struct cluster_options {
  std::string node_id;
  std::string bind = "0.0.0.0";                ///< address of the cluster port
  uint16_t port = 0;                           ///< 0 picks a free one
  std::vector<cluster::member> peers;          ///< the other members
  uint32_t protocol_version = 0;               ///< 0: this build's (tests pretend others)
  std::function<void(const std::string&)> log; ///< membership events, one line each
  /// Publish and dial over TLS. The actor system must have caf::openssl::manager loaded, with
  /// the certificate, key and CA set in its configuration (tools/tidings_node.cpp does this).
  bool tls = false;
  /// Readiness (/readyz): how long a starting node waits for every peer to come up.
  std::chrono::milliseconds form_timeout{10'000};
};

/// The admin port (docs/OPERATIONS.md, "Inspecting a node"): off unless `enabled`.
struct admin_options_set {
  bool enabled = false;
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< 0 picks a free one
  std::string secret;
  std::chrono::milliseconds census_interval{60'000}; ///< 0: a census only on request
};

struct node_options {
  net::server_options server;
  storage::db_options db;
  storage::group_writer::options writer; ///< group commit of the inboxes' writes
  node_settings settings;
  media::options media; ///< `root` and `now` are set by the node (data dir, node clock)
  cluster_options cluster;
  std::string web_dir; ///< the web client's folder, served at `/`; empty: none
  admin_options_set admin;
  event_log* log = nullptr; ///< the node's log; must outlive the node (null: errors to stderr)
  std::size_t account_workers = 2;
  std::chrono::milliseconds shutdown_grace{5000};
};

class node {
public:
  node(caf::actor_system& sys, node_options opts);
  ~node();

  /// Starts serving; returns the bound port. A clustered node first opens its cluster port
  /// (`cluster_port()`) and starts connecting to its peers.
  uint16_t start();
  uint16_t cluster_port() const { return cluster_port_; }
  /// /readyz answers 503 from now on; the node still serves until stop().
  void start_draining();
  /// The admin port (after start(), when enabled).
  uint16_t admin_port() const { return admin_port_; }
  /// Closes every connection with 1001, stops the actors, flushes the store. Idempotent.
  void stop();

private:
  /// Logs and counts the store going read-only after a failed write, and recovering.
  void storage_health_changed(const storage::health& h);

  caf::actor_system& sys_;
  node_options opts_;
  std::unique_ptr<storage::db> store_;
  std::unique_ptr<storage::group_writer> writer_; ///< outlives every actor that submits to it
  node_metrics metrics_;
  std::unique_ptr<readiness> readiness_;
  node_context ctx_;
  caf::actor sweeper_;
  gate_service gate_;
  std::unique_ptr<cluster::view> members_;
  caf::actor membership_;
  uint16_t cluster_port_ = 0;
  caf::actor inspector_;
  admin_api admin_;
  uint16_t admin_port_ = 0;
  std::unique_ptr<media::blob_store> blobs_; ///< outlives the media actor and the server
  std::unique_ptr<media::blob_store> cache_; ///< cluster only: copies of blobs homed elsewhere
  std::unique_ptr<media_http> media_http_;   ///< outlives the server: its sinks live there
  std::unique_ptr<net::static_site> web_;    ///< the web client's files (if served)
  std::unique_ptr<gateway> gateway_;
  std::unique_ptr<net::server> server_;
  bool stopped_ = false;
};

} // namespace tidings
