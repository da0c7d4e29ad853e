// tidings-inspect: look inside a running Tidings node or cluster.
//
// Connects to a node's admin port (`--admin.port` of tidings-node) over CAF's middleman, sends
// one request carrying the admin secret, and prints the node's JSON answer as aligned tables
// (or as is, with --json). In a cluster any node answers for every member. It also administers
// users (users, create, disable, enable, revoke, delete: each run on the user's home node) and
// takes backups of the node asked. The commands and their output: docs/OPERATIONS.md
// ("Inspecting a node", "User administration", "Backups"); the JSON: docs/PROTOCOL.md.
//
// Exit status: 0 on success, 1 when the node cannot be reached or refuses (a wrong secret),
// 2 on usage errors.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/event_log.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"

namespace {

using tidings::net::json;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr const char* help =
    R"help(tidings-inspect: look inside a running Tidings node or cluster, administer its users

usage: tidings-inspect --node=HOST:PORT --secret=S COMMAND [ARGS] [--json]

commands:
  nodes              the members: up or down, since when, uptime, version, connections,
                     sessions, inbox actors and items waiting in inboxes, per node
  actors [--top N]   actors by kind, and the busiest (mailbox length, messages handled)
                     services and inboxes of each node (default N: 10)
  user NAME          NAME's home node, live session (node, foreground or background), inbox
                     depth and oldest item's age, last seen, contacts and blocked counts
  inboxes [--top N]  the deepest inboxes of the cluster with their oldest item's age
  ring [NAME]        which node is home for which share of users; for NAME, which node
  top [--once]       messages/s, sessions, inbox depth, mailboxes and send latency per node,
                     refreshed every second until Ctrl-C (--once: one frame, then exit)

user administration (each goes to the user's home node, from any node):
  users [--after NAME] [--limit N]
                     the accounts of the cluster in name order, N a page (default 100), with
                     their home, creation time and whether disabled
  create NAME        create an account (also when registration is closed); the password is
                     read from --password-file, else the first line of standard input
  disable NAME       NAME can no longer log in (403 forbidden); their tokens are revoked and
                     live sessions closed (4001)
  enable NAME        NAME may log in again (with their password: old tokens stay revoked)
  revoke NAME        revoke every token of NAME and close their live sessions (4001)
  delete NAME --yes  delete NAME: account, tokens, inbox, profile, contacts, blocks, last
                     seen, media grants (what stays: docs/OPERATIONS.md)
  backup DIR         a consistent copy (RocksDB checkpoint and blob files) of the node asked,
                     written to DIR (absolute, new) on that node's machine

options:
  --node=HOST:PORT   the admin port of any node of the cluster
  --secret=S         the nodes' admin.secret (default: $TIDINGS_ADMIN_SECRET)
  --json             print the node's answer as JSON (one document; `top`: one per line)
  --timeout=S        seconds to wait for an answer (default 20; 600 for backup)
  --password-file=F  create: the password is the first line of F
  --yes              delete: confirm
  --help             this text
)help";

struct options {
  std::string host;
  uint16_t port = 0;
  std::string secret;
  std::string command;
  std::vector<std::string> args;
  uint32_t top = 10;
  bool json = false;
  bool once = false;
  bool yes = false;
  int timeout_s = 0; ///< 0: the command's default
  std::string after;
  std::string limit;
  std::string password_file;
};

std::atomic<bool> interrupted{false};

// -- formatting -------------------------------------------------------------------------------

std::string duration_text(int64_t ms) {
  if (ms < 0)
    return "-";
  auto s = ms / 1000;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string number(double v, int decimals = 1) {
  if (v < 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// Columns padded to their widest cell; numbers right-aligned (unless `plain`).
class table {
public:
  explicit table(std::vector<std::string> header, bool plain = false)
      : rows_{std::move(header)}, plain_(plain) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const {
    std::vector<std::size_t> width;
    for (const auto& r : rows_)
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i)
          width.push_back(0);
        width[i] = std::max(width[i], r[i].size());
      }
    for (std::size_t k = 0; k < rows_.size(); ++k) {
      std::string line;
      for (std::size_t i = 0; i < rows_[k].size(); ++i) {
        const auto& cell = rows_[k][i];
        bool numeric =
            !plain_ && k > 0 && !cell.empty() && std::all_of(cell.begin(), cell.end(), [](char c) {
              return (c >= '0' && c <= '9') || c == '.' || c == '%' || c == '-';
            });
        auto pad = std::string(width[i] - cell.size(), ' ');
        if (i > 0)
          line += "  ";
        line += numeric ? pad + cell : (i + 1 < rows_[k].size() ? cell + pad : cell);
      }
      out << line << "\n";
    }
  }

private:
  std::vector<std::vector<std::string>> rows_;
  bool plain_ = false;
};

std::string str(const json& v) {
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_null())
    return "-";
  if (v.is_number_float())
    return number(v.get<double>());
  return v.dump();
}

std::string since_text(const json& node, int64_t now) {
  auto since = node.value("since_ms", int64_t{0});
  if (node.value("address", std::string{}).empty())
    return "-";
  return since == 0 ? "never" : duration_text(now - since) + " ago";
}

// -- the commands' output ---------------------------------------------------------------------

void print_nodes(const json& doc, std::ostream& out) {
  auto now = doc.value("now_ms", int64_t{0});
  table t{{"NODE", "ADDRESS", "STATE", "SINCE", "UPTIME", "VERSION", "CONNECTIONS", "SESSIONS",
           "INBOX ACTORS", "WAITING ITEMS", "INBOXES WAITING", "HANDOFF"}};
  for (const auto& n : doc["nodes"]) {
    auto addr = n.value("address", std::string{});
    std::vector<std::string> row{n.value("id", std::string{}), addr.empty() ? "(asked)" : addr,
                                 n.value("up", false) ? "up" : "down", since_text(n, now)};
    if (!n.value("answered", false)) {
      row.push_back("(" + n.value("error", std::string{"no answer"}) + ")");
      t.add(row);
      continue;
    }
    const auto& r = n["report"];
    row.push_back(duration_text(r.value("uptime_s", int64_t{0}) * 1000));
    row.push_back(str(r["version"]));
    for (auto key :
         {"connections", "sessions", "inboxes", "inbox_items", "inboxes_pending", "handoff_queued"})
      row.push_back(str(r[key]));
    t.add(row);
  }
  t.print(out);
}

void print_actors(const json& doc, std::ostream& out) {
  bool first = true;
  for (const auto& n : doc["nodes"]) {
    if (!first)
      out << "\n";
    first = false;
    auto id = n.value("id", std::string{});
    if (!n.value("answered", false)) {
      out << "node " << id << ": " << n.value("error", std::string{"no answer"}) << "\n";
      continue;
    }
    const auto& r = n["report"];
    out << "node " << id << ": " << str(r["actors"]) << " actors\n";
    table kinds{{"KIND", "COUNT"}};
    for (const auto& [kind, count] : r["kinds"].items())
      kinds.add({kind, str(count)});
    kinds.print(out);
    out << "\n";
    auto probes = r["probes"];
    std::vector<json> rows(probes.begin(), probes.end());
    std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
      auto ma = a.value("mailbox", uint64_t{0});
      auto mb = b.value("mailbox", uint64_t{0});
      if (ma != mb)
        return ma > mb;
      return a.value("handled", uint64_t{0}) > b.value("handled", uint64_t{0});
    });
    table busy{{"ACTOR", "NAME", "MAILBOX", "HANDLED"}};
    for (const auto& p : rows) {
      auto name = p.value("name", std::string{});
      busy.add({p.value("kind", std::string{}), name.empty() ? "-" : name, str(p["mailbox"]),
                str(p["handled"])});
    }
    busy.print(out);
  }
}

