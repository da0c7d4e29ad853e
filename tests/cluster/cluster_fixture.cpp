#include "tests/cluster/cluster_fixture.hpp"
#include "tests/support/child_process.hpp"

#include "client/http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
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

/// Runs `openssl ARGS` in `dir`; throws with its output if it fails.
void run_openssl(const std::filesystem::path& dir, const std::string& what,
                 const std::string& args) {
  auto cmd = "cd " + quoted(dir.string()) + " && openssl " + args + " >openssl.log 2>&1";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("openssl cannot " + what + ": " + read_all(dir / "openssl.log"));
}

} // namespace

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

bool output_shows(node_process& n, const std::string& text, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& line : n.recent_output())
      if (line.find(text) != std::string::npos)
        return true;
    std::this_thread::sleep_for(50ms); // polling the node's own log, bounded
  }
  return false;
}

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

test_cluster::test_cluster(std::size_t size, std::vector<std::string> extra, per_node_args per_node)
    : ids_(ids_for(size)), ring_(ids_) {
  for (std::size_t i = 0; i < size; ++i)
    ports_.push_back(free_port());
  for (std::size_t i = 0; i < size; ++i) {
    auto args = test_args(cluster_args(i));
    args.insert(args.end(), extra.begin(), extra.end());
    if (per_node) {
      auto own = per_node(ids_[i]);
      args.insert(args.end(), own.begin(), own.end());
    }
    nodes_.push_back(std::make_unique<node_process>(args));
  }
}

std::vector<std::string> test_cluster::cluster_args(std::size_t i, std::size_t members) const {
  std::string peers;
  for (std::size_t j = 0; j < (members > 0 ? members : ids_.size()); ++j)
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

std::string name_homed_on(const test_cluster& c, std::size_t home, const std::string& prefix) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto name = unique_user(prefix);
    if (c.home(name) == home)
      return name;
  }
  throw std::runtime_error("no name homed on node " + std::to_string(home));
}

test_user user_homed_on(test_cluster& c, std::size_t home, const std::string& prefix) {
  test_user user{name_homed_on(c, home, prefix), "correct-horse-battery", {}};
  client::register_user(c.node(home).ep(), user.name, user.password);
  user.token = client::login(c.node(home).ep(), user.name, user.password);
  return user;
}

test_ca::test_ca(std::string name) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tidings-ca-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  try {
    run_openssl(dir_, "make a CA",
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout ca.key "
                "-out ca.pem -days 1 -subj " +
                    quoted("/CN=" + name));
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

test_ca::~test_ca() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<std::string> test_ca::identity(const std::string& node, const std::string& passphrase) {
  auto cert = dir_ / (node + ".pem");
  auto key = dir_ / (node + ".key");
  if (!std::filesystem::exists(cert)) {
    run_openssl(dir_, "make a key for " + node,
                "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout " +
                    quoted(key.string()) + " -out " + quoted(node + ".csr") + " -subj " +
                    quoted("/CN=" + node));
    run_openssl(dir_, "sign the certificate of " + node,
                "x509 -req -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -in " +
                    quoted(node + ".csr") + " -out " + quoted(cert.string()));
  }
  if (!passphrase.empty()) {
    key = dir_ / (node + ".enc.key");
    run_openssl(dir_, "encrypt the key of " + node,
                "pkey -aes256 -in " + quoted(node + ".key") + " -out " + quoted(key.string()) +
                    " -passout " + quoted("pass:" + passphrase));
  }
  return {"--cluster.tls-certificate=" + cert.string(), "--cluster.tls-key=" + key.string()};
}

std::string test_ca::trust() const {
  return "--cluster.tls-ca=" + (dir_ / "ca.pem").string();
}

std::vector<std::string> test_ca::tls_args(const std::string& node) {
  auto args = identity(node);
  args.push_back(trust());
  return args;
}

node_exit run_node_to_exit(const std::vector<std::string>& args) {
  std::vector<std::string> argv{TIDINGS_NODE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto done = run_to_exit(std::move(argv), 30s);
  return {done.status, done.all()};
}

} // namespace tidings::test
