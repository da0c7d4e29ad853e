// tidings-cli against a real node: what a person trying the server would type.

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/fixtures.hpp"

using namespace tidings::test;

namespace {

/// Starts the CLI with `args`, its stdout+stderr readable from the returned pipe.
FILE* start_cli(const std::string& url, const std::filesystem::path& token_file,
                const std::string& args) {
  std::string cmd = std::string{TIDINGS_CLI_BINARY} + " --url=" + url +
                    " --token-file=" + token_file.string() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  return p;
}

/// Reads a started CLI's output to the end; returns its exit status.
int finish_cli(FILE* p, std::string& out) {
  char buf[4096];
  out.clear();
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Runs the CLI with `args`; returns its exit status and puts stdout+stderr in `out`.
int cli(const std::string& url, const std::filesystem::path& token_file, const std::string& args,
        std::string& out) {
  return finish_cli(start_cli(url, token_file, args), out);
}

} // namespace

TEST_CASE("tidings-cli registers and logs in and sends and listens with ticks") {
  node_process node{test_args()};
  node.start();
  auto dir = node.data_dir().parent_path() /
             ("cli-" + std::to_string(::getpid()) + "-" + unique_user("d"));
  std::filesystem::create_directories(dir);
  auto alice_token = dir / "alice";
  auto bob_token = dir / "bob";
  auto alice = unique_user("alice");
  auto bob = unique_user("bob");
  std::string out;
  CHECK(cli(node.url(), alice_token, "register " + alice + " password-1", out) == 0);
  CHECK(cli(node.url(), bob_token, "register " + bob + " password-2", out) == 0);
  CHECK(cli(node.url(), bob_token, "register " + bob + " password-2", out) == 1);
  CHECK(out.find("user_exists") != std::string::npos);
  CHECK(cli(node.url(), alice_token, "login " + alice + " wrong-password", out) == 1);
  CHECK(cli(node.url(), alice_token, "login " + alice + " password-1", out) == 0);
  CHECK(cli(node.url(), bob_token, "login " + bob + " password-2", out) == 0);
  CHECK(cli(node.url(), alice_token, "send " + bob + " hello from the cli", out) == 0);
  CHECK(out.find("✓ sent") != std::string::npos);
  CHECK(cli(node.url(), bob_token, "listen --count=1 --read", out) == 0);
  CHECK(out.find("hello from the cli") != std::string::npos);
  CHECK(out.find(alice) != std::string::npos);
  // Ticks: alice waits for the receipts while bob reads.
  auto* sender = start_cli(node.url(), alice_token, "send --wait=30 " + bob + " tick me");
  CHECK(cli(node.url(), bob_token, "listen --count=1 --read", out) == 0);
  CHECK(out.find("tick me") != std::string::npos);
  std::string ticks;
  CHECK(finish_cli(sender, ticks) == 0);
  CHECK(ticks.find("✓ sent") != std::string::npos);
  CHECK(ticks.find("✓✓ delivered") != std::string::npos);
  CHECK(ticks.find("read") != std::string::npos);
  CHECK(cli(node.url(), alice_token, "send --help", out) == 0);
  CHECK(cli(node.url(), alice_token, "no-such-command", out) == 2);
  CHECK(cli(node.url(), alice_token, "logout", out) == 0);
  CHECK(cli(node.url(), alice_token, "send " + bob + " after logout", out) != 0);
  std::filesystem::remove_all(dir);
}
