// tidings-cli: a terminal client for a Tidings node.
//
// Accounts, sessions and media go over HTTP; `send`, `send-file` and `listen` open one
// WebSocket session each (`chat` is in cli_chat.cpp, the profile, presence, contact and block
// commands in cli_social.cpp, what they share in cli_common.cpp),
// authenticate with the token that `login` stored, and speak the protocol's frames (see
// docs/PROTOCOL.md). `send` never acknowledges inbox items, so nothing is consumed behind the
// user's back; `listen` prints every item and acknowledges it once printed. Text from the
// network is printed with control characters escaped, so a message cannot drive the terminal.
//
// Exit status: 0 on success, 1 when the server refuses or the network fails, 2 on usage errors.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "client/http.hpp"
#include "client/media.hpp"
#include "client/ws_client.hpp"
#include "config/nearest.hpp"
#include "config/version.hpp"
#include "media/sha256.hpp"
#include "tools/cli_commands.hpp"
#include "tools/cli_common.hpp"

namespace {

using namespace std::chrono_literals;
using tidings::client::json;
namespace client = tidings::client;
namespace net = tidings::net;
using namespace tidings::cli;

constexpr auto receive_slice = 250ms; // how often `listen` looks at the Ctrl-C flag

constexpr const char* general_help = R"help(
usage: tidings-cli --url=http://HOST:PORT [OPTIONS] COMMAND [ARGS...]

commands:
  register USER PASSWORD   create an account
  login USER PASSWORD      log in and store the session token in the token file
                           (with --device=NAME: as that device; see devices)
  devices [remove ID]      list your devices (* marks this token's), or remove one
  logout                   revoke the stored token and delete the token file
  send USER TEXT...        send a text message; prints "✓ sent MID", then (with --wait)
                           "✓✓ delivered" and "✓✓ read (blue)" as the receipts arrive
  listen                   print incoming messages and receipts, acknowledging each one,
                           until Ctrl-C or --count messages; reconnects (with backoff)
                           when the node restarts or the connection drops
  chat USER                an interactive conversation with USER: messages and receipts
                           (naming their text) as they arrive, the line you type is sent
                           on Enter, USER's presence in a status line; reconnects and
                           sends again what was not confirmed (Ctrl-D or Ctrl-C quits)
  profile [USER]           show your profile (or USER's)
  profile set name|about TEXT...
                           change your display name or about text
  presence USER            whether USER is online, and their last seen
  contacts [add|remove USER]
                           list your contacts, or add or remove one
  block USER, unblock USER, blocked
                           stop (or resume) receiving from USER; list whom you blocked
  send-file USER PATH      upload a file (streamed), then send it as a media message:
                           image, video, audio or document by its type (--mime, else the
                           file name's extension); prints the hash and "✓ sent MID"
  upload PATH              upload a file (streamed) without sending it; prints its hash
                           (for an avatar, or to send later)
  fetch HASH [OUT]         download a media file to OUT (default: HASH); if OUT already
                           holds the start of it, only the rest is fetched (resumed with a
                           Range request); the result is checked against HASH

options:
  --url=URL                the node, http://HOST:PORT, or https://HOST:PORT for a node
                           or proxy speaking TLS (default: $TIDINGS_URL)
  --ca-file=PATH           PEM CA certificate(s) to verify an https:// node with
                           (default: the system's CAs)
  --token-file=PATH        where login stores the token
                           (default: $HOME/.tidings-token, or ./.tidings-token without HOME)
  --encoding=json|msgpack  WebSocket frame encoding (default: json)
  --timeout=SECONDS        how long to wait for each server reply (default: 10)
  --wait=SECONDS           send: how long to wait for receipts (default: 0)
  --count=N                listen: exit after N messages (default: run until Ctrl-C)
  --background             listen: open the session as a background one (foreground=false)
  --read                   listen: also send a read receipt for each message shown
  --mime=TYPE              send-file: the file's media type (default: from its extension)
  --device=NAME            login: name this device, so it gets its own copy of every message
                           and stays connected beside your other devices
  -h, --help               this text; with a COMMAND, that command's usage
  --version                print the version and the commit, then exit

A PASSWORD of "-" is read from the first line of stdin (without echo on a terminal); a TEXT
of "-" is all of stdin. Several TEXT words are joined with spaces. Put "--" before a TEXT
that starts with "-".

Without --device the protocol allows one live session per user: `send` or `listen` as a user
replaces that user's running `listen`. `send` leaves inbox items for `listen` (it acknowledges
nothing). Tokens of different named devices each have their own session and inbox cursor.

exit status: 0 success, 1 refused by the server or network failure, 2 usage error
)help";

struct command {
  const char* name;
  const char* usage;
  std::size_t min_args;
  std::size_t max_args;
  int (*run)(const options&);
};

extern "C" void on_interrupt(int) {
  interrupted = true;
}

// -- small helpers -----------------------------------------------------------

uint64_t parse_number(const std::string& option, const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw usage_error("--" + option + " needs a non-negative integer, got '" + text + "'");
  return std::stoull(text);
}

usage_error unknown_option(const std::string& given) {
  static const std::vector<std::string> known{
      "--url",  "--token-file", "--encoding", "--timeout", "--wait",   "--count",
      "--mime", "--background", "--read",     "--help",    "--version"};
  return usage_error("unknown option '" + given + "'; did you mean " +
                     tidings::config::nearest(given, known) + "?");
}

options parse_args(int argc, char** argv) {
  options opts;
  if (const char* url = std::getenv("TIDINGS_URL"))
    opts.url = url;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg == "-" || arg.rfind('-', 0) != 0) {
      opts.args.push_back(std::move(arg));
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      opts.help = true;
      continue;
    }
    if (arg == "--version") {
      opts.version = true;
      continue;
    }
    if (arg == "--background") {
      opts.background = true;
      continue;
    }
    if (arg == "--read") {
      opts.mark_read = true;
      continue;
    }
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos)
      throw unknown_option(arg.substr(0, eq));
    auto name = arg.substr(2, eq - 2);
    auto value = arg.substr(eq + 1);
    if (name == "url")
      opts.url = value;
    else if (name == "ca-file")
      opts.ca_file = value;
    else if (name == "token-file")
      opts.token_file = value;
    else if (name == "encoding" && (value == "json" || value == "msgpack"))
      opts.enc = value == "json" ? net::encoding::json : net::encoding::msgpack;
    else if (name == "encoding")
      throw usage_error("--encoding must be json or msgpack");
    else if (name == "timeout")
      opts.timeout = std::chrono::seconds{std::max<uint64_t>(1, parse_number(name, value))};
    else if (name == "wait")
      opts.wait = std::chrono::seconds{parse_number(name, value)};
    else if (name == "count")
      opts.count = parse_number(name, value);
    else if (name == "mime" && !value.empty())
      opts.mime = value;
    else if (name == "device" && !value.empty())
      opts.device = value;
    else
      throw unknown_option("--" + name);
  }
  if (opts.token_file.empty()) {
    const char* home = std::getenv("HOME");
    opts.token_file =
        home != nullptr && *home != '\0' ? std::string{home} + "/.tidings-token" : ".tidings-token";
  }
  return opts;
}

