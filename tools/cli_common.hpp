#pragma once
// What the commands of tidings-cli share: the parsed options, the failure types main() turns
// into exit statuses, text made safe for a terminal, the stored token, and WebSocket sessions
// that come back after a node restart (a `session_link`).
//
// Everything here runs on the CLI's one thread. The only global is `interrupted`, set by the
// SIGINT/SIGTERM handler main() installs; long waits look at it at least every few hundred ms.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/http.hpp"
#include "client/ws_client.hpp"

namespace tidings::cli {

using namespace std::chrono_literals;
using client::json;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

/// How long a session may stay silent before the CLI pings (the node's idle limit is 60 s).
constexpr auto keepalive_interval = 20s;

/// A mistake on the command line: main() prints it with the command's usage, exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A failure already explained to the user; carries only the exit status.
struct reported_failure {
  int status;
};

struct options {
  std::string url;
  std::string ca_file; // PEM CA certificate(s) to verify an https:// node with
  std::string token_file;
  net::encoding enc = net::encoding::json;
  std::chrono::seconds timeout{10};
  std::chrono::seconds wait{0};
  uint64_t count = 0;
  bool background = false;
  bool mark_read = false;
  bool help = false;
  bool version = false;
  std::string mime;              // send-file: overrides the guess from the extension
  std::string device;            // login: the device the token belongs to
  std::vector<std::string> args; // the command and its arguments
};

/// Set by SIGINT/SIGTERM.
extern std::atomic<bool> interrupted;

/// The node named by --url (or $TIDINGS_URL); usage_error if none or malformed.
client::endpoint endpoint_of(const options& opts);

/// Network text made safe for a terminal: control characters (C0, DEL, C1) become escapes.
std::string printable(const std::string& text);

/// A field of a frame as text ("" if absent; non-strings as JSON).
std::string string_field(const json& frame, const char* key);

/// A frame's `ts` as local "YYYY-MM-DD HH:MM:SS" ("?" without one).
std::string format_ts(const json& frame);

/// A close code with its meaning, for messages to the user.
std::string describe_close(uint16_t code);

/// Prints "tidings-cli: error: TEXT" to stderr.
void print_error(const std::string& text);

/// Prints an `error` frame; returns exit_failed for convenience.
int report_error_frame(const json& frame);

/// Prints an HTTP API failure; returns exit_failed.
int report_api_error(const client::api_error& e);

/// The token `login` stored; reports and throws reported_failure if there is none.
std::string read_token(const options& opts);

/// A fresh random client message id ("cli-" and 16 hex digits).
std::string random_cid();

/// Connects and authenticates; reports and throws reported_failure if the server says no.
/// `user`, if given, receives the user name the `welcome` named.
client::ws_client open_session(const options& opts, bool foreground, std::string* user = nullptr);

/// The key by which repeats of an inbox item are recognised (protocol section 5; `sent_copy`
/// items by their mid, as docs/PROTOCOL.md "Devices" says).
std::string repeat_key(const std::string& type, const json& item);

/// A message's content on one line: the body of a text, "[kind mime, size, name, hash] caption"
/// of a media message; network text made printable.
std::string describe_content(const json& item);

/// True for the close codes after which a new session may succeed: the node went away (1001),
/// the connection broke (1006), a server error (1011), the idle limit (1000) or a slow reader
/// (4004). Not for 4001 (token), 4002 (replaced), 4003 (policy) or 4005 (device limit).
bool worth_reconnecting(uint16_t close_code);

/// A session that can be opened again after it closed, with exponential backoff between
/// attempts (0.25 s doubling to 8 s, ±20 % jitter; reset by a welcome).
class session_link {
public:
  session_link(const options& opts, bool foreground);

  /// One attempt: connect and authenticate within --timeout. On `welcome` returns the session
  /// (and resets the backoff); on a network failure or an `unavailable` answer returns nullopt
  /// with `why` set and the next attempt scheduled; on a refusal (bad token, device limit)
  /// reports it and throws reported_failure.
  std::optional<client::ws_client> attempt(std::string& why);

  /// The user named by the last `welcome` ("" before one).
  const std::string& user() const { return user_; }

  /// When the next attempt is due.
  std::chrono::steady_clock::time_point next_attempt() const { return next_attempt_; }

  /// Schedules the next attempt one backoff step from now and returns the delay.
  std::chrono::milliseconds back_off();

  /// Attempts until one succeeds, waiting out the backoff (woken by `interrupted`); nullopt
  /// once `interrupted` is set. `on_retry` is told each failure and the delay before the next.
  std::optional<client::ws_client>
  open(const std::function<void(const std::string&, std::chrono::milliseconds)>& on_retry);

private:
  const options& opts_;
  bool foreground_;
  std::string token_;
  std::string user_;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point next_attempt_;
};

} // namespace tidings::cli
