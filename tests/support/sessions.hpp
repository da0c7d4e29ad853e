#pragma once
// Test users and their WebSocket sessions against a running node.
//
// unique_user() makes protocol-valid names that never collide within one test process (and,
// through the pid, rarely across processes sharing a node). make_user() and open_session() are
// the usual three steps of a test (register, login, connect + auth) with failures thrown as
// exceptions carrying the server's answer. wait_for() is the deadline-bounded way to wait for a
// frame: it never sleeps, and it keeps what it skipped if the caller wants to look at it.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http.hpp"
#include "client/ws_client.hpp"

namespace tidings::test {

using json = client::json;
using namespace std::chrono_literals;

/// A user name matching [a-z0-9_.-]{3,32}, unique per process run: the sanitized `prefix`
/// (lowercased, other characters replaced by '_', shortened to fit) plus the pid and a counter.
std::string unique_user(std::string_view prefix);

/// A registered user with a live token.
struct test_user {
  std::string name;
  std::string password;
  std::string token;
};

/// Registers unique_user(prefix) with a fixed valid password and logs in. Throws
/// client::api_error if the server refuses either step.
test_user make_user(const client::endpoint& ep, std::string_view prefix);

/// Connects to GET /v1/ws, authenticates with `token` and checks that the reply is `welcome`
/// (throws std::runtime_error with the reply otherwise). Pushed inbox items stay queued.
client::ws_client open_session(const client::endpoint& ep, const std::string& token,
                               net::encoding enc = net::encoding::json, bool foreground = true,
                               std::chrono::milliseconds timeout = 10s);

/// Receives frames until one satisfies `pred` and returns it. Frames that do not are appended
/// to `skipped` if given (dropped otherwise). Throws std::runtime_error, naming the last skipped
/// frames, when `timeout` passes or the connection closes first.
json wait_for(client::ws_client& ws, const std::function<bool(const json&)>& pred,
              std::chrono::milliseconds timeout, std::vector<json>* skipped = nullptr);

/// A predicate for wait_for(): the frame's "type" equals `type`.
std::function<bool(const json&)> of_type(std::string type);

} // namespace tidings::test
