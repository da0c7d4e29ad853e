#pragma once
// event_log: the node's log, one line per event (docs/OPERATIONS.md, "Logs").
//
// Lines: `TIME LEVEL message key=value ...` (text) or one JSON object per line (`json`), each
// with a UTC timestamp and the connection or user it concerns. Never given a token or a
// password: callers pass names and codes only.
// Cheap when off: `enabled(level)` is a load of a constant, and fields are string views and
// integers, so nothing is formatted unless the line is written. Thread-safe: a line is
// formatted and written under one mutex (lines never interleave).
// Bounded: a token bucket (`rate` lines a second, `burst` at once) limits what a flood of
// events can write; suppressed lines are counted and the next line written says how many.
// `raw` lines (the start-up lines tests and scripts read: "listening on HOST:PORT") are
// written as given in text format, and are never suppressed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace tidings {

enum class log_level : uint8_t { error, warn, info, debug };

/// Parses `error`, `warn`, `info`, `debug`.
std::optional<log_level> parse_log_level(std::string_view text);
const char* to_string(log_level level);

/// One `key=value` of a line: a string or an integer, formatted only when written.
struct log_field {
  log_field(std::string_view k, std::string_view v) : key(k), text(v), is_text(true) {}
  log_field(std::string_view k, const std::string& v) : key(k), text(v), is_text(true) {}
  log_field(std::string_view k, const char* v) : key(k), text(v), is_text(true) {}
  template <class Int, class = std::enable_if_t<std::is_integral_v<Int>>>
  log_field(std::string_view k, Int v) : key(k), number(static_cast<int64_t>(v)) {}
  std::string_view key;
  std::string_view text;
  int64_t number = 0;
  bool is_text = false;
};

struct log_options {
  log_level level = log_level::info;
  bool json = false;
  double rate = 200;           ///< lines per second, sustained
  double burst = 2000;         ///< lines at once
  std::ostream* out = nullptr; ///< default: std::cout
  /// Milliseconds since the epoch (tests inject it); default: the system clock.
  std::function<int64_t()> now;
};

class event_log {
public:
  explicit event_log(log_options opts = {});

  bool enabled(log_level level) const { return level <= opts_.level; }
  /// Writes one event line if `level` is enabled and the rate limit allows.
  void write(log_level level, std::string_view message,
             std::initializer_list<log_field> fields = {});
  void error(std::string_view m, std::initializer_list<log_field> f = {}) {
    if (enabled(log_level::error))
      write(log_level::error, m, f);
  }
  void warn(std::string_view m, std::initializer_list<log_field> f = {}) {
    if (enabled(log_level::warn))
      write(log_level::warn, m, f);
  }
  void info(std::string_view m, std::initializer_list<log_field> f = {}) {
    if (enabled(log_level::info))
      write(log_level::info, m, f);
  }
  void debug(std::string_view m, std::initializer_list<log_field> f = {}) {
    if (enabled(log_level::debug))
      write(log_level::debug, m, f);
  }
  /// A line read by scripts: as given in text format, an info event in JSON; never limited.
  void raw(std::string_view line);
  /// Lines dropped by the rate limit so far.
  uint64_t suppressed_total() const;

private:
  bool admit(int64_t now); ///< under mutex_
  void emit(log_level level, int64_t now, std::string_view message,
            std::initializer_list<log_field> fields); ///< under mutex_

  log_options opts_;
  /// While the bucket is empty: until when (ms), and lines dropped meanwhile without the lock,
  /// so a flood of events costs each thread a load and an add, not a wait for the mutex.
  std::atomic<int64_t> closed_until_{0};
  std::atomic<uint64_t> dropped_unlocked_{0};
  mutable std::mutex mutex_;
  double tokens_;
  int64_t tokens_at_ = 0;
  uint64_t suppressed_ = 0;       ///< since the last line written
  uint64_t suppressed_total_ = 0; ///< since start
};

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string iso_time(int64_t ms);

} // namespace tidings
