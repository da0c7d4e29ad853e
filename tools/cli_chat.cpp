// `tidings-cli chat USER`: one conversation in one process, the way a person uses a chat app.
//
// One thread waits with poll() on the keyboard and on the session's socket. The screen is the
// conversation scrolling upwards with two lines kept at the bottom: a status line (the peer's
// presence, the connection) and the line being typed. Whatever arrives is printed above them,
// after which they are drawn again; when stdin or stdout is not a terminal, lines are read and
// printed plainly and status changes become lines of their own.
//
// Sending: each line typed becomes a `send` with a fresh cid (its request id is the cid), kept
// in the outbox until its `sent` arrives; `rate_limited`, `overloaded` and `unavailable` are
// retried after their retry_ms, other errors drop the line with a message. When the session
// ends for a reason worth another try (a node restart: 1001, a lost connection), the chat opens
// a new one with backoff (see session_link) and sends the whole outbox again with the same cids:
// the node answers repeats with the first `sent`, so nothing is delivered twice. Lines typed while
// disconnected wait in the outbox.
//
// Receiving: items are shown once (repeats after a reconnect are dropped by repeat_key) and
// acknowledged; messages from the peer are reported read at once (the conversation is on
// screen). Receipts name the texts of the messages they are about (kept for the last
// remembered_texts of this user's messages, including `sent_copy` items from their other
// devices, which show as their own lines).
//
// Quitting: Ctrl-C (or SIGTERM) at once; Ctrl-D or the end of stdin waits up to --timeout for
// the outbox to empty. Exit status 1 if lines were left unsent.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <poll.h>
#include <unistd.h>

#include "tools/cli_commands.hpp"
#include "tools/line_editor.hpp"

namespace tidings::cli {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t remembered_texts = 10000;
constexpr std::size_t quoted_columns = 60;
constexpr auto longest_wait = 1s; // poll at least this often (countdowns on the status line)

// "HH:MM" of a frame's ts (local time).
std::string short_time(const json& frame) {
  auto full = format_ts(frame);
  return full.size() == 19 ? full.substr(11, 5) : full;
}

std::string in_quotes(const std::string& text) {
  auto shown = fit_columns(printable(text), quoted_columns, false);
  return "\"" + shown + (shown.size() < text.size() ? "…" : "") + "\"";
}

std::string millis_text(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(ms.count()) / 1000 << " s";
  return out.str();
}

class chat {
public:
  chat(const options& opts, std::string peer)
      : opts_(opts), peer_(std::move(peer)), link_(opts, true),
        terminal_(::isatty(STDOUT_FILENO) != 0 ? STDIN_FILENO : -1),
        interactive_(terminal_.active()) {
    // nop
  }

  int run();

private:
  struct outgoing {
    std::string cid;
    std::string text;
    bool in_flight = false;
    clock::time_point not_before;
  };

  // -- screen --
  void show(const std::string& line);
  void clear_bottom();
  void draw_bottom();
  std::string status_text() const;
  void set_status(std::string connection);

  // -- network --
  void connect_if_due();
  void on_connected();
  void on_closed();
  void receive_all();
  void on_frame(const json& f);
  void on_item(const std::string& type, const json& item);
  void on_sent(const json& reply);
  void on_error(const json& error);
  void send(const json& frame);
  void flush_outbox();
  void remember(const std::string& mid, const std::string& text);
  std::string device_name(const std::string& id);
  void load_devices();

  // -- keyboard --
  void read_keys();
  void on_line(std::string text);
  clock::time_point next_wakeup() const;