std::string read_stdin_line(bool secret) {
  termios saved{};
  bool restore = false;
  if (secret && ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    std::cerr << "Password: " << std::flush;
    auto quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << std::endl;
  }
  if (!ok)
    throw usage_error("expected a line on stdin");
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  return line;
}

std::string password_arg(const std::string& arg) {
  return arg == "-" ? read_stdin_line(true) : arg;
}

// Writes the token readable by the owner only, atomically (a temporary file, then rename).
void write_token(const options& opts, const std::string& token) {
  auto temp = opts.token_file + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto fail = [&](const char* what) {
    auto err = std::strerror(errno);
    if (fd >= 0)
      ::close(fd);
    ::unlink(temp.c_str());
    print_error(std::string{"cannot "} + what + " " + temp + ": " + err);
    throw reported_failure{exit_failed};
  };
  if (fd < 0)
    fail("create");
  if (::fchmod(fd, 0600) != 0)
    fail("chmod");
  auto text = token + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    fail("write");
  if (::fsync(fd) != 0)
    fail("sync");
  ::close(fd);
  fd = -1;
  if (::rename(temp.c_str(), opts.token_file.c_str()) != 0)
    fail("rename to the token file");
}

bool mids_contain(const json& receipt, const std::string& mid) {
  auto mids = receipt.find("mids");
  return mids != receipt.end() && mids->is_array() &&
         std::find(mids->begin(), mids->end(), json(mid)) != mids->end();
}

