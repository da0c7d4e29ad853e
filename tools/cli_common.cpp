#include "tools/cli_common.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>

#include <poll.h>

namespace tidings::cli {

std::atomic<bool> interrupted{false};

namespace {

// An `error` frame as one line: "CODE: MESSAGE (retry in N ms)".
std::string error_text(const json& frame) {
  auto text = string_field(frame, "code") + ": " + printable(string_field(frame, "message"));
  if (auto retry = frame.find("retry_ms"); retry != frame.end())
    text += " (retry in " + retry->dump() + " ms)";
  return text;
}

} // namespace

client::endpoint endpoint_of(const options& opts) {
  if (opts.url.empty())
    throw usage_error("no node given: use --url=http://HOST:PORT or set TIDINGS_URL");
  try {
    auto ep = client::parse_url(opts.url);
    ep.ca_file = opts.ca_file;
    return ep;
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
}

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  char hex[8];
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t') {
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned char>(text[++i]));
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string string_field(const json& frame, const char* key) {
  auto i = frame.find(key);
  if (i == frame.end())
    return {};
  return i->is_string() ? i->get<std::string>() : i->dump();
}

std::string format_ts(const json& frame) {
  auto i = frame.find("ts");
  if (i == frame.end() || !i->is_number_integer())
    return "?";
  auto ms = i->get<int64_t>();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  char buf[32];
  if (localtime_r(&secs, &local) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local) == 0)
    return std::to_string(ms);
  return buf;
}

std::string describe_close(uint16_t code) {
  switch (code) {
  case 1000:
    return "1000, normal closure";
  case 1001:
    return "1001, node shutting down";
  case 1006:
    return "1006, connection lost";
  case 1009:
    return "1009, frame too big";
  case 1011:
    return "1011, internal server error";
  case 4001:
    return "4001, unauthorized";
  case 4002:
    return "4002, replaced by a newer session of the same user (device)";
  case 4003:
    return "4003, policy violation";
  case 4005:
    return "4005, too many devices online";
  default:
    return std::to_string(code);
  }
}

void print_error(const std::string& text) {
  std::cerr << "tidings-cli: error: " << text << std::endl;
}

int report_error_frame(const json& frame) {
  print_error(error_text(frame));
  return exit_failed;
}

int report_api_error(const client::api_error& e) {
  if (!e.code().empty())
    print_error(e.code() + ": " + printable(e.message()) + " (HTTP " + std::to_string(e.status()) +
                ")");
  else
    print_error(printable(e.what()));
  return exit_failed;
}

std::string read_token(const options& opts) {
  std::ifstream in{opts.token_file};
  std::string token;
  if (!in || !(in >> token) || token.empty()) {
    print_error("no session token in " + opts.token_file +
                "; run `tidings-cli login USER PASSWORD` first");
    throw reported_failure{exit_failed};
  }
  return token;
}

std::string random_cid() {
  std::random_device rd;
  uint64_t value = (static_cast<uint64_t>(rd()) << 32) | rd();
  char buf[24];
  std::snprintf(buf, sizeof buf, "cli-%016llx", static_cast<unsigned long long>(value));
  return buf;
}

client::ws_client open_session(const options& opts, bool foreground, std::string* user) {
  session_link session{opts, foreground};
  std::string why;
  if (auto ws = session.attempt(why)) {
    if (user != nullptr)
      *user = session.user();
    return std::move(*ws);
  }
  print_error(why);
  throw reported_failure{exit_failed};
}

std::string repeat_key(const std::string& type, const json& item) {
  if (type == "msg" || type == "sent_copy")
    return type + " " + string_field(item, "mid");
  return "receipt " + string_field(item, "by") + " " + string_field(item, "status") + " " +
         item.value("mids", json::array()).dump();
}

std::string describe_content(const json& item) {
  std::string out;
  auto kind = string_field(item, "kind");
  if (kind != "text") {
    auto media = item.value("media", json::object());
    out += "[" + printable(kind) + " " + printable(string_field(media, "mime"));
    if (media.contains("size"))
      out += ", " + media["size"].dump() + " bytes";
    if (media.contains("name"))
      out += ", " + printable(string_field(media, "name"));
    out += ", " + printable(string_field(media, "hash")) + "]";
    if (item.contains("body"))
      out += " ";
  }
  return out + printable(string_field(item, "body"));
}

bool worth_reconnecting(uint16_t close_code) {
  switch (close_code) {
  case 1000:
  case 1001:
  case 1005:
  case client::close_abnormal:
  case 1011:
  case 4004:
    return true;
  default:
    return false;
  }
}

session_link::session_link(const options& opts, bool foreground)
    : opts_(opts), foreground_(foreground), token_(read_token(opts)),
      next_attempt_(std::chrono::steady_clock::now()) {
  // nop
}

std::chrono::milliseconds session_link::back_off() {
  constexpr std::chrono::milliseconds first = 250ms;
  constexpr std::chrono::milliseconds most = 8s;
  delay_ = delay_ == 0ms ? first : std::min<std::chrono::milliseconds>(delay_ * 2, most);
  static std::mt19937 jitter{std::random_device{}()};
  auto spread = std::uniform_int_distribution<long>{-delay_.count() / 5, delay_.count() / 5};
  auto wait = delay_ + std::chrono::milliseconds{spread(jitter)};
  next_attempt_ = std::chrono::steady_clock::now() + wait;
  return wait;
}

std::optional<client::ws_client> session_link::attempt(std::string& why) {
  client::ws_client ws{endpoint_of(opts_), opts_.enc};
  json reply;
  try {
    ws.connect({}, opts_.timeout);
    reply = ws.auth(token_, foreground_, opts_.timeout);
  } catch (const std::runtime_error& e) {
    why = printable(e.what());
    back_off();
    return std::nullopt;
  }
  auto type = string_field(reply, "type");
  if (type == "welcome") {
    delay_ = 0ms;
    user_ = string_field(reply, "user");
    return ws;
  }
  auto code = string_field(reply, "code");
  if (type == "error" && (code == "unavailable" || code == "overloaded")) {
    why = error_text(reply);
    back_off();
    auto retry = std::chrono::milliseconds{reply.value("retry_ms", int64_t{0})};
    next_attempt_ = std::max(next_attempt_, std::chrono::steady_clock::now() + retry);
    return std::nullopt;
  }
  if (type == "error") {
    report_error_frame(reply);
    if (code == "unauthorized")
      std::cerr << "tidings-cli: the stored token is not valid; run `tidings-cli login` again"
                << std::endl;
  } else {
    print_error("unexpected reply to auth: " + printable(reply.dump()));
  }
  throw reported_failure{exit_failed};
}

std::optional<client::ws_client> session_link::open(
    const std::function<void(const std::string&, std::chrono::milliseconds)>& on_retry) {
  while (!interrupted) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_attempt_ - std::chrono::steady_clock::now());
    if (left > 0ms) {
      ::poll(nullptr, 0,
             static_cast<int>(std::min<std::chrono::milliseconds>(left, 250ms).count()));
      continue;
    }
    std::string why;
    if (auto ws = attempt(why))
      return ws;
    on_retry(why, std::chrono::duration_cast<std::chrono::milliseconds>(
                      next_attempt_ - std::chrono::steady_clock::now()));
  }
  return std::nullopt;
}

} // namespace tidings::cli
