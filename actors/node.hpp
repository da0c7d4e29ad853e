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
#include "media/blob_store.hpp"
#include "media/options.hpp"
#include "net/server.hpp"
#include "storage/db.hpp"
#include "storage/group_writer.hpp"

namespace tidings {

class gateway;

struct node_options {
  net::server_options server;
  storage::db_options db;
  storage::group_writer::options writer; ///< group commit of the inboxes' writes
  node_settings settings;
  media::options media; ///< `root` and `now` are set by the node (data dir, node clock)
  std::size_t account_workers = 2;
  std::chrono::milliseconds shutdown_grace{5000};
};

class node {
public:
  node(caf::actor_system& sys, node_options opts);
  ~node();

  /// Starts serving; returns the bound port.
  uint16_t start();
  /// Closes every connection with 1001, stops the actors, flushes the store. Idempotent.
  void stop();

private:
  caf::actor_system& sys_;
  node_options opts_;
  std::unique_ptr<storage::db> store_;
  std::unique_ptr<storage::group_writer> writer_; ///< outlives every actor that submits to it
  node_metrics metrics_;
  node_context ctx_;
  std::vector<accounts_service> accounts_;
  caf::actor sweeper_;
  std::unique_ptr<media::blob_store> blobs_; ///< outlives the media actor and the server
  std::unique_ptr<media_http> media_http_;   ///< outlives the server: its sinks live there
  std::unique_ptr<gateway> gateway_;
  std::unique_ptr<net::server> server_;
  bool stopped_ = false;
};

} // namespace tidings