// -- commands ----------------------------------------------------------------

int cmd_register(const options& opts) {
  auto ep = endpoint_of(opts);
  auto& user = opts.args[1];
  client::register_user(ep, user, password_arg(opts.args[2]));
  std::cout << "registered " << user << std::endl;
  return exit_ok;
}

int cmd_login(const options& opts) {
  auto ep = endpoint_of(opts);
  auto& user = opts.args[1];
  auto token = client::login(ep, user, password_arg(opts.args[2]), opts.device);
  write_token(opts, token);
  std::cout << "logged in as " << user;
  if (!opts.device.empty())
    std::cout << " on device '" << printable(opts.device) << "'";
  std::cout << " (token stored in " << opts.token_file << ")" << std::endl;
  return exit_ok;
}

// `devices`: lists the user's devices; `devices remove ID` revokes one.
int cmd_devices(const options& opts) {
  auto ep = endpoint_of(opts);
  auto token = read_token(opts);
  if (opts.args.size() == 3) {
    if (opts.args[1] != "remove")
      throw usage_error("expected 'devices' or 'devices remove ID'");
    auto res = client::http_call(ep, "DELETE", "/v1/devices/" + opts.args[2], {},
                                 "application/json", token, opts.timeout);
    if (res.status != 204)
      client::throw_api_error("DELETE /v1/devices/ID", res);
    std::cout << "removed device " << printable(opts.args[2]) << std::endl;
    return exit_ok;
  }
  if (opts.args.size() != 1)
    throw usage_error("expected 'devices' or 'devices remove ID'");
  auto res =
      client::http_call(ep, "GET", "/v1/devices", {}, "application/json", token, opts.timeout);
  if (res.status != 200)
    client::throw_api_error("GET /v1/devices", res);
  for (const auto& d : res.json_body().value("devices", json::array())) {
    std::cout << (d.value("current", false) ? "* " : "  ") << d.value("id", 0) << "  "
              << (d["name"].is_string() ? printable(d["name"].get<std::string>())
                                        : std::string{"(no name)"})
              << (d.value("online", false) ? "  online" : "") << std::endl;
  }
  return exit_ok;
}

int cmd_logout(const options& opts) {
  auto ep = endpoint_of(opts);
  auto token = read_token(opts);
  try {
    client::logout(ep, token);
  } catch (const client::api_error& e) {
    if (e.status() != 401)
      throw;
    ::unlink(opts.token_file.c_str());
    report_api_error(e);
    std::cerr << "tidings-cli: the token was not valid any more; removed " << opts.token_file
              << std::endl;
    return exit_failed;
  }
  ::unlink(opts.token_file.c_str());
  std::cout << "logged out" << std::endl;
  return exit_ok;
}

// Prints "✓ sent MID" for a `sent` reply, then (with --wait) the receipts for it as they come.
int await_receipts(client::ws_client& ws, const json& reply, const options& opts) {
  auto mid = string_field(reply, "mid");
  std::cout << "✓ sent " << printable(mid) << std::endl;
  auto deadline = std::chrono::steady_clock::now() + opts.wait;
  bool delivered = false;
  bool read = false;
  while (!read && !ws.closed() && !interrupted) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms)
      break;
    auto frame = ws.receive(std::min<std::chrono::milliseconds>(left, receive_slice));
    if (!frame || string_field(*frame, "type") != "receipt" || !mids_contain(*frame, mid))
      continue;
    auto status = string_field(*frame, "status");
    if (status == "delivered" && !delivered) {
      delivered = true;
      std::cout << "✓✓ delivered" << std::endl;
    } else if (status == "read") {
      read = true;
      std::cout << "✓✓ read (blue)" << std::endl;
    }
  }
  ws.close();
  return exit_ok;
}

// Sends one `send` frame and reports its reply; returns the exit status.
int send_and_report(const options& opts, const json& frame) {
  auto ws = open_session(opts, true);
  auto reply = ws.request(frame, opts.timeout);
  if (string_field(reply, "type") != "sent") {
    ws.close();
    if (string_field(reply, "type") == "error")
      return report_error_frame(reply);
    print_error("unexpected reply to send: " + printable(reply.dump()));
    return exit_failed;
  }
  return await_receipts(ws, reply, opts);
}

