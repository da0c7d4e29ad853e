#pragma once
// A cluster of real tidings-node processes on loopback for the cluster tests.
//
// Node i is "n<i+1>", with an HTTP port picked by the node (--port=0) and a cluster port
// reserved up front (every node must know its peers' ports before any starts). start()
// returns once every node reports all its peers up (its /metrics), bounded by a deadline.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "tests/integration/fixtures.hpp"

namespace tidings::test {

/// The whole content of a file ("" if it cannot be read).
std::string read_all(const std::filesystem::path& file);

/// Waits for a line containing `text` in the node's output (bounded).
bool output_shows(node_process& n, const std::string& text, std::chrono::seconds deadline = 20s);

/// A loopback TCP port that was free a moment ago (bound, read, closed).
uint16_t free_port();

/// Options for the node of id `id` alone (e.g. its certificate).
using per_node_args = std::function<std::vector<std::string>(const std::string& id)>;

class test_cluster {
public:
  /// `size` nodes, each started with test_args() plus the cluster options, `extra` and
  /// `per_node(id(i))`.
  explicit test_cluster(std::size_t size, std::vector<std::string> extra = {},
                        per_node_args per_node = {});

  /// Starts every node, then waits until each has all its peers up.
  void start();
  /// Waits (bounded) until node `i` reports `up` peers connected; throws on the deadline.
  void wait_peers_up(std::size_t i, std::size_t up, std::chrono::seconds deadline = 30s);

  std::size_t size() const { return nodes_.size(); }
  node_process& node(std::size_t i) { return *nodes_[i]; }
  const std::string& id(std::size_t i) const { return ids_[i]; }
  /// Index of the home node of `user`.
  std::size_t home(const std::string& user) const;
  /// Index of a node that is not `user`'s home (the next one after it).
  std::size_t elsewhere(const std::string& user) const { return (home(user) + 1) % size(); }
  /// The cluster options of node `i` (ids, ports, peers), e.g. to restart it differently;
  /// with `members` > 0 the peer list names only the first `members` nodes (a smaller cluster
  /// that the others join later).
  std::vector<std::string> cluster_args(std::size_t i, std::size_t members = 0) const;

private:
  std::vector<std::string> ids_;
  std::vector<uint16_t> ports_;
  std::vector<std::unique_ptr<node_process>> nodes_;
  cluster::placement ring_;
};

/// A throwaway certificate authority in a fresh temporary directory (removed with the object),
/// made with the `openssl` command line: a CA certificate and, on demand, node certificates it
/// signed (EC P-256, valid one day).
class test_ca {
public:
  /// Creates the CA; `name` is its common name. Throws if `openssl` fails.
  explicit test_ca(std::string name = "tidings-test-ca");
  ~test_ca();
  test_ca(const test_ca&) = delete;
  test_ca& operator=(const test_ca&) = delete;

  /// Issues (once) a certificate and key for `node` and returns --cluster.tls-certificate and
  /// --cluster.tls-key for them; with a `passphrase` the key file is encrypted with it (and
  /// --cluster.tls-passphrase is not added).
  std::vector<std::string> identity(const std::string& node, const std::string& passphrase = {});
  /// --cluster.tls-ca naming this CA's certificate.
  std::string trust() const;
  /// identity(node) plus trust(): a node of this CA's cluster.
  std::vector<std::string> tls_args(const std::string& node);

  const std::filesystem::path& dir() const { return dir_; }

private:
  std::filesystem::path dir_;
};

/// Runs the node binary with `args` (stdout and stderr together) until it exits, at most 30 s;
/// returns its exit status and output. For nodes that must refuse to start.
struct node_exit {
  int status = -1;
  std::string output;
};
node_exit run_node_to_exit(const std::vector<std::string>& args);

/// A fresh user name (unique_user(prefix)) whose home is node `home` of `c`.
std::string name_homed_on(const test_cluster& c, std::size_t home, const std::string& prefix);

/// A user homed on node `home` of `c` (registered and logged in through that node).
test_user user_homed_on(test_cluster& c, std::size_t home, const std::string& prefix);

} // namespace tidings::test
