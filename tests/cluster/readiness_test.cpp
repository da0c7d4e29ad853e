// /readyz of cluster members: not ready until the membership has formed (or the form timeout).

#include <doctest/doctest.h>

#include <thread>

#include "tests/cluster/cluster_fixture.hpp"

using namespace tidings::test;
namespace client = tidings::client;

namespace {

/// GET /readyz until its status is `status` (at most `deadline`); returns the last response.
client::http_response readyz_until(node_process& node, unsigned status,
                                   std::chrono::milliseconds deadline = 20s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto res = client::http_call(node.ep(), "GET", "/readyz");
    if (res.status == status || std::chrono::steady_clock::now() > until)
      return res;
    std::this_thread::sleep_for(50ms); // polling an HTTP endpoint: nothing to wait on
  }
}

} // namespace

TEST_CASE("a cluster member is not ready until its peers have come up") {
  test_cluster cluster{2, {"--cluster.form-timeout-ms=60000"}};
  cluster.node(0).start();
  auto alone = client::http_call(cluster.node(0).ep(), "GET", "/readyz");
  INFO(alone.body);
  CHECK(alone.status == 503);
  CHECK(alone.json_body()["reasons"][0] ==
        "cluster forming: waiting for n2 (at most 60 s after the start)");
  CHECK(client::http_call(cluster.node(0).ep(), "GET", "/healthz").status == 200);
  cluster.node(1).start();
  CHECK(readyz_until(cluster.node(0), 200).status == 200);
  CHECK(readyz_until(cluster.node(1), 200).status == 200);
  // Formed once, a peer that goes away does not make the others unready.
  CHECK(cluster.node(1).stop() == 0);
  cluster.wait_peers_up(0, 0);
  CHECK(client::http_call(cluster.node(0).ep(), "GET", "/readyz").status == 200);
}

TEST_CASE("a cluster member whose peers never come is ready after the form timeout") {
  test_cluster cluster{2, {"--cluster.form-timeout-ms=500"}};
  cluster.node(0).start();
  auto res = readyz_until(cluster.node(0), 200, 10s);
  INFO(res.body);
  CHECK(res.status == 200);
}