int cmd_send(const options& opts) {
  auto& to = opts.args[1];
  std::string text;
  if (opts.args.size() == 3 && opts.args[2] == "-") {
    text.assign(std::istreambuf_iterator<char>{std::cin}, std::istreambuf_iterator<char>{});
  } else {
    for (std::size_t i = 2; i < opts.args.size(); ++i)
      text += (i > 2 ? " " : "") + opts.args[i];
  }
  return send_and_report(
      opts,
      {{"type", "send"}, {"cid", random_cid()}, {"to", to}, {"kind", "text"}, {"body", text}});
}

void print_msg(const json& m) {
  std::cout << "[" << format_ts(m) << "] " << printable(string_field(m, "from")) << ": "
            << describe_content(m) << std::endl;
}

void print_receipt(const json& r) {
  auto status = string_field(r, "status");
  std::cout << "[" << format_ts(r) << "] "
            << (status == "read" ? "✓✓ read (blue)" : "✓✓ " + printable(status)) << " by "
            << printable(string_field(r, "by")) << ":";
  if (auto mids = r.find("mids"); mids != r.end() && mids->is_array())
    for (auto& mid : *mids)
      std::cout << " " << printable(mid.is_string() ? mid.get<std::string>() : mid.dump());
  std::cout << std::endl;
}

// The key by which repeats of an inbox item are recognised (protocol section 5).

// `listen`: prints every item and acknowledges it. When the node goes away (a restart: 1001, or a
// lost connection) it opens a new session with backoff and carries on; repeats of items shown
// before are acknowledged without being shown again.
int cmd_listen(const options& opts) {
  session_link session{opts, !opts.background};
  std::set<std::string> seen;
  uint64_t messages = 0;
  auto reconnecting = [](const std::string& why, std::chrono::milliseconds delay) {
    std::cerr << "tidings-cli: cannot connect (" << why << "); retrying in " << delay.count()
              << " ms" << std::endl;
  };
  std::string why;
  auto ws = session.attempt(why);
  if (!ws) {
    print_error(why);
    return exit_failed;
  }
  std::cerr << "tidings-cli: listening (Ctrl-C to stop)" << std::endl;
  auto last_sent = std::chrono::steady_clock::now();
  auto send = [&](const json& frame) {
    ws->send(frame);
    last_sent = std::chrono::steady_clock::now();
  };
  while (!interrupted && (opts.count == 0 || messages < opts.count)) {
    auto frame = ws->receive(receive_slice);
    if (!frame && ws->closed()) {
      if (!worth_reconnecting(ws->close_code()))
        break;
      std::cerr << "tidings-cli: connection closed (" << describe_close(ws->close_code())
                << "); reconnecting" << std::endl;
      ws = session.open(reconnecting);
      if (!ws)
        return exit_ok; // interrupted while waiting
      std::cerr << "tidings-cli: reconnected, listening" << std::endl;
      last_sent = std::chrono::steady_clock::now();
      continue;
    }
    if (!frame) {
      if (std::chrono::steady_clock::now() - last_sent >= keepalive_interval)
        send({{"type", "ping"}});
      continue;
    }
    auto type = string_field(*frame, "type");
    if (type == "msg" || type == "receipt" || type == "sent_copy") {
      bool fresh = seen.insert(repeat_key(type, *frame)).second;
      if (fresh && type == "msg") {
        print_msg(*frame);
        ++messages;
      } else if (fresh && type == "sent_copy") {
        std::cout << "[" << format_ts(*frame) << "] you (device " << string_field(*frame, "device")
                  << ") to " << printable(string_field(*frame, "to")) << ": "
                  << describe_content(*frame) << std::endl;
      } else if (fresh) {
        print_receipt(*frame);
      }
      if (auto seq = frame->find("seq"); seq != frame->end() && seq->is_number_unsigned())
        send({{"type", "ack"}, {"upto", *seq}});
      if (fresh && type == "msg" && opts.mark_read) // after the ack: read what was delivered
        send({{"type", "read"},
              {"from", string_field(*frame, "from")},
              {"mids", json::array({string_field(*frame, "mid")})}});
    } else if (type == "error") {
      report_error_frame(*frame);
    } else if (type == "presence") {
      std::cout << "[presence] " << printable(string_field(*frame, "user"))
                << (frame->value("online", false) ? " online" : " offline") << std::endl;
    } else if (type != "pong") {
      std::cout << "[server] " << printable(frame->dump()) << std::endl;
    }
  }
  if (ws->closed()) {
    print_error("connection closed by the server (" + describe_close(ws->close_code()) + ")");
    return exit_failed;
  }
  ws->close();
  return exit_ok;
}

