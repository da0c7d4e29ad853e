#include "cluster/transition.hpp"

#include <algorithm>

namespace tidings::cluster {

namespace {

std::vector<std::string> sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

} // namespace

std::string encode_members(std::vector<std::string> ids) {
  std::string out;
  for (const auto& id : sorted(std::move(ids)))
    out += (out.empty() ? "" : ",") + id;
  return out;
}

std::vector<std::string> decode_members(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    if (auto id = text.substr(0, comma); !id.empty())
      out.emplace_back(id);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return sorted(std::move(out));
}

transition::transition(std::string self, std::vector<std::string> configured,
                       std::vector<std::string> previous,
                       std::map<std::string, std::vector<std::string>> received)
    : self_(std::move(self)), configured_(std::move(configured)),
      previous_(sorted(std::move(previous))), before_(previous_) {
  for (auto& [peer, list] : received)
    received_[peer] = sorted(std::move(list));
  refresh();
}

void transition::heard(const std::string& peer, std::vector<std::string> their_previous) {
  heard_[peer] = sorted(std::move(their_previous));
  refresh();
}

void transition::received(const std::string& peer, std::vector<std::string> their_previous) {
  received_[peer] = sorted(std::move(their_previous));
  refresh();
}

void transition::completed() {
  previous_ = configured_.members();
  before_ = placement{previous_};
  refresh();
}

void transition::refresh() {
  // The list of an old cluster this node joins, as a peer said it (any one: they are equal
  // once every member completed the last change).
  const std::vector<std::string>* old = nullptr;
  for (const auto& [peer, list] : heard_)
    if (!list.empty() && !contains(list, self_))
      old = &list;
  expected_.clear();
  for (const auto& peer : configured_.members()) {
    if (peer == self_)
      continue;
    expectation e;
    if (auto it = heard_.find(peer); it != heard_.end()) {
      e.known = true;
      e.list = it->second;
    } else if (!previous_.empty()) {
      e.known = true; // a member already: nothing comes that it would not say
    } else if (old != nullptr) {
      e.known = true; // joining: an old member has the old list, a new one none
      if (contains(*old, peer))
        e.list = *old;
    }
    if (awaits(peer, e.list))
      e.ring = placement{e.list};
    expected_.emplace(peer, std::move(e));
  }
}

bool transition::awaits(const std::string& peer,
                        const std::vector<std::string>& their_previous) const {
  if (their_previous.empty() || contains(their_previous, self_))
    return false;
  auto done = received_.find(peer);
  return done == received_.end() || done->second != their_previous;
}

bool transition::awaiting(std::string_view key) const {
  if (configured_.home(key) != self_)
    return false;
  for (const auto& [peer, e] : expected_)
    if (!e.known || (awaits(peer, e.list) && e.ring.home(key) == peer))
      return true;
  return false;
}

bool transition::settled() const {
  return awaited().empty();
}

std::vector<std::string> transition::awaited() const {
  std::vector<std::string> out;
  for (const auto& [peer, e] : expected_)
    if (!e.known || awaits(peer, e.list))
      out.push_back(peer);
  return out;
}

std::vector<std::string> transition::owed() const {
  std::vector<std::string> out;
  if (previous_.empty())
    return out;
  for (const auto& m : configured_.members())
    if (!contains(previous_, m))
      out.push_back(m);
  return out;
}

std::vector<std::string> transition::removed() const {
  std::vector<std::string> out;
  for (const auto& m : previous_)
    if (!contains(configured_.members(), m))
      out.push_back(m);
  return out;
}

bool transition::moves(const placement& before, const placement& after, std::string_view key,
                       const std::string& from, const std::string& to) {
  return !before.members().empty() && before.home(key) == from && after.home(key) == to;
}

} // namespace tidings::cluster
