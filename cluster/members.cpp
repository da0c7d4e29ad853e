#include "cluster/members.hpp"

#include <algorithm>
#include <charconv>

namespace tidings::cluster {

namespace {

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> ids_of(const std::string& self, const std::vector<member>& peers) {
  std::vector<std::string> out{self};
  for (const auto& p : peers)
    out.push_back(p.id);
  return out;
}

std::vector<member> without(const std::string& self, std::vector<member> peers) {
  peers.erase(
      std::remove_if(peers.begin(), peers.end(), [&](const member& m) { return m.id == self; }),
      peers.end());
  return peers;
}

} // namespace

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 32)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::optional<std::vector<member>> parse_peers(std::string_view text, std::string* error) {
  std::vector<member> out;
  while (!trim(text).empty()) {
    auto comma = text.find(',');
    auto entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto fail = [&](const std::string& why) {
      *error = "bad cluster peer '" + std::string{entry} + "': " + why + " (expected ID@HOST:PORT)";
      return std::nullopt;
    };
    auto at = entry.find('@');
    auto colon = entry.rfind(':');
    if (at == std::string_view::npos || colon == std::string_view::npos || colon < at)
      return fail("missing '@' or ':'");
    member m;
    m.id = std::string{entry.substr(0, at)};
    m.host = std::string{entry.substr(at + 1, colon - at - 1)};
    auto port = entry.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (!valid_node_id(m.id))
      return fail("node ids are 1-32 characters of [a-z0-9_-]");
    if (m.host.empty())
      return fail("empty host");
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return fail("port must be 1-65535");
    m.port = static_cast<uint16_t>(value);
    for (const auto& other : out)
      if (other.id == m.id)
        return fail("node id listed twice");
    out.push_back(std::move(m));
  }
  return out;
}

view::view(std::string self, std::vector<member> peers, std::vector<std::string> previous,
           std::map<std::string, std::vector<std::string>> received)
    : self_(std::move(self)), peers_(without(self_, std::move(peers))),
      ring_(ids_of(self_, peers_)),
      changes_(self_, ids_of(self_, peers_), std::move(previous), std::move(received)) {
  settled_ = changes_.settled();
}

caf::actor view::gate(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = live_.find(id);
  return it == live_.end() ? caf::actor{} : it->second.gate;
}

void view::set_up(const std::string& id, caf::actor gate, int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mutex_};
  live_[id] = entry{std::move(gate), now_ms};
}

void view::set_down(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mutex_};
  live_[id] = entry{caf::actor{}, now_ms};
}

bool view::handoff_pending(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return handoff_.count(id) > 0;
}

void view::set_handoff_pending(const std::string& id, bool pending) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (pending)
    handoff_.insert(id);
  else
    handoff_.erase(id);
}

std::vector<std::string> view::previous() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return changes_.previous();
}

void view::heard(const std::string& id, std::vector<std::string> their_previous) {
  std::lock_guard<std::mutex> guard{mutex_};
  changes_.heard(id, std::move(their_previous));
  settled_ = changes_.settled();
}

void view::received(const std::string& id, std::vector<std::string> their_previous) {
  std::lock_guard<std::mutex> guard{mutex_};
  changes_.received(id, std::move(their_previous));
  settled_ = changes_.settled();
}

void view::completed() {
  std::lock_guard<std::mutex> guard{mutex_};
  changes_.completed();
  settled_ = changes_.settled();
}

bool view::awaiting(std::string_view key) const {
  if (settled_.load(std::memory_order_acquire))
    return false;
  std::lock_guard<std::mutex> guard{mutex_};
  return changes_.awaiting(key);
}

transition view::changes() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return changes_;
}

std::vector<member_status> view::status() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<member_status> out;
  out.push_back({self_, "", true, 0});
  for (const auto& p : peers_) {
    member_status s{p.id, p.host + ":" + std::to_string(p.port), false, 0};
    if (auto it = live_.find(p.id); it != live_.end()) {
      s.up = static_cast<bool>(it->second.gate);
      s.since_ms = it->second.since_ms;
    }
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace tidings::cluster
