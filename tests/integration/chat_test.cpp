// `tidings-cli chat` and `listen` in a pseudo-terminal against a real node: keys typed into the
// terminal reach a peer's WebSocket session, the peer's messages, receipts (with the text they
// are about) and presence appear on the screen, the user's other device shows up as their own
// lines, and a node restart (close 1001) is survived by both with nothing lost or doubled.

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <poll.h>
#include <pty.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

using clock_type = std::chrono::steady_clock;

/// tidings-cli running in a pseudo-terminal of 100 x 30: what it printed so far, keys to type.
class pty_cli {
public:
  explicit pty_cli(std::vector<std::string> args) {
    winsize size{};
    size.ws_col = 240; // wide enough for the status line with a connect error and "N unsent"
    size.ws_row = 30;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(TIDINGS_CLI_BINARY));
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(TIDINGS_CLI_BINARY, argv.data());
      ::_exit(127);
    }
  }

  ~pty_cli() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }

  pty_cli(const pty_cli&) = delete;
  pty_cli& operator=(const pty_cli&) = delete;

  /// Types `keys` as if at the keyboard.
  void type(const std::string& keys) {
    REQUIRE(::write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size()));
  }

  /// Reads the screen until `text` appears after what earlier waits matched; fails the test,
  /// showing the screen, at the deadline or when the program exits first.
  void expect(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      if (auto at = output_.find(text, mark_); at != std::string::npos) {
        mark_ = at + text.size();
        return;
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms || !read_some(left))
        FAIL("\"" << text << "\" did not appear; the screen after the last match:\n"
                  << output_.substr(mark_));
    }
  }

  /// True if `text` appeared anywhere after the last match so far (no waiting).
  bool shown(const std::string& text) const {
    return output_.find(text, mark_) != std::string::npos;
  }

  /// Waits (bounded) for the program to exit, reading its last output; returns its exit status.
  int wait_exit(std::chrono::milliseconds timeout = 15s) {
    auto deadline = clock_type::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms)
        FAIL("tidings-cli did not exit; its screen:\n" << output_);
      read_some(std::min<std::chrono::milliseconds>(left, 100ms)); // output, or the exit
    }
    pid_ = -1;
    while (read_some(0ms)) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  const std::string& output() const { return output_; }

private:
  // Reads what is there within `timeout`; false once the terminal is gone (the program exited).
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{master_, POLLIN, 0};
    auto ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready <= 0)
      return ready == 0 || errno == EINTR;
    char buf[4096];
    auto n = ::read(master_, buf, sizeof buf);
    if (n <= 0)
      return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int master_ = -1;
  std::string output_;
  std::size_t mark_ = 0;
};

/// A token file of `user` logged in as `device`, next to the node's data.
std::filesystem::path device_token_file(const node_process& node, const test_user& user,
                                        const std::string& device) {
  auto path = node.data_dir().parent_path() /
              ("chat-" + std::to_string(::getpid()) + "-" + user.name + "-" + device);
  std::ofstream{path} << client::login(node.ep(), user.name, user.password, device) << "\n";
  return path;
}

std::vector<std::string> cli_args(const node_process& node, const std::filesystem::path& token,
                                  std::vector<std::string> command) {
  std::vector<std::string> args{"--url=" + node.url(), "--token-file=" + token.string()};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

std::function<bool(const json&)> text_msg(std::string body) {
  return
      [body](const json& f) { return f.value("type", "") == "msg" && f.value("body", "") == body; };
}

/// Waits (bounded: each try is a round trip through the node) until GET /v1/devices lists the
/// device of `token` online: its inbox has attached the session and told it about the user's
/// other devices, so its sends are copied to them. (A send right after `welcome` can overtake
/// that message inside the node and then gets no `sent_copy`.)
void wait_attached(const client::endpoint& ep, const std::string& token) {
  for (int i = 0; i < 500; ++i) {
    auto res = client::http_call(ep, "GET", "/v1/devices", {}, "application/json", token);
    REQUIRE(res.status == 200);
    auto body = res.json_body();
    for (auto& d : body["devices"])
      if (d.value("current", false) && d.value("online", false))
        return;
  }
  FAIL("the device never showed online");
}

/// A running node with two users (`alice` chats, `bob` is the peer).
struct two_users {
  node_process node{test_args()};
  test_user alice;
  test_user bob;

  explicit two_users(bool same_port_on_restart) {
    node.start();
    if (same_port_on_restart) // clients come back to the same URL
      node.set_extra_args(test_args({"--port=" + std::to_string(node.ep().port)}));
    alice = make_user(node.ep(), "alice");
    bob = make_user(node.ep(), "bob");
  }
};

} // namespace

