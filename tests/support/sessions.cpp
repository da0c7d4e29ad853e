#include "tests/support/sessions.hpp"

#include <atomic>
#include <stdexcept>

#include <unistd.h>

namespace tidings::test {

namespace {

constexpr std::size_t max_user_length = 32;
constexpr const char* test_password = "correct-horse-battery";

std::string base36(unsigned long long value) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), digits[value % 36]);
    value /= 36;
  } while (value != 0);
  return out;
}

bool valid_user_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

std::string abbreviated(const json& frame) {
  auto text = frame.dump();
  return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}

} // namespace

std::string unique_user(std::string_view prefix) {
  static std::atomic<unsigned long long> counter{0};
  auto suffix = "_" + base36(static_cast<unsigned long long>(::getpid())) + "_" + base36(++counter);
  std::string name;
  for (char c : prefix) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    name += valid_user_char(c) ? c : '_';
  }
  if (name.empty())
    name = "u";
  if (name.size() + suffix.size() > max_user_length)
    name.resize(max_user_length - suffix.size());
  return name + suffix;
}

test_user make_user(const client::endpoint& ep, std::string_view prefix) {
  test_user user{unique_user(prefix), test_password, {}};
  client::register_user(ep, user.name, user.password);
  user.token = client::login(ep, user.name, user.password);
  return user;
}

client::ws_client open_session(const client::endpoint& ep, const std::string& token,
                               net::encoding enc, bool foreground,
                               std::chrono::milliseconds timeout) {
  client::ws_client ws{ep, enc};
  ws.connect({}, timeout);
  auto reply = ws.auth(token, foreground, timeout);
  if (reply.value("type", json{}) != "welcome")
    throw std::runtime_error("open_session: auth answered " + reply.dump());
  return ws;
}

json wait_for(client::ws_client& ws, const std::function<bool(const json&)>& pred,
              std::chrono::milliseconds timeout, std::vector<json>* skipped) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  std::size_t skipped_count = 0;
  std::vector<std::string> last_skipped;
  auto describe_skipped = [&] {
    std::string out = "; skipped " + std::to_string(skipped_count) + " frame(s)";
    for (auto& text : last_skipped)
      out += "\n  " + text;
    return out;
  };
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    auto frame = ws.receive(std::max(left, 0ms));
    if (frame) {
      if (pred(*frame))
        return std::move(*frame);
      ++skipped_count;
      last_skipped.push_back(abbreviated(*frame));
      if (last_skipped.size() > 5)
        last_skipped.erase(last_skipped.begin());
      if (skipped != nullptr)
        skipped->push_back(std::move(*frame));
      continue;
    }
    if (ws.closed())
      throw std::runtime_error("wait_for: connection closed (code " +
                               std::to_string(ws.close_code()) +
                               (ws.close_reason().empty() ? "" : ", " + ws.close_reason()) +
                               ") before a matching frame" + describe_skipped());
    if (clock::now() >= deadline)
      throw std::runtime_error("wait_for: no matching frame within " +
                               std::to_string(timeout.count()) + " ms" + describe_skipped());
  }
}

std::function<bool(const json&)> of_type(std::string type) {
  return [type = std::move(type)](const json& frame) {
    auto i = frame.find("type");
    return i != frame.end() && i->is_string() && i->get_ref<const std::string&>() == type;
  };
}

} // namespace tidings::test
