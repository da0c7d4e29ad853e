// tidings-bots' XMPP driver against a real ejabberd (Debian package `ejabberd`, configured by
// bench/ejabberd/ejabberd.yml, started by bench/ejabberd/start-ejabberd on a loopback port of
// its own): bots register in band, log in with SASL PLAIN, chat with receipts, and a recipient
// that was offline gets its stored messages when it logs in.

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/bots/bots_runner.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// ejabberd's start on a loaded 2-core machine has taken up to 40 s (most of it loading code).
constexpr auto start_deadline = std::chrono::seconds(120);
constexpr auto stop_deadline = std::chrono::seconds(30);

/// A loopback port free a moment ago (ejabberd cannot report a port chosen by the kernel).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string read_text(const fs::path& p) {
  std::ifstream in{p};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// ejabberd as a child of the test, its files in a temporary folder; stopped (SIGTERM, then
/// SIGKILL after stop_deadline) by the destructor.
struct ejabberd_process {
  temp_dir dir;
  uint16_t port = free_port();
  pid_t pid = -1;

  ejabberd_process() {
    auto out = (dir.path / "output.txt").string();
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    pid = spawn_child({std::string{TIDINGS_EJABBERD_DIR} + "/start-ejabberd", std::to_string(port),
                       dir.path.string()},
                      fd, fd, "cannot run start-ejabberd\n");
    ::close(fd);
    // Ready once the WebSocket port accepts: ejabberd opens its listeners last.
    auto deadline = std::chrono::steady_clock::now() + start_deadline;
    while (!accepts(port)) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        FAIL("ejabberd exited while starting (is the Debian package installed? `make deps`):\n"
             << read_text(dir.path / "output.txt") << read_text(dir.path / "logs/ejabberd.log"));
      }
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                      "ejabberd did not listen within " << start_deadline.count() << " s:\n"
                                                        << read_text(dir.path / "output.txt"));
      ::poll(nullptr, 0, 100); // the port is polled: ejabberd offers nothing to wait on
    }
  }

  ~ejabberd_process() {
    if (pid <= 0)
      return;
    ::kill(pid, SIGTERM);
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pollfd p{pidfd, POLLIN, 0};
    if (pidfd < 0 || ::poll(&p, 1, static_cast<int>(stop_deadline.count() * 1000)) <= 0)
      ::kill(pid, SIGKILL);
    if (pidfd >= 0)
      ::close(pidfd);
    ::waitpid(pid, nullptr, 0);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const { return read_text(dir.path / "logs/ejabberd.log"); }
};

} // namespace

TEST_CASE("the XMPP driver chats through ejabberd with receipts and offline delivery") {
  ejabberd_process server;
  temp_dir dir;
  // Two chatters talk while online; two senders write to two recipients that are offline
  // until everyone falls silent, so what reaches them comes from ejabberd's offline storage.
  std::ofstream{dir.path / "xmpp.json"} << R"({
    "seed": 3, "user_prefix": "xs", "drain_timeout_s": 30,
    "groups": [
      {"name": "chatters", "bots": 2, "contacts": 1, "contacts_in": "chatters",
       "behaviour": {"think_ms": 100, "message_bytes": 100, "read_share": 0.5,
                     "read_delay_ms": 50}},
      {"name": "senders", "bots": 2, "contacts": 2, "contacts_in": "recipients",
       "behaviour": {"think_ms": 100, "message_bytes": 100}},
      {"name": "recipients", "bots": 2, "contacts": 0, "behaviour": {"think_ms": null}}
    ],
    "phases": [
      {"action": "connect", "group": "chatters"},
      {"action": "connect", "group": "senders"},
      {"name": "fill inboxes", "action": "hold", "duration_s": 1.5},
      {"action": "silence", "group": "all"},
      {"name": "recipients online", "action": "connect", "group": "recipients"},
      {"name": "drain inboxes", "action": "wait_drained", "timeout_s": 20}
    ]
  })";
  auto run =
      run_bots(dir.path, {"--protocol=xmpp", "--xmpp-domain=localhost", "--url=" + server.url(),
                          "--scenario=" + (dir.path / "xmpp.json").string()});
  INFO("tidings-bots output:\n" << run.output << "\nejabberd log:\n" << server.log());
  CHECK(run.status == 0);
  REQUIRE(run.report.is_object());
  const auto& r = run.report;
  CHECK(r["ok"] == true);
  CHECK(r["users"]["registered"] == 6);
  const auto& m = r["messages"];
  auto sent = m["sent"].get<uint64_t>();
  CHECK(sent >= 20); // about 4 bots × 10/s × 1.5 s
  CHECK(m["received"] == sent);
  CHECK(m["lost"] == 0);
  CHECK(m["duplicates"] == 0);
  CHECK(m["misdelivered"] == 0);
  CHECK(m["failed"] == 0);
  CHECK(m["stale"] == 0);
  CHECK(r["receipts"]["delivered"] == sent);
  CHECK(r["receipts"]["missing"] == 0);
  CHECK(r["receipts"]["misrouted"] == 0);
  CHECK(r["receipts"]["read"].get<uint64_t>() > 0);
  for (const char* h : {"send_to_sent", "send_to_receive", "send_to_delivered", "connect"})
    check_histogram(r["latency_ms"][h], h);
  // The recipients' messages were stored while they were offline and came at their login
  // (after every bot had fallen silent).
  uint64_t after_login = 0;
  bool logged_in = false;
  for (const auto& p : r["phases"]) {
    logged_in = logged_in || p["name"] == "recipients online";
    if (logged_in)
      after_login += p["received"].get<uint64_t>();
  }
  CHECK(logged_in);
  CHECK(after_login > 0);
  CHECK(r["connections"]["established"].get<uint64_t>() >= 6);
  CHECK(run.output.find("RESULT: PASS") != std::string::npos);
}
