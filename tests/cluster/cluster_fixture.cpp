#include "tests/cluster/cluster_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace tidings::test {

namespace {

std::vector<std::string> ids_for(std::size_t size) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < size; ++i)
    out.push_back("n" + std::to_string(i + 1));
  return out;
}

} // namespace

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot reserve a port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

test_cluster::test_cluster(std::size_t size, std::vector<std::string> extra)
    : ids_(ids_for(size)), ring_(ids_) {
  for (std::size_t i = 0; i < size; ++i)
    ports_.push_back(free_port());
  for (std::size_t i = 0; i < size; ++i) {
    auto args = test_args(cluster_args(i));
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(std::make_unique<node_process>(args));
  }
}

std::vector<std::string> test_cluster::cluster_args(std::size_t i) const {
  std::string peers;
  for (std::size_t j = 0; j < ids_.size(); ++j)
    peers += (peers.empty() ? "" : ",") + ids_[j] + "@127.0.0.1:" + std::to_string(ports_[j]);
  return {"--cluster.node-id=" + ids_[i], "--cluster.bind=127.0.0.1",
          "--cluster.port=" + std::to_string(ports_[i]), "--cluster.peers=" + peers};
}

void test_cluster::start() {
  for (auto& n : nodes_)
    n->start();
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    wait_peers_up(i, nodes_.size() - 1);
}

void test_cluster::wait_peers_up(std::size_t i, std::size_t up, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto now_up = metric(nodes_[i]->ep(), "tidings_cluster_peers_up");
    if (now_up == static_cast<double>(up))
      return;
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error("node " + ids_[i] + " has " + std::to_string(now_up) +
                               " peers up, not " + std::to_string(up) + ":\n" +
                               nodes_[i]->recent_output_text());
    // Polling a fact (the node's own count), bounded by the deadline above.
    std::this_thread::sleep_for(50ms);
  }
}

std::size_t test_cluster::home(const std::string& user) const {
  const auto& id = ring_.home(user);
  for (std::size_t i = 0; i < ids_.size(); ++i)
    if (ids_[i] == id)
      return i;
  throw std::logic_error("home outside the cluster");
}

} // namespace tidings::test
