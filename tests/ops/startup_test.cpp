// A node that cannot start says which resource is in the way and exits non-zero, at once.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/fixtures.hpp"
#include "tests/ops/ops_support.hpp"

using namespace tidings::test;

namespace {

/// A loopback port held open (listening) for the object's lifetime.
struct held_port {
  int fd = -1;
  uint16_t port = 0;
  held_port() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~held_port() { ::close(fd); }
};

} // namespace

TEST_CASE("a port in use stops the node, naming the address and port") {
  held_port busy;
  temp_dir dir;
  auto r = run_node({"--bind=127.0.0.1", "--port=" + std::to_string(busy.port),
                     "--data-dir=" + (dir.path / "data").string()});
  INFO(r.all());
  CHECK(r.status == 1);
  CHECK(r.err.find("tidings-node: cannot listen on 127.0.0.1:" + std::to_string(busy.port) +
                   " (--bind, --port): Address already in use") != std::string::npos);
}

TEST_CASE("a cluster port in use stops the node, naming it") {
  held_port busy;
  temp_dir dir;
  auto r = run_node({"--bind=127.0.0.1", "--port=0", "--data-dir=" + (dir.path / "data").string(),
                     "--cluster.node-id=n1", "--cluster.bind=127.0.0.1",
                     "--cluster.port=" + std::to_string(busy.port)});
  INFO(r.all());
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot open the cluster port 127.0.0.1:" + std::to_string(busy.port)) !=
        std::string::npos);
}

TEST_CASE("a data directory in use by another node stops the second one, naming it") {
  node_process first{test_args()};
  first.start();
  auto r = run_node({"--bind=127.0.0.1", "--port=0", "--data-dir=" + first.data_dir().string()});
  INFO(r.all());
  CHECK(r.status == 1);
  CHECK(r.err.find("the data directory " + first.data_dir().string() +
                   " is in use by another process") != std::string::npos);
  CHECK(first.stop() == 0);
}

TEST_CASE("a data directory that cannot be created stops the node, naming it") {
  temp_dir dir;
  auto file = write_file(dir, "a-file", "not a directory");
  auto r = run_node({"--bind=127.0.0.1", "--port=0", "--data-dir=" + file + "/data"});
  INFO(r.all());
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot open the database in " + file + "/data") != std::string::npos);
}

TEST_CASE("a media folder that cannot be created stops the node at once, naming it") {
  temp_dir dir;
  std::filesystem::create_directories(dir.path / "data");
  write_file(dir, "data/media", "a file where the media folder belongs");
  auto r = run_node({"--bind=127.0.0.1", "--port=0", "--data-dir=" + (dir.path / "data").string()});
  INFO(r.all());
  CHECK(r.status == 1); // not a hang: nothing was running yet
  CHECK(r.err.find("cannot create " + (dir.path / "data/media").string()) != std::string::npos);
}