void print_user(const json& doc, std::ostream& out) {
  auto now = doc.value("now_ms", int64_t{0});
  table t{{"FIELD", "VALUE"}, true};
  t.add({"user", doc.value("user", std::string{})});
  t.add({"home",
         doc.value("home", std::string{}) + (doc.value("home_up", false) ? " (up)" : " (down)")});
  if (!doc.value("answered", false)) {
    t.add({"error", doc.value("error", std::string{"no answer"})});
    t.print(out);
    return;
  }
  const auto& r = doc["report"];
  t.add({"exists", r.value("exists", false) ? "yes" : "no"});
  std::string session = "none";
  if (r.value("session", false)) {
    auto node = r.value("session_node", std::string{});
    session = std::string{"on node "} + (node.empty() ? "?" : node) + ", " +
              (r.value("foreground", false) ? "foreground (online)" : "background");
  }
  t.add({"session", session});
  const auto& in = r["inbox"];
  auto depth = in.value("depth", uint64_t{0});
  auto oldest = in.value("oldest_ts", int64_t{-1});
  std::string inbox = std::to_string(depth) + (depth == 1 ? " item" : " items");
  if (depth > 0)
    inbox += ", oldest " + (oldest < 0 ? std::string{"?"} : duration_text(now - oldest)) + " old";
  inbox += in.value("running", false)
               ? ", actor running" + (in.value("attached", false)
                                          ? ", " + str(in["unacked"]) + " pushed and unacked"
                                          : std::string{", no session attached"})
               : ", no actor running";
  t.add({"inbox", inbox});
  auto seen = r.value("last_seen", int64_t{-1});
  t.add({"last seen", seen < 0
                          ? "never"
                          : duration_text(now - seen) + " ago (" + tidings::iso_time(seen) + ")"});
  auto count = [](const json& v) {
    return v.is_number() && v.get<int64_t>() >= 0 ? v.dump() : std::string{"?"};
  };
  t.add({"contacts", count(r["contacts"])});
  t.add({"blocked", count(r["blocked"])});
  for (const auto& note : r["notes"])
    t.add({"note", note.get<std::string>()});
  if (doc.contains("account") && doc["account"].value("exists", false)) {
    const auto& a = doc["account"];
    auto created = a.value("created", int64_t{0});
    t.add({"created", created > 0 ? tidings::iso_time(created) : "-"});
    t.add({"disabled", a.value("disabled", false) ? "yes" : "no"});
    t.add({"tokens", str(a["tokens"])});
    const auto& p = a["profile"];
    if (p.is_object()) {
      auto avatar = p.value("avatar", std::string{});
      t.add({"profile", "name '" + p.value("name", std::string{}) + "', about '" +
                            p.value("about", std::string{}) + "', " +
                            (avatar.empty() ? std::string{"no avatar"}
                                            : "avatar " + avatar.substr(0, 12) + "…")});
    } else {
      t.add({"profile", "never set"});
    }
  } else if (doc.contains("account_error")) {
    t.add({"account", "(" + doc.value("account_error", std::string{}) + ")"});
  }
  t.print(out);
  if (!r.value("exists", true))
    out << "no such user\n";
}