TEST_CASE("chat sends what is typed and shows messages, receipts naming their text, presence "
          "and the user's other device") {
  two_users t{false};
  auto& [node, alice, bob] = t;
  auto token = device_token_file(node, alice, "laptop");
  pty_cli chat{cli_args(node, token, {"chat", bob.name})};
  chat.expect("chat with " + bob.name + " on device 'laptop'");
  chat.expect("offline · connected");

  auto peer = open_session(node.ep(), bob.token);
  chat.expect("online · connected");

  chat.type("hello bob\r");
  chat.expect("you: hello bob");
  auto hello = wait_for(peer, text_msg("hello bob"), 10s);
  chat.expect("✓ sent \"hello bob\"");
  peer.send(json{{"type", "ack"}, {"upto", hello["seq"]}});
  chat.expect("✓✓ delivered \"hello bob\"");
  peer.send(json{{"type", "read"}, {"from", alice.name}, {"mids", json::array({hello["mid"]})}});
  chat.expect("✓✓ read \"hello bob\"");

  send_text(peer, alice.name, "c-hi");
  chat.expect(bob.name + ": c-hi"); // send_text sends its cid as the body
  wait_for(
      peer, [](const json& f) { return f.value("status", "") == "read"; }, 10s);

  // Editing: Backspace (DEL and ^H), Ctrl-U and an arrow key's escape sequence.
  chat.type("typo\x7f\x7f\x08\x08sec\x15third\x1b[Al line\r");
  auto edited = wait_for(peer, of_type("msg"), 10s);
  CHECK(edited["body"] == "thirdl line");

  // Alice's phone sends too: the chat shows it as hers, and its receipt by its text.
  auto phone_token = client::login(node.ep(), alice.name, alice.password, "phone");
  auto phone = open_session(node.ep(), phone_token);
  wait_attached(node.ep(), phone_token);
  send_text(phone, bob.name, "c-phone");
  chat.expect("you (phone): c-phone");
  auto copy = wait_for(peer, text_msg("c-phone"), 10s);
  peer.send(json{{"type", "ack"}, {"upto", copy["seq"]}});
  chat.expect("✓✓ delivered "); // with "thirdl line", acknowledged by the same ack
  chat.expect("\"c-phone\"");

  peer.close();
  chat.expect("last seen");
  chat.type("\x04");
  CHECK(chat.wait_exit() == 0);
  std::filesystem::remove(token);
}

TEST_CASE("chat comes back after a node restart and sends a line typed meanwhile once") {
  two_users t{true};
  auto& [node, alice, bob] = t;
  auto token = device_token_file(node, alice, "laptop");
  pty_cli chat{cli_args(node, token, {"chat", bob.name})};
  chat.expect("connected");
  chat.type("before\r");
  chat.expect("✓ sent \"before\"");

  REQUIRE(node.stop() == 0);
  chat.expect("disconnected (1001");
  chat.type("while you were away\r");
  chat.expect("you: while you were away");
  chat.expect("1 unsent");
  node.start();
  chat.expect("✓ sent \"while you were away\"", 20s);

  auto peer = open_session(node.ep(), bob.token);
  wait_for(peer, text_msg("before"), 10s);
  wait_for(peer, text_msg("while you were away"), 10s);
  chat.type("marker\r");
  // Exactly once: nothing (no second copy) between it and the next line.
  expect_nothing_before(peer, text_msg("marker"));
  chat.expect("✓ sent \"marker\"");
  chat.signal(SIGTERM);
  CHECK(chat.wait_exit() == 0);
  std::filesystem::remove(token);
}

TEST_CASE("listen reconnects when the node restarts (1001) and goes on printing") {
  two_users t{true};
  auto& [node, alice, bob] = t;
  auto token = device_token_file(node, bob, "laptop");
  pty_cli listen{cli_args(node, token, {"listen"})};
  listen.expect("listening");
  auto sender = open_session(node.ep(), alice.token);
  send_text(sender, bob.name, "c-one");
  listen.expect("c-one");
  sender.drop();

  node.restart();
  listen.expect("connection closed (1001, node shutting down); reconnecting");
  listen.expect("reconnected, listening", 20s);
  sender = open_session(node.ep(), alice.token);
  send_text(sender, bob.name, "c-two");
  listen.expect("c-two");
  CHECK(listen.output().find("c-one", listen.output().find("reconnected")) ==
        std::string::npos); // not shown again
  listen.signal(SIGINT);
  CHECK(listen.wait_exit() == 0);
  std::filesystem::remove(token);
}
