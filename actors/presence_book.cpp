#include "actors/presence_book.hpp"

namespace tidings {

void presence_book::seen(entry& e, int64_t now, bool urgent) {
  if (now > e.last_seen)
    e.last_seen = now;
  e.dirty = true;
  e.urgent = e.urgent || urgent;
}

namespace {

bool any_foreground(const std::map<std::string, bool>& sessions) {
  for (const auto& [key, foreground] : sessions)
    if (foreground)
      return true;
  return false;
}

} // namespace

bool presence_book::set_state(const std::string& user, const std::string& session, bool foreground,
                              int64_t now) {
  auto& e = entries_[user];
  bool was_online = e.online;
  auto [it, fresh] = e.sessions.try_emplace(session, false);
  bool was_foreground = !fresh && it->second;
  it->second = foreground;
  if (foreground)
    seen(e, now, false);
  else if (was_foreground)
    seen(e, now, true); // to the background: the end of this device's foreground use
  e.online = any_foreground(e.sessions);
  return was_online != e.online;
}

void presence_book::touch(const std::string& user, const std::string& session, int64_t now) {
  auto it = entries_.find(user);
  if (it == entries_.end())
    return;
  auto s = it->second.sessions.find(session);
  if (s == it->second.sessions.end() || !s->second)
    return; // ended, or in the background
  seen(it->second, now, false);
}

bool presence_book::end(const std::string& user, const std::string& session, int64_t now) {
  auto it = entries_.find(user);
  if (it == entries_.end())
    return false;
  auto& e = it->second;
  auto s = e.sessions.find(session);
  if (s == e.sessions.end())
    return false; // ended before
  if (s->second)
    seen(e, now, true);
  e.sessions.erase(s);
  bool was_online = e.online;
  e.online = any_foreground(e.sessions);
  return was_online != e.online;
}

void presence_book::load(const std::string& user, int64_t last_seen) {
  auto& e = entries_[user];
  if (last_seen > e.last_seen && !e.dirty)
    e.last_seen = last_seen;
}

const presence_book::entry* presence_book::find(const std::string& user) const {
  auto it = entries_.find(user);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, int64_t>> presence_book::due(int64_t now, int64_t interval,
                                                                bool all) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& [user, e] : entries_) {
    if (!e.dirty || !(all || e.urgent || e.persisted_at < 0 || now - e.persisted_at >= interval))
      continue;
    out.emplace_back(user, e.last_seen);
    e.dirty = false;
    e.urgent = false;
    e.persisted_at = now;
  }
  return out;
}

void presence_book::evict_idle() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.sessions.empty() && !it->second.dirty)
      it = entries_.erase(it);
    else
      ++it;
  }
}

} // namespace tidings