void print_users(const json& doc, std::ostream& out) {
  table t{{"USER", "HOME", "CREATED", "DISABLED"}, true};
  for (const auto& u : doc["users"]) {
    auto created = u.value("created", int64_t{0});
    t.add({u.value("user", std::string{}), u.value("home", std::string{}),
           created > 0 ? tidings::iso_time(created) : "-",
           u.value("disabled", false) ? "yes" : "no"});
  }
  t.print(out);
  for (const auto& n : doc["nodes"])
    if (!n.value("answered", false) || n.contains("error"))
      out << "node " << n.value("id", std::string{}) << ": "
          << n.value("error", std::string{"no answer"}) << " (its users are missing)\n";
  if (doc.value("more", false))
    out << "more: --after " << doc.value("next", std::string{}) << "\n";
}

void print_change(const json& doc, std::ostream& out) {
  auto command = doc.value("command", std::string{});
  auto user = doc.value("user", std::string{});
  auto revoked = doc.value("tokens_revoked", uint64_t{0});
  auto tokens = std::to_string(revoked) + (revoked == 1 ? " token" : " tokens");
  if (command == "create")
    out << user << ": created on " << doc.value("home", std::string{}) << "\n";
  else if (command == "disable")
    out << user << ": disabled; " << tokens << " revoked, live sessions closed\n";
  else if (command == "enable")
    out << user << ": enabled (logs in again with the password)\n";
  else
    out << user << ": " << tokens << " revoked, live sessions closed\n";
}

