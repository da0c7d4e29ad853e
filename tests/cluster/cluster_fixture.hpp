#pragma once
// A cluster of real tidings-node processes on loopback for the cluster tests.
//
// Node i is "n<i+1>", with an HTTP port picked by the node (--port=0) and a cluster port
// reserved up front (every node must know its peers' ports before any starts). start()
// returns once every node reports all its peers up (its /metrics), bounded by a deadline.

#include <memory>
#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "tests/integration/fixtures.hpp"

namespace tidings::test {

/// A loopback TCP port that was free a moment ago (bound, read, closed).
uint16_t free_port();

class test_cluster {
public:
  /// `size` nodes, each started with test_args() plus the cluster options and `extra`.
  explicit test_cluster(std::size_t size, std::vector<std::string> extra = {});

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
  /// The cluster options of node `i` (ids, ports, peers), e.g. to restart it differently.
  std::vector<std::string> cluster_args(std::size_t i) const;

private:
  std::vector<std::string> ids_;
  std::vector<uint16_t> ports_;
  std::vector<std::unique_ptr<node_process>> nodes_;
  cluster::placement ring_;
};

} // namespace tidings::test
