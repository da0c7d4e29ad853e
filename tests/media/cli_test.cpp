// tidings-cli's media commands against a real node, and media messages between users.

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "client/http.hpp"
#include "tests/media/media_fixtures.hpp"

using namespace tidings;
using namespace tidings::test;

namespace {

struct cli_result {
  int status = -1;
  std::string output; ///< stdout and stderr
};

/// Runs tidings-cli with `args` (no shell quoting needed: test paths and names are plain).
cli_result run_cli(const std::vector<std::string>& args) {
  std::string cmd = TIDINGS_CLI_BINARY;
  for (auto& arg : args)
    cmd += " '" + arg + "'";
  cmd += " 2>&1 </dev/null";
  cli_result result;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    result.output.append(buf.data(), n);
  auto status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string write_token(const scratch_dir& dir, const test_user& user) {
  auto path = (dir.path / (user.name + ".token")).string();
  std::ofstream{path} << user.token << "\n";
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

} // namespace

TEST_CASE("the cli fetches media and resumes a partial download") {
  media_node m;
  auto [node, ep, alice, dir] = std::tie(m.node, m.ep, m.alice, m.dir);
  auto file = dir.random_file("clip.mp4", 2 * 1024 * 1024 + 5, 30);
  auto hash =
      client::upload_media(node.ep(), alice.token, file, "video/mp4")["hash"].get<std::string>();
  auto token = "--token-file=" + write_token(dir, alice);
  auto url = "--url=" + node.url();

  auto out = (dir.path / "whole.mp4").string();
  auto r = run_cli({url, token, "fetch", hash, out});
  CHECK(r.status == 0);
  CHECK(slurp(out) == slurp(file));

  // A partial file (the first 1000 bytes) is completed with a range request.
  auto partial = (dir.path / "partial.mp4").string();
  std::ofstream{partial, std::ios::binary} << slurp(file).substr(0, 1000);
  r = run_cli({url, token, "fetch", hash, partial});
  CHECK(r.status == 0);
  CHECK(r.output.find("resumed at byte 1000") != std::string::npos);
  CHECK(slurp(partial) == slurp(file));
  // Fetching a complete file again changes nothing.
  r = run_cli({url, token, "fetch", hash, partial});
  CHECK(r.status == 0);
  CHECK(slurp(partial) == slurp(file));
  // An unknown hash fails with the server's answer.
  r = run_cli({url, token, "fetch", std::string(64, 'e'), (dir.path / "none").string()});
  CHECK(r.status == 1);
  CHECK(r.output.find("not_found") != std::string::npos);
}

// The session checks media::may_read before a media send; the inbox grants the recipient.
TEST_CASE("a user cannot send a hash they may not read and a recipient may download a sent one") {
  node_process node{media_args()};
  node.start();
  auto ep = node.ep();
  auto alice = make_user(ep, "alice");
  auto bob = make_user(ep, "bob");
  auto mallory = make_user(ep, "mallory");
  scratch_dir dir;
  auto file = dir.random_file("holiday.jpg", 200'000, 31);
  auto hash = client::upload_media(ep, alice.token, file, "image/jpeg")["hash"].get<std::string>();
  json media{{"hash", hash}, {"mime", "image/jpeg"}, {"size", 200'000}};

  // mallory knows the hash but may not read it: forbidden, and nothing reaches bob.
  auto m = open_session(ep, mallory.token);
  auto refused = m.request(
      {{"type", "send"}, {"cid", "m-1"}, {"to", bob.name}, {"kind", "image"}, {"media", media}});
  CHECK(refused["type"] == "error");
  CHECK(refused["code"] == "forbidden");
  CHECK(client::http_call(ep, "GET", "/v1/media/" + hash, {}, {}, bob.token).status == 403);

  // alice uploaded it: sent, and bob (the recipient) may then download it.
  auto a = open_session(ep, alice.token);
  auto sent = a.request(
      {{"type", "send"}, {"cid", "a-1"}, {"to", bob.name}, {"kind", "image"}, {"media", media}});
  CHECK(sent["type"] == "sent");
  auto b = open_session(ep, bob.token);
  auto msg = wait_for(b, of_type("msg"), 10s);
  CHECK(msg["media"]["hash"] == hash);
  CHECK(msg["from"] == alice.name);
  unsigned status = 0;
  CHECK(download_all(ep, hash, bob.token, 0, &status) == slurp(file));
  CHECK(status == 200);
  // bob may forward it in turn; mallory still may not read it.
  auto forwarded = b.request({{"type", "send"},
                              {"cid", "b-1"},
                              {"to", mallory.name},
                              {"kind", "image"},
                              {"media", media}});
  CHECK(forwarded["type"] == "sent");
  CHECK(client::http_call(ep, "GET", "/v1/media/" + hash, {}, {}, mallory.token).status == 200);

  // The CLI does the same in one step: upload, then send.
  auto token = "--token-file=" + write_token(dir, alice);
  auto r = run_cli({"--url=" + node.url(), token, "send-file", bob.name, file});
  CHECK(r.status == 0);
  CHECK(r.output.find("✓ sent") != std::string::npos);
}