void print_delete(const json& doc, std::ostream& out) {
  out << doc.value("user", std::string{}) << ": deleted on " << doc.value("home", std::string{})
      << "\n";
  table t{{"REMOVED", "ROWS"}};
  for (const auto& part : {"removed", "media_removed"})
    if (doc.contains(part))
      for (const auto& [name, n] : doc[part].items())
        t.add({name, str(n)});
  t.print(out);
  if (doc.contains("members"))
    for (const auto& m : doc["members"]) {
      out << "node " << m.value("id", std::string{}) << ": ";
      if (m.contains("error")) {
        out << m.value("error", std::string{}) << "\n";
        continue;
      }
      std::string rows;
      for (const auto& [name, n] : m["media_removed"].items())
        rows += (rows.empty() ? "" : ", ") + name + " " + str(n);
      out << "media rows removed: " << rows << "\n";
    }
}

void print_backup(const json& doc, std::ostream& out) {
  auto node = doc.value("node", std::string{});
  out << "backup of node " << (node.empty() ? "local" : node) << " in "
      << doc.value("dir", std::string{}) << ": RocksDB checkpoint and " << str(doc["blobs"])
      << " blob files (" << str(doc["blob_bytes"]) << " bytes), " << str(doc["ms"]) << " ms\n";
  if (doc.contains("error"))
    out << "warning: " << doc.value("error", std::string{}) << "\n";
}

void print_inboxes(const json& doc, std::ostream& out) {
  auto now = doc.value("now_ms", int64_t{0});
  table t{{"USER", "NODE", "DEPTH", "OLDEST"}};
  for (const auto& row : doc["deepest"]) {
    auto oldest = row.value("oldest_ts", int64_t{-1});
    t.add({row.value("user", std::string{}), row.value("node", std::string{}), str(row["depth"]),
           oldest < 0 ? "-" : duration_text(now - oldest)});
  }
  t.print(out);
  out << "\n" << str(doc["items"]) << " items waiting in " << str(doc["inboxes"]) << " inboxes";
  std::string census;
  for (const auto& n : doc["nodes"]) {
    census += census.empty() ? "" : ", ";
    census += n.value("id", std::string{}) + ": ";
    if (n.value("answered", false))
      census += duration_text(std::max<int64_t>(0, now - n.value("taken_ms", now))) + " ago" +
                (n.value("complete", true) ? "" : " (incomplete)");
    else
      census += n.value("error", std::string{"no answer"});
  }
  out << " (census " << census << ")\n";
}

void print_ring(const json& doc, std::ostream& out) {
  table t{{"NODE", "ADDRESS", "STATE", "SHARE"}};
  for (const auto& m : doc["members"]) {
    auto addr = m.value("address", std::string{});
    t.add({m.value("id", std::string{}), addr.empty() ? "(asked)" : addr,
           m.value("up", false) ? "up" : "down", number(m.value("share", 0.0) * 100) + "%"});
  }
  t.print(out);
  if (doc.contains("user")) {
    const auto& u = doc["user"];
    out << "\n"
        << u.value("name", std::string{}) << ": home " << u.value("home", std::string{})
        << (u.value("home_up", false) ? " (up)" : " (down)") << ", shard " << str(u["shard"])
        << " of " << str(doc["shards"]) << "\n";
  }
}

void print_top(const json& doc, std::ostream& out) {
  auto now = doc.value("now_ms", int64_t{0});
  std::size_t up = 0;
  for (const auto& n : doc["nodes"])
    up += n.value("up", false) ? 1 : 0;
  out << "tidings top - " << tidings::iso_time(now) << " - " << doc["nodes"].size() << " nodes, "
      << up << " up\n\n";
  table t{{"NODE", "STATE", "CONNS", "SESSIONS", "STORED/S", "PUSHED/S", "SEND P50 MS",
           "SEND P99 MS", "INBOX ITEMS", "MAX MAILBOX", "BUSIEST"}};
  uint64_t conns = 0, sessions = 0, items = 0;
  double stored = 0, pushed = 0;
  for (const auto& n : doc["nodes"]) {
    std::vector<std::string> row{n.value("id", std::string{}),
                                 n.value("up", false) ? "up" : "down"};
    if (!n.value("answered", false)) {
      row.push_back("(" + n.value("error", std::string{"no answer"}) + ")");
      t.add(row);
      continue;
    }
    const auto& r = n["report"];
    // The busiest: the longest mailbox, then the most messages handled.
    std::pair<uint64_t, uint64_t> most{0, 0};
    std::string busiest = "-";
    for (const auto& p : r["probes"]) {
      std::pair<uint64_t, uint64_t> load{p.value("mailbox", uint64_t{0}),
                                         p.value("handled", uint64_t{0})};
      if (busiest == "-" || load > most) {
        most = load;
        auto name = p.value("name", std::string{});
        busiest = p.value("kind", std::string{}) + (name.empty() ? "" : "/" + name);
      }
    }
    auto max_mailbox = most.first;
    conns += r.value("connections", uint64_t{0});
    sessions += r.value("sessions", uint64_t{0});
    items += r.value("inbox_items", uint64_t{0});
    stored += r.value("stored_per_s", 0.0);
    pushed += r.value("pushed_per_s", 0.0);
    row.insert(row.end(), {str(r["connections"]), str(r["sessions"]), str(r["stored_per_s"]),
                           str(r["pushed_per_s"]), number(r.value("send_p50_ms", -1.0), 2),
                           number(r.value("send_p99_ms", -1.0), 2), str(r["inbox_items"]),
                           std::to_string(max_mailbox), busiest});
    t.add(row);
  }
  t.add({"total", "", std::to_string(conns), std::to_string(sessions), number(stored),
         number(pushed), "", "", std::to_string(items), "", ""});
  t.print(out);
}

