// TLS for clients (issue 13, item 7): the node serves https:// and wss:// itself with the
// certificate and key of its configuration; the client library, tidings-cli and the bots
// connect with a CA file. Certificates are made by the test with the `openssl` command.

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <sys/wait.h>

#include "client/http.hpp"
#include "tests/hardening/hardening.hpp"
#include "tests/integration/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

using namespace tidings;
using namespace tidings::test;
using client::http_call;

namespace {

/// Runs `openssl ARGS` in `dir`; fails the test with its output if it fails.
void openssl(const std::filesystem::path& dir, const std::string& args) {
  auto cmd = "cd '" + dir.string() + "' && openssl " + args + " >openssl.log 2>&1";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

/// A CA and a server certificate it signed for 127.0.0.1 and localhost (EC P-256, one day).
struct test_pki {
  temp_dir dir;
  explicit test_pki(const std::string& ca_name = "tidings-test-ca") {
    openssl(dir.path, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc "
                      "-keyout ca.key -out ca.pem -days 1 -subj /CN=" +
                          ca_name);
    openssl(dir.path, "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc "
                      "-keyout node.key -out node.csr -subj /CN=localhost");
    std::FILE* ext = std::fopen((dir.path / "san.cnf").c_str(), "w");
    REQUIRE(ext != nullptr);
    std::fputs("subjectAltName=IP:127.0.0.1,DNS:localhost\n", ext);
    std::fclose(ext);
    openssl(dir.path, "x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
                      "-extfile san.cnf -out node.pem");
  }
  std::string ca() const { return (dir.path / "ca.pem").string(); }
  std::vector<std::string> node_args() const {
    return test_args({"--net.tls-certificate=" + (dir.path / "node.pem").string(),
                      "--net.tls-key=" + (dir.path / "node.key").string()});
  }
};

client::endpoint tls_endpoint(const node_process& node, const std::string& ca) {
  auto ep = node.ep();
  ep.tls = true;
  ep.ca_file = ca;
  return ep;
}

int run(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

TEST_CASE("the node serves https and wss with the configured certificate") {
  test_pki pki;
  node_process node{pki.node_args()};
  node.start();
  auto ep = tls_endpoint(node, pki.ca());
  CHECK(http_call(ep, "GET", "/healthz").status == 200);
  auto alice = make_user(ep, "tls_a");
  auto bob = make_user(ep, "tls_b");
  auto a = open_session(ep, alice.token, net::encoding::msgpack);
  auto b = open_session(ep, bob.token);
  auto mids = send_texts(a, bob.name, "tls", 20);
  auto items = receive_items(b, "msg", 20);
  for (std::size_t i = 0; i < items.size(); ++i)
    CHECK(items[i]["mid"] == mids[i]);
  b.send(json{{"type", "ack"}, {"upto", items.back()["seq"]}});
  CHECK(wait_for(a, of_type("receipt"), 10s)["status"] == "delivered");
  // Media over https: a body larger than one chunk, streamed both ways.
  std::string blob(300 * 1024, 'x');
  auto up = http_call(ep, "POST", "/v1/media", blob, "application/octet-stream", alice.token);
  REQUIRE(up.status == 201);
  auto down = http_call(ep, "GET", "/v1/media/" + up.json_body()["hash"].get<std::string>(), {}, "",
                        alice.token);
  CHECK(down.status == 200);
  CHECK(down.body == blob);
  // Revocation and close codes work the same over TLS.
  CHECK(http_call(ep, "DELETE", "/v1/sessions", {}, "", bob.token).status == 204);
  CHECK(wait_for(b, of_type("error"), 10s)["code"] == "unauthorized");
  CHECK_FALSE(b.receive(10s));
  CHECK(b.close_code() == 4001);
}

TEST_CASE("a TLS node refuses plaintext and clients refuse a certificate their CA did not sign") {
  test_pki pki;
  test_pki stranger{"some-other-ca"};
  node_process node{pki.node_args()};
  node.start();
  // Plaintext against the TLS port: no HTTP answer comes back.
  auto plain = node.ep();
  bool answered = false;
  try {
    answered = http_call(plain, "GET", "/healthz", {}, "application/json", {}, 3s).status != 0;
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(answered);
  // A client trusting another CA does not talk to it.
  auto wrong = tls_endpoint(node, stranger.ca());
  CHECK_THROWS_AS(http_call(wrong, "GET", "/healthz"), std::runtime_error);
  client::ws_client ws{wrong};
  CHECK_THROWS_AS(ws.connect(), std::runtime_error);
  // The node keeps serving good clients after those failures.
  CHECK(http_call(tls_endpoint(node, pki.ca()), "GET", "/healthz").status == 200);
}

TEST_CASE("tidings-cli talks to a TLS node with https:// and --ca-file") {
  test_pki pki;
  node_process node{pki.node_args()};
  node.start();
  auto url = "https://127.0.0.1:" + std::to_string(node.ep().port);
  auto tokens = pki.dir.path;
  auto alice = unique_user("cli_tls_a");
  auto bob = unique_user("cli_tls_b");
  auto cli = [&](const std::string& who, const std::string& args, std::string& out) {
    return run(std::string{TIDINGS_CLI_BINARY} + " --url=" + url + " --ca-file=" + pki.ca() +
                   " --token-file=" + (tokens / who).string() + " " + args,
               out);
  };
  std::string out;
  CHECK(cli("a", "register " + alice + " password-1", out) == 0);
  CHECK(cli("b", "register " + bob + " password-2", out) == 0);
  CHECK(cli("a", "login " + alice + " password-1", out) == 0);
  CHECK(cli("b", "login " + bob + " password-2", out) == 0);
  CHECK(cli("a", "send " + bob + " hello over tls", out) == 0);
  CHECK(cli("b", "listen --count=1", out) == 0);
  CHECK(out.find("hello over tls") != std::string::npos);
  // Without the CA file the system's CAs do not know this one: a clear failure, exit 1.
  CHECK(run(std::string{TIDINGS_CLI_BINARY} + " --url=" + url +
                " --token-file=" + (tokens / "a").string() + " send " + bob + " nope",
            out) != 0);
  CHECK(out.find("certificate") != std::string::npos);
}
