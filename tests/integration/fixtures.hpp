#pragma once
// Shared set-up of the integration tests: a real node with test-friendly limits.

#include <functional>
#include <string>
#include <vector>

#include "tests/support/node_process.hpp"
#include "tests/support/sessions.hpp"

namespace tidings::test {

/// Node arguments for tests: no rate limit in the way, cheap password hashing.
inline std::vector<std::string> test_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--limits.rate=1000000", "--limits.burst=1000000",
                                "--auth.argon2-ops=1", "--auth.argon2-mem-kib=8192"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// Sends `count` text messages from `ws` to `to`, with cids `prefix-N`, keeping at most
/// `pipeline` unanswered; returns the mids in order. Fails the test on any error reply. Other
/// frames received meanwhile are appended to `skipped` if given (dropped otherwise).
std::vector<std::string> send_texts(client::ws_client& ws, const std::string& to,
                                    const std::string& prefix, int count, int pipeline = 100,
                                    std::vector<json>* skipped = nullptr);

/// Receives `count` items of type `type` in seq order, acknowledging nothing.
std::vector<json> receive_items(client::ws_client& ws, const std::string& type, int count,
                                std::chrono::milliseconds timeout = 30s);

/// Sends one text from `ws` to `to` as a request and returns its mid. Unlike send_texts it
/// drops nothing: frames that arrive meanwhile stay queued for the checks that follow.
std::string send_text(client::ws_client& ws, const std::string& to, const std::string& cid);

/// Pings and checks the pong: every frame the session actor sent before it has then been
/// received. Not a proof that nothing else comes: pushes from inbox and lastseen actors travel
/// on their own paths and may arrive after the pong (see expect_nothing_before).
void settle(client::ws_client& ws);

/// A predicate for wait_for(): an inbox item of `type` naming `mid` (a msg's own mid, or one of
/// a receipt's mids).
std::function<bool(const json&)> item_naming(std::string type, std::string mid);

/// Receives until `fact` matches and returns that frame; throws, naming them, if any other
/// frame came first. `fact` must be a frame the server can only send after the one the test
/// fears: a later item of the same inbox (items arrive in seq order), or a reply from the
/// actor that would have pushed it, after the action.
json expect_nothing_before(client::ws_client& ws, const std::function<bool(const json&)>& fact,
                           std::chrono::milliseconds timeout = 10s);

/// The value of the metric `name` on GET /metrics (with its labels as written, e.g.
/// `x_total{code="1000"}`); throws if it is missing.
double metric(const client::endpoint& ep, const std::string& name);

/// `arg` quoted for sh.
std::string quoted(const std::string& arg);

/// Runs `cmd` with sh until it exits and puts its stdout in `out`; returns its exit status (-1
/// if a signal ended it).
int run_shell(const std::string& cmd, std::string& out);

/// The admin port a node printed ("admin on HOST:PORT") as HOST:PORT; throws if none.
std::string admin_address(const node_process& n);

/// What a run of tidings-inspect did.
struct inspect_run {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs tidings-inspect with `args` until it exits (killed after 30 s).
inspect_run run_inspect(const std::vector<std::string>& args);

/// tidings-inspect --node=`node` --secret=`secret` ARGS --json; fails the test unless it exits
/// 0 with a JSON document, which it returns.
json inspect_json(const std::string& node, const std::string& secret,
                  const std::vector<std::string>& args);

/// The error frame a session gets before the server closes it, and the close code (waits
/// at most 10 s for each).
std::pair<json, uint16_t> closed_by_server(client::ws_client& ws);

/// The status of POST /v1/sessions for `name` with `password` (200 when it logs in).
unsigned login_status(const client::endpoint& ep, const std::string& name,
                      const std::string& password);

} // namespace tidings::test