// -- talking to the node ----------------------------------------------------------------------

/// Parses the command line; returns an exit status on error or --help.
std::optional<int> parse(int argc, char** argv, options& o) {
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = std::string{name} + "=";
      if (a.rfind(prefix, 0) == 0)
        return a.substr(prefix.size());
      if (a == name && i + 1 < argc)
        return std::string{argv[++i]};
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::cout << help;
      return exit_ok;
    }
    if (a == "--json") {
      o.json = true;
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--yes") {
      o.yes = true;
    } else if (auto v = value("--after")) {
      o.after = *v;
    } else if (auto v = value("--limit")) {
      o.limit = *v;
    } else if (auto v = value("--password-file")) {
      o.password_file = *v;
    } else if (auto v = value("--node")) {
      auto colon = v->rfind(':');
      if (colon == std::string::npos) {
        std::cerr << "tidings-inspect: --node must be HOST:PORT\n";
        return exit_usage;
      }
      o.host = v->substr(0, colon);
      try {
        auto port = std::stoul(v->substr(colon + 1));
        if (port == 0 || port > 65535)
          throw std::out_of_range("port");
        o.port = static_cast<uint16_t>(port);
      } catch (const std::exception&) {
        std::cerr << "tidings-inspect: --node: '" << v->substr(colon + 1) << "' is not a port\n";
        return exit_usage;
      }
    } else if (auto v = value("--secret")) {
      o.secret = *v;
    } else if (auto v = value("--top")) {
      try {
        o.top = static_cast<uint32_t>(std::stoul(*v));
      } catch (const std::exception&) {
        std::cerr << "tidings-inspect: --top needs a number\n";
        return exit_usage;
      }
    } else if (auto v = value("--timeout")) {
      o.timeout_s = std::max(1, std::atoi(v->c_str()));
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "tidings-inspect: unknown option " << a << " (see --help)\n";
      return exit_usage;
    } else {
      words.push_back(a);
    }
  }
  if (o.secret.empty())
    if (const char* env = std::getenv("TIDINGS_ADMIN_SECRET"))
      o.secret = env;
  if (words.empty() || o.host.empty()) {
    std::cerr << "tidings-inspect: need --node=HOST:PORT and a COMMAND (see --help)\n";
    return exit_usage;
  }
  o.command = words.front();
  o.args.assign(words.begin() + 1, words.end());
  static const std::vector<std::string> commands{"nodes",  "actors", "user",   "inboxes", "ring",
                                                 "top",    "users",  "create", "disable", "enable",
                                                 "revoke", "delete", "backup"};
  if (std::find(commands.begin(), commands.end(), o.command) == commands.end()) {
    std::cerr << "tidings-inspect: unknown command '" << o.command << "' (see --help)\n";
    return exit_usage;
  }
  static const std::vector<std::string> one_name{"user",   "create", "disable",
                                                 "enable", "revoke", "delete"};
  if (std::find(one_name.begin(), one_name.end(), o.command) != one_name.end() &&
      o.args.size() != 1) {
    std::cerr << "tidings-inspect: " << o.command << " needs one NAME\n";
    return exit_usage;
  }
  if (o.command == "backup" && o.args.size() != 1) {
    std::cerr << "tidings-inspect: backup needs one DIR (absolute, on the node's machine)\n";
    return exit_usage;
  }
  if (o.command == "delete" && !o.yes) {
    std::cerr << "tidings-inspect: delete removes " << o.args[0]
              << "'s account and data for good: add --yes\n";
    return exit_usage;
  }
  if (o.timeout_s == 0)
    o.timeout_s = o.command == "backup" ? 600 : 20;
  if (o.command == "actors" || o.command == "inboxes")
    o.args = {std::to_string(o.top)};
  if (o.command == "users")
    o.args = {o.after, o.limit.empty() ? std::string{"100"} : o.limit};
  if (o.command == "create") {
    std::string password;
    if (!o.password_file.empty()) {
      std::ifstream in{o.password_file};
      if (!in || !std::getline(in, password)) {
        std::cerr << "tidings-inspect: cannot read a password from " << o.password_file << "\n";
        return exit_usage;
      }
    } else if (!std::getline(std::cin, password)) {
      std::cerr << "tidings-inspect: create reads the password from standard input\n";
      return exit_usage;
    }
    o.args.push_back(password);
  }
  return std::nullopt;
}