  const options& opts_;
  std::string peer_;
  session_link link_;
  raw_terminal terminal_;
  bool interactive_;
  std::optional<client::ws_client> ws_;
  line_editor editor_;
  bool drawn_ = false;
  bool stdin_open_ = true;
  bool quitting_ = false; // Ctrl-D: leave once the outbox is empty
  clock::time_point quit_deadline_;
  std::string me_;
  std::string my_device_;
  std::string peer_name_;
  std::string presence_ = "…";
  std::string connection_ = "connecting";
  std::deque<outgoing> outbox_;
  std::map<std::string, std::string> texts_; // mid -> text of this user's messages
  std::deque<std::string> text_order_;
  std::set<std::string> seen_;
  std::map<std::string, std::string> devices_; // id -> name
  std::set<std::string> looked_up_;            // device ids not known at first, asked for once
  clock::time_point last_sent_ = clock::now();
  int status_ = exit_ok;
};

// -- screen ------------------------------------------------------------------

void chat::show(const std::string& line) {
  clear_bottom();
  std::cout << line << "\n";
  draw_bottom();
}

void chat::clear_bottom() {
  if (!drawn_)
    return;
  std::cout << "\r\x1b[2K\x1b[1A\r\x1b[2K";
  drawn_ = false;
}

void chat::draw_bottom() {
  if (!interactive_) {
    std::cout << std::flush;
    return;
  }
  auto columns = static_cast<std::size_t>(std::max(terminal_.columns(), 20));
  std::cout << "\x1b[7m" << fit_columns(status_text(), columns - 1, false) << "\x1b[0m\n"
            << "> " << fit_columns(editor_.text(), columns - 3, true) << std::flush;
  drawn_ = true;
}

std::string chat::status_text() const {
  std::string who = printable(peer_);
  if (!peer_name_.empty())
    who += " (" + printable(peer_name_) + ")";
  auto text = " " + who + " · " + presence_ + " · " + connection_;
  if (!outbox_.empty())
    text += " · " + std::to_string(outbox_.size()) + " unsent";
  return text + " ";
}

void chat::set_status(std::string connection) {
  if (connection == connection_)
    return;
  connection_ = std::move(connection);
  if (interactive_) {
    clear_bottom();
    draw_bottom();
  } else {
    std::cout << "[status] " << connection_ << std::endl;
  }
}

// -- network -----------------------------------------------------------------

void chat::connect_if_due() {
  if (ws_ || clock::now() < link_.next_attempt())
    return;
  std::string why;
  ws_ = link_.attempt(why);
  if (ws_) {
    on_connected();
    return;
  }
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(link_.next_attempt() - clock::now());
  set_status("offline (" + why + "); retrying in " + millis_text(left));
}

void chat::on_connected() {
  me_ = link_.user();
  last_sent_ = clock::now();
  for (auto& out : outbox_)
    out.in_flight = false;
  set_status("connected");
  send({{"type", "presence_sub"}, {"users", json::array({peer_})}});
  send({{"type", "presence_get"}, {"id", "presence"}, {"user", peer_}});
  if (peer_name_.empty())
    send({{"type", "profile_get"}, {"id", "profile"}, {"user", peer_}});
  flush_outbox();
}

void chat::on_closed() {
  auto code = ws_->close_code();
  ws_.reset();
  if (!worth_reconnecting(code)) {
    clear_bottom();
    print_error("connection closed by the server (" + describe_close(code) + ")");
    status_ = exit_failed;
    throw reported_failure{exit_failed};
  }
  auto delay = link_.back_off();
  set_status("disconnected (" + describe_close(code) + "); reconnecting in " + millis_text(delay));
}

void chat::send(const json& frame) {
  if (!ws_ || ws_->closed())
    return;
  try {
    ws_->send(frame);
    last_sent_ = clock::now();
  } catch (const std::runtime_error&) {
    // The read side sees the close; on_closed() follows.
  }
}

void chat::receive_all() {
  while (ws_) {
    std::optional<json> frame;
    try {
      frame = ws_->receive(0ms);
    } catch (const std::runtime_error& e) {
      show("[error] " + printable(e.what()));
      continue;
    }
    if (frame) {
      on_frame(*frame);
      continue;
    }
    if (ws_->closed())
      on_closed();
    return;
  }
}

void chat::on_frame(const json& f) {
  auto type = string_field(f, "type");
  if (type == "msg" || type == "receipt" || type == "sent_copy") {
    on_item(type, f);
  } else if (type == "sent") {
    on_sent(f);
  } else if (type == "error") {
    on_error(f);
  } else if (type == "presence" && string_field(f, "user") == peer_) {
    if (f.value("online", false))
      presence_ = "online";
    else if (auto seen = f.find("last_seen"); seen != f.end() && seen->is_number_integer())
      presence_ = "last seen " + format_ts(json{{"ts", *seen}}).substr(0, 16);
    else
      presence_ = "offline";
    if (!interactive_)
      std::cout << "[presence] " << printable(peer_) << " " << presence_ << "\n";
    clear_bottom();
    draw_bottom();
  } else if (type == "profile" && string_field(f, "user") == peer_) {
    peer_name_ = string_field(f, "name");
    clear_bottom();
    draw_bottom();
  }
  // welcome, ok, pong: nothing to show
}

void chat::on_item(const std::string& type, const json& item) {
  bool fresh = seen_.insert(repeat_key(type, item)).second;
  auto when = "[" + short_time(item) + "] ";
  if (fresh && type == "msg") {
    auto from = string_field(item, "from");
    if (from == peer_)
      show(when + printable(from) + ": " + describe_content(item));
    else
      show(when + printable(from) + " (another chat): " + describe_content(item));
  } else if (fresh && type == "sent_copy") {
    remember(string_field(item, "mid"), string_field(item, "body"));
    auto to = string_field(item, "to");
    show(when + "you (" + device_name(string_field(item, "device")) + ")" +
         (to == peer_ ? "" : " to " + printable(to)) + ": " + describe_content(item));
  } else if (fresh) {
    auto status = string_field(item, "status");
    auto by = string_field(item, "by");
    std::string tick = status == "read"        ? "✓✓ read"
                       : status == "delivered" ? "✓✓ delivered"
                                               : printable(status);
    std::string texts;
    for (auto& mid : item.value("mids", json::array())) {
      auto m = mid.is_string() ? mid.get<std::string>() : mid.dump();
      auto known = texts_.find(m);
      texts += (texts.empty() ? " " : ", ") +
               (known != texts_.end() ? in_quotes(known->second) : "message " + printable(m));
    }
    show("  " + tick + (by == peer_ ? "" : " by " + printable(by)) + texts);
  }
  if (auto seq = item.find("seq"); seq != item.end() && seq->is_number_unsigned())
    send({{"type", "ack"}, {"upto", *seq}});
  if (fresh && type == "msg" && string_field(item, "from") == peer_)
    send({{"type", "read"}, {"from", peer_}, {"mids", json::array({string_field(item, "mid")})}});
}

void chat::on_sent(const json& reply) {
  auto cid = string_field(reply, "cid");
  for (auto i = outbox_.begin(); i != outbox_.end(); ++i) {
    if (i->cid != cid)
      continue;
    auto text = std::move(i->text);
    outbox_.erase(i);
    remember(string_field(reply, "mid"), text);
    show("  ✓ sent " + in_quotes(text));
    return;
  }
}

void chat::on_error(const json& error) {
  auto id = string_field(error, "id");
  auto code = string_field(error, "code");
  auto message = printable(string_field(error, "message"));
  if (id == "presence" || id == "profile") {
    if (code == "not_found") {
      clear_bottom();
      print_error("no user '" + printable(peer_) + "' on this node");
      throw reported_failure{exit_failed};
    }
    if (id == "presence")
      presence_ = "presence unknown (" + code + ")";
    clear_bottom();
    draw_bottom();
    return;
  }
  for (auto i = outbox_.begin(); i != outbox_.end(); ++i) {
    if (i->cid != id)
      continue;
    if (code == "rate_limited" || code == "overloaded" || code == "unavailable") {
      i->in_flight = false;
      i->not_before = clock::now() + std::chrono::milliseconds{error.value("retry_ms", 1000)};
      return;
    }
    show("  ✗ not sent " + in_quotes(i->text) + ": " + code + ": " + message);
    outbox_.erase(i);
    status_ = exit_failed;
    return;
  }
  show("[error] " + code + ": " + message);
}

void chat::flush_outbox() {
  auto now = clock::now();
  for (auto& out : outbox_) {
    if (out.in_flight || now < out.not_before || !ws_)
      continue;
    out.in_flight = true;
    send({{"type", "send"},
          {"id", out.cid},
          {"cid", out.cid},
          {"to", peer_},
          {"kind", "text"},
          {"body", out.text}});
  }
}

void chat::remember(const std::string& mid, const std::string& text) {
  if (mid.empty() || !texts_.emplace(mid, text).second)
    return;
  text_order_.push_back(mid);
  if (text_order_.size() > remembered_texts) {
    texts_.erase(text_order_.front());
    text_order_.pop_front();
  }
}

void chat::load_devices() {
  try {
    auto res = client::http_call(endpoint_of(opts_), "GET", "/v1/devices", {}, "application/json",
                                 read_token(opts_), opts_.timeout);
    if (res.status != 200)
      return;
    for (auto& d : res.json_body().value("devices", json::array())) {
      auto id = string_field(d, "id");
      auto name =
          d["name"].is_string() ? printable(d["name"].get<std::string>()) : std::string{"no name"};
      devices_[id] = name;
      if (d.value("current", false))
        my_device_ = name;
    }
  } catch (const std::runtime_error&) {
    // Names are a nicety: without them devices show by number.
  }
}

std::string chat::device_name(const std::string& id) {
  if (devices_.count(id) == 0 && looked_up_.insert(id).second)
    load_devices(); // a device linked since chat started
  auto i = devices_.find(id);
  return i != devices_.end() ? i->second : "device " + printable(id);
}

// -- keyboard ----------------------------------------------------------------

void chat::read_keys() {
  char buf[512];
  auto n = ::read(STDIN_FILENO, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return;
  if (n <= 0) {
    stdin_open_ = false;
    if (!editor_.text().empty())
      on_line(editor_.take());
    quitting_ = true;
    quit_deadline_ = clock::now() + opts_.timeout;
    return;
  }
  bool redraw = false;
  for (ssize_t i = 0; i < n; ++i) {
    auto c = buf[i];
    if (!interactive_ && c == '\n' && editor_.text().empty())
      continue;
    switch (editor_.feed(c)) {
    case line_editor::result::line:
      on_line(editor_.take());
      redraw = false;
      break;
    case line_editor::result::quit:
      if (c == 0x03) // Ctrl-C
        interrupted = true;
      quitting_ = true;
      quit_deadline_ = clock::now() + opts_.timeout;
      return;
    case line_editor::result::edited:
      redraw = true;
      break;
    case line_editor::result::nothing:
      break;
    }
  }
  if (redraw && interactive_) {
    clear_bottom();
    draw_bottom();
  }
}

void chat::on_line(std::string text) {
  outbox_.push_back({random_cid(), text, false, clock::now()});
  show("[" +
       short_time(json{{"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()}}) +
       "] you: " + printable(text));
  flush_outbox();
}

clock::time_point chat::next_wakeup() const {
  auto at = clock::now() + longest_wait;
  if (!ws_)
    at = std::min(at, link_.next_attempt());
  else
    at = std::min(at, last_sent_ + keepalive_interval);
  for (auto& out : outbox_)
    if (!out.in_flight)
      at = std::min(at, out.not_before);
  if (quitting_)
    at = std::min(at, quit_deadline_);
  return at;
}

int chat::run() {
  load_devices();
  auto device = my_device_.empty() ? std::string{} : " on device '" + my_device_ + "'";
  show("chat with " + printable(peer_) + device +
       (interactive_ ? " — Enter sends, Ctrl-D quits" : ""));
  if (my_device_ == "no name")
    show("(this token is your unnamed device: `login --device=NAME` lets chat run beside "
         "`listen` or your other devices)");
  while (!interrupted) {
    if (quitting_ && (outbox_.empty() || clock::now() >= quit_deadline_))
      break;
    connect_if_due();
    receive_all();
    if (ws_) {
      flush_outbox();
      if (clock::now() - last_sent_ >= keepalive_interval)
        send({{"type", "ping"}});
      receive_all(); // what the sends above let in
    }
    pollfd fds[2]{{stdin_open_ && !quitting_ ? STDIN_FILENO : -1, POLLIN, 0},
                  {ws_ ? ws_->native_handle() : -1, POLLIN, 0}};
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_wakeup() - clock::now());
    auto ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      read_keys();
  }
  clear_bottom();
  std::cout << std::flush;
  if (ws_ && !ws_->closed())
    ws_->close();
  if (!outbox_.empty()) {
    print_error(std::to_string(outbox_.size()) + " message(s) not sent:");
    for (auto& out : outbox_)
      std::cerr << "  " << in_quotes(out.text) << std::endl;
    return exit_failed;
  }
  return status_;
}

} // namespace

int cmd_chat(const options& opts) {
  chat session{opts, opts.args[1]};
  return session.run();
}

} // namespace tidings::cli
