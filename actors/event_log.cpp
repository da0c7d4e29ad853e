#include "actors/event_log.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>

namespace tidings {

namespace {

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

/// A text value: as is when it is one plain word, else quoted like JSON.
void text_value(std::string& out, std::string_view s) {
  bool plain = !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain)
    out += s;
  else
    json_string(out, s);
}

int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

std::optional<log_level> parse_log_level(std::string_view text) {
  for (auto l : {log_level::error, log_level::warn, log_level::info, log_level::debug})
    if (text == to_string(l))
      return l;
  return std::nullopt;
}

const char* to_string(log_level level) {
  switch (level) {
  case log_level::error:
    return "error";
  case log_level::warn:
    return "warn";
  case log_level::info:
    return "info";
  case log_level::debug:
    break;
  }
  return "debug";
}

std::string iso_time(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

event_log::event_log(log_options opts) : opts_(std::move(opts)), tokens_(opts_.burst) {
  if (opts_.out == nullptr)
    opts_.out = &std::cout;
  if (!opts_.now)
    opts_.now = system_ms;
}

bool event_log::admit(int64_t now) {
  if (tokens_at_ != 0)
    tokens_ = std::min(opts_.burst,
                       tokens_ + static_cast<double>(now - tokens_at_) * opts_.rate / 1000.0);
  tokens_at_ = now;
  if (tokens_ < 1.0) {
    ++suppressed_;
    ++suppressed_total_;
    // No line before the bucket holds one again: others drop theirs without the lock.
    closed_until_.store(now + static_cast<int64_t>((1.0 - tokens_) * 1000.0 / opts_.rate),
                        std::memory_order_relaxed);
    return false;
  }
  tokens_ -= 1.0;
  return true;
}

void event_log::write(log_level level, std::string_view message,
                      std::initializer_list<log_field> fields) {
  if (!enabled(level))
    return;
  auto now = opts_.now();
  if (now < closed_until_.load(std::memory_order_relaxed)) {
    dropped_unlocked_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> guard{mutex_};
  auto dropped = dropped_unlocked_.exchange(0, std::memory_order_relaxed);
  suppressed_ += dropped;
  suppressed_total_ += dropped;
  if (!admit(now))
    return;
  if (suppressed_ > 0) {
    auto n = suppressed_;
    suppressed_ = 0;
    emit(log_level::warn, now, "log lines suppressed by the rate limit",
         {{"suppressed", n}, {"rate", static_cast<int64_t>(opts_.rate)}});
  }
  emit(level, now, message, fields);
}

void event_log::raw(std::string_view line) {
  auto now = opts_.now();
  std::lock_guard<std::mutex> guard{mutex_};
  if (opts_.json)
    return emit(log_level::info, now, line, {});
  *opts_.out << line << std::endl;
}

uint64_t event_log::suppressed_total() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return suppressed_total_ + dropped_unlocked_.load(std::memory_order_relaxed);
}

void event_log::emit(log_level level, int64_t now, std::string_view message,
                     std::initializer_list<log_field> fields) {
  std::string line;
  line.reserve(128);
  if (opts_.json) {
    line += "{\"ts\":";
    json_string(line, iso_time(now));
    line += ",\"level\":\"";
    line += to_string(level);
    line += "\",\"msg\":";
    json_string(line, message);
    for (const auto& f : fields) {
      line += ',';
      json_string(line, f.key);
      line += ':';
      if (f.is_text)
        json_string(line, f.text);
      else
        line += std::to_string(f.number);
    }
    line += '}';
  } else {
    line += iso_time(now);
    line += ' ';
    std::string lvl = to_string(level);
    lvl.resize(5, ' ');
    line += lvl;
    line += ' ';
    line += message;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      if (f.is_text)
        text_value(line, f.text);
      else
        line += std::to_string(f.number);
    }
  }
  *opts_.out << line << std::endl;
}

} // namespace tidings