struct inspect_config : caf::actor_system_config {
  inspect_config() {
    set("scheduler.max-threads", 2);
    set("logger.console", caf::atom("none"));
    set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(5)});
  }
};

/// Asks the admin actor; returns the JSON text, or prints why not and returns nothing.
std::optional<std::string> ask(caf::actor_system& sys, const tidings::admin_api& admin,
                               const options& o) {
  caf::scoped_actor self{sys};
  std::optional<std::string> answer;
  self->request(admin, std::chrono::seconds(o.timeout_s), tidings::atom::admin::value, o.secret,
                o.command, o.args)
      .receive([&](const std::string& doc) { answer = doc; },
               [&](const caf::error& err) {
                 std::string why;
                 if (err.category() == tidings::error_category) {
                   auto code = static_cast<tidings::errc>(err.code());
                   why = std::string{tidings::to_string(code)};
                   if (!err.context().empty() && err.context().match_element<std::string>(0))
                     why += ": " + err.context().get_as<std::string>(0);
                 } else {
                   why = sys.render(err);
                 }
                 std::cerr << "tidings-inspect: refused: " << why << "\n";
               });
  return answer;
}

void render(const options& o, const json& doc) {
  if (o.command == "nodes")
    print_nodes(doc, std::cout);
  else if (o.command == "actors")
    print_actors(doc, std::cout);
  else if (o.command == "user")
    print_user(doc, std::cout);
  else if (o.command == "inboxes")
    print_inboxes(doc, std::cout);
  else if (o.command == "ring")
    print_ring(doc, std::cout);
  else if (o.command == "users")
    print_users(doc, std::cout);
  else if (o.command == "delete")
    print_delete(doc, std::cout);
  else if (o.command == "backup")
    print_backup(doc, std::cout);
  else if (o.command != "top")
    print_change(doc, std::cout);
  else
    print_top(doc, std::cout);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (auto status = parse(argc, argv, o))
    return *status;
  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGPIPE, SIG_IGN);
  inspect_config cfg;
  tidings::register_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto admin = sys.middleman().remote_actor<tidings::admin_api>(o.host, o.port);
  if (!admin) {
    std::cerr << "tidings-inspect: cannot reach the admin port " << o.host << ":" << o.port << ": "
              << sys.render(admin.error()) << "\n";
    return exit_failed;
  }
  bool repeat = o.command == "top" && !o.once;
  do {
    auto text = ask(sys, *admin, o);
    if (!text)
      return exit_failed;
    auto doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) {
      std::cerr << "tidings-inspect: the node answered something that is not JSON\n";
      return exit_failed;
    }
    if (o.json) {
      std::cout << (o.command == "top" ? doc.dump() : doc.dump(2)) << std::endl;
    } else {
      if (repeat)
        std::cout << "\033[H\033[2J"; // clear the terminal: one frame a second, like top
      render(o, doc);
      std::cout.flush();
    }
    for (int i = 0; repeat && i < 10 && !interrupted; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the refresh period
  } while (repeat && !interrupted);
  return exit_ok;
}