// -- media ---------------------------------------------------------------------

// A media type from a file name's extension; application/octet-stream if unknown.
std::string mime_of(const std::string& path) {
  static const std::pair<const char*, const char*> known[] = {
      {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},     {"png", "image/png"},
      {"gif", "image/gif"},        {"webp", "image/webp"},     {"heic", "image/heic"},
      {"mp4", "video/mp4"},        {"mov", "video/quicktime"}, {"webm", "video/webm"},
      {"mkv", "video/x-matroska"}, {"mp3", "audio/mpeg"},      {"m4a", "audio/mp4"},
      {"ogg", "audio/ogg"},        {"opus", "audio/opus"},     {"wav", "audio/wav"},
      {"pdf", "application/pdf"},  {"txt", "text/plain"},      {"zip", "application/zip"},
  };
  auto name = path.substr(path.find_last_of('/') + 1);
  auto dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) {
    std::string ext = name.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (auto& [e, mime] : known)
      if (ext == e)
        return mime;
  }
  return "application/octet-stream";
}

// The message kind for a media type (protocol section 4).
std::string kind_of(const std::string& mime) {
  for (const char* kind : {"image", "video", "audio"})
    if (mime.rfind(std::string{kind} + "/", 0) == 0)
      return kind;
  return "document";
}

// Uploads the file at `path` and prints its hash; returns the server's {hash,size,mime}.
json upload_file(const options& opts, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw usage_error("not a readable file: " + path);
  auto mime = opts.mime.empty() ? mime_of(path) : opts.mime;
  auto uploaded =
      client::upload_media(endpoint_of(opts), read_token(opts), path, mime, opts.timeout);
  std::cout << "uploaded " << printable(string_field(uploaded, "hash")) << " ("
            << string_field(uploaded, "size") << " bytes, " << printable(mime) << ")" << std::endl;
  return uploaded;
}

int cmd_upload(const options& opts) {
  upload_file(opts, opts.args[1]);
  return exit_ok;
}

int cmd_send_file(const options& opts) {
  auto& to = opts.args[1];
  auto& path = opts.args[2];
  auto uploaded = upload_file(opts, path);
  auto hash = string_field(uploaded, "hash");
  auto mime = string_field(uploaded, "mime");
  auto name = path.substr(path.find_last_of('/') + 1);
  json media{{"hash", hash}, {"mime", mime}, {"size", uploaded.value("size", uint64_t{0})}};
  if (!name.empty() && name.size() <= 255)
    media["name"] = name;
  return send_and_report(opts, {{"type", "send"},
                                {"cid", random_cid()},
                                {"to", to},
                                {"kind", kind_of(mime)},
                                {"media", media}});
}

