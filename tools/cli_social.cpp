// The small commands of tidings-cli around people: profiles, presence, contacts and blocks.
// Each opens one background session (so it never moves the user's last seen), asks one or two
// questions with request frames (protocol section 9) and prints the answers.

#include <iostream>

#include "tools/cli_commands.hpp"

namespace tidings::cli {

namespace {

// Sends `frame` as a request and returns the reply; an `error` reply is reported and thrown.
json ask(client::ws_client& ws, const json& frame, const options& opts) {
  auto reply = ws.request(frame, opts.timeout);
  if (string_field(reply, "type") == "error") {
    report_error_frame(reply);
    throw reported_failure{exit_failed};
  }
  return reply;
}

std::string show_time(const json& value, const char* otherwise) {
  if (!value.is_number_integer())
    return otherwise;
  return format_ts(json{{"ts", value}});
}

void print_profile(const json& p) {
  std::cout << "user:    " << printable(string_field(p, "user")) << "\n"
            << "name:    " << printable(string_field(p, "name")) << "\n"
            << "about:   " << printable(string_field(p, "about")) << "\n"
            << "avatar:  "
            << (p.contains("avatar") && p["avatar"].is_string()
                    ? printable(p["avatar"].get<std::string>())
                    : std::string{"(none)"})
            << "\n"
            << "updated: " << show_time(p.value("updated", json{}), "?") << "\n";
  if (auto privacy = p.find("privacy"); privacy != p.end() && privacy->is_object())
    std::cout << "privacy: last seen " << printable(string_field(*privacy, "last_seen"))
              << ", read receipts " << (privacy->value("read_receipts", true) ? "on" : "off")
              << "\n";
  std::cout << std::flush;
}

std::string joined(const std::vector<std::string>& args, std::size_t from) {
  std::string text;
  for (auto i = from; i < args.size(); ++i)
    text += (i > from ? " " : "") + args[i];
  return text;
}

void print_users(const json& reply) {
  auto users = reply.value("users", json::array());
  if (users.empty())
    std::cout << "(none)" << std::endl;
  for (auto& u : users)
    std::cout << printable(u.is_string() ? u.get<std::string>() : u.dump()) << "\n";
  std::cout << std::flush;
}

} // namespace

int cmd_profile(const options& opts) {
  auto& args = opts.args;
  std::string me;
  auto ws = open_session(opts, false, &me);
  if (args.size() >= 3 && args[1] == "set") {
    auto& field = args[2];
    if (field != "name" && field != "about")
      throw usage_error("expected 'profile set name TEXT...' or 'profile set about TEXT...'");
    print_profile(ask(ws, {{"type", "profile_set"}, {field, joined(args, 3)}}, opts));
  } else if (args.size() <= 2) {
    print_profile(
        ask(ws, {{"type", "profile_get"}, {"user", args.size() == 2 ? args[1] : me}}, opts));
  } else {
    throw usage_error("expected 'profile [USER]' or 'profile set name|about TEXT...'");
  }
  ws.close();
  return exit_ok;
}

int cmd_presence(const options& opts) {
  auto ws = open_session(opts, false);
  auto p = ask(ws, {{"type", "presence_get"}, {"user", opts.args[1]}}, opts);
  std::cout << printable(string_field(p, "user")) << ": "
            << (p.value("online", false) ? "online" : "offline") << ", last seen "
            << show_time(p.value("last_seen", json{}), "unknown (never, or hidden from you)")
            << std::endl;
  ws.close();
  return exit_ok;
}

int cmd_contacts(const options& opts) {
  auto& args = opts.args;
  auto ws = open_session(opts, false);
  if (args.size() == 3 && (args[1] == "add" || args[1] == "remove")) {
    ask(ws, {{"type", "contacts_" + args[1]}, {"user", args[2]}}, opts);
    std::cout << (args[1] == "add" ? "added " : "removed ") << printable(args[2]) << std::endl;
  } else if (args.size() == 1) {
    print_users(ask(ws, {{"type", "contacts_list"}}, opts));
  } else {
    throw usage_error("expected 'contacts', 'contacts add USER' or 'contacts remove USER'");
  }
  ws.close();
  return exit_ok;
}

int cmd_block(const options& opts) {
  auto& args = opts.args;
  auto ws = open_session(opts, false);
  if (args[0] == "blocked") {
    print_users(ask(ws, {{"type", "blocked_list"}}, opts));
  } else {
    ask(ws, {{"type", args[0]}, {"user", args[1]}}, opts);
    std::cout << args[0] << "ed " << printable(args[1]) << std::endl;
  }
  ws.close();
  return exit_ok;
}

} // namespace tidings::cli