int cmd_fetch(const options& opts) {
  auto ep = endpoint_of(opts);
  auto& hash = opts.args[1];
  if (!tidings::media::is_hash(hash))
    throw usage_error("HASH must be 64 lowercase hex digits");
  auto out_path = opts.args.size() > 2 ? opts.args[2] : hash;
  struct stat st {};
  uint64_t have = ::stat(out_path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  std::ofstream out;
  unsigned status = 0;
  auto result = client::http_download(
      ep, "/v1/media/" + hash, read_token(opts), have,
      [&](const char* data, std::size_t n) {
        if (!out.write(data, static_cast<std::streamsize>(n)))
          throw std::runtime_error("cannot write " + out_path);
      },
      opts.timeout,
      [&](const client::http_response& head) {
        status = head.status;
        if (status == 206) // the rest follows what we have
          out.open(out_path, std::ios::binary | std::ios::app);
        else if (status == 200) // the whole blob (a fresh start, or the range was ignored)
          out.open(out_path, std::ios::binary | std::ios::trunc);
        if ((status == 200 || status == 206) && !out)
          throw std::runtime_error("cannot open " + out_path + " for writing");
      });
  out.close();
  auto& res = result.response;
  bool complete_already =
      status == 416 && have > 0 && res.header("content-range") == "bytes */" + std::to_string(have);
  if (status != 200 && status != 206 && !complete_already)
    client::throw_api_error("GET /v1/media/" + hash, res);
  if (client::file_sha256(out_path) != hash) {
    ::unlink(out_path.c_str());
    print_error(out_path + " does not match its hash (a changed partial file?); removed it, " +
                "run fetch again to start over");
    return exit_failed;
  }
  auto size = have * (status == 206 || complete_already) + result.received;
  std::cout << "fetched " << printable(out_path) << " (" << size << " bytes";
  if (status == 206)
    std::cout << ", resumed at byte " << have;
  std::cout << ")" << std::endl;
  return exit_ok;
}

const command commands[] = {
    {"register", "register USER PASSWORD", 2, 2, cmd_register},
    {"login", "login USER PASSWORD", 2, 2, cmd_login},
    {"logout", "logout", 0, 0, cmd_logout},
    {"send", "send USER TEXT... [--wait=SECONDS]", 2, SIZE_MAX, cmd_send},
    {"listen", "listen [--count=N] [--background] [--read]", 0, 0, cmd_listen},
    {"send-file", "send-file USER PATH [--mime=TYPE] [--wait=SECONDS]", 2, 2, cmd_send_file},
    {"upload", "upload PATH [--mime=TYPE]", 1, 1, cmd_upload},
    {"fetch", "fetch HASH [OUT]", 1, 2, cmd_fetch},
    {"devices", "devices [remove ID]", 0, 2, cmd_devices},
    {"chat", "chat USER", 1, 1, cmd_chat},
    {"profile", "profile [USER] | profile set name|about TEXT...", 0, SIZE_MAX, cmd_profile},
    {"presence", "presence USER", 1, 1, cmd_presence},
    {"contacts", "contacts [add USER | remove USER]", 0, 2, cmd_contacts},
    {"block", "block USER", 1, 1, cmd_block},
    {"unblock", "unblock USER", 1, 1, cmd_block},
    {"blocked", "blocked", 0, 0, cmd_block},
};

const command* find_command(const std::string& name) {
  for (auto& cmd : commands)
    if (name == cmd.name)
      return &cmd;
  return nullptr;
}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: blocking waits return early
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const command* cmd = nullptr;
  try {
    auto opts = parse_args(argc, argv);
    if (!opts.args.empty()) {
      cmd = find_command(opts.args[0]);
      if (cmd == nullptr)
        throw usage_error("unknown command '" + opts.args[0] + "'");
    }
    if (opts.version) {
      std::cout << tidings::version_line("tidings-cli") << "\n";
      return exit_ok;
    }
    if (opts.help) {
      if (cmd != nullptr)
        std::cout << "usage: tidings-cli --url=http://HOST:PORT [OPTIONS] " << cmd->usage << "\n";
      else
        std::cout << tidings::version_line("tidings-cli")
                  << ": a terminal client for a Tidings node\n"
                  << general_help;
      return exit_ok;
    }
    if (cmd == nullptr)
      throw usage_error("no command given");
    auto given = opts.args.size() - 1;
    if (given < cmd->min_args || given > cmd->max_args)
      throw usage_error(std::string{"wrong number of arguments for "} + cmd->name);
    install_interrupt_handler();
    return cmd->run(opts);
  } catch (const usage_error& e) {
    std::cerr << "tidings-cli: " << e.what() << "\n";
    if (cmd != nullptr)
      std::cerr << "usage: tidings-cli --url=http://HOST:PORT [OPTIONS] " << cmd->usage << "\n";
    else
      std::cerr << "usage: tidings-cli --url=http://HOST:PORT [OPTIONS] COMMAND [ARGS...]\n"
                << "       tidings-cli --help\n";
    return exit_usage;
  } catch (const reported_failure& f) {
    return f.status;
  } catch (const client::api_error& e) {
    return report_api_error(e);
  } catch (const std::exception& e) {
    print_error(printable(e.what()));
    return exit_failed;
  }
}
