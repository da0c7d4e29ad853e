#pragma once
// A config file read with CAF 0.17's own INI grammar (the one actor_system_config reads), but
// keeping the line of every section and key, so errors can name them.
//
// CAF's reader stores what it reads and drops keys it does not know and values of the wrong
// type without a word; this one only reads: tool_config decides what each entry means.

#include <string>
#include <utility>
#include <vector>

#include <caf/config_value.hpp>

namespace tidings::config {

/// A `[section]` header ("global" also for keys before any header; `[a.b]` is named "a").
struct ini_section {
  std::string name;
  int line = 0;
};

/// One `key=value`: `key` is "section.name", or "name" for the global section (and for keys
/// before any header); a value `{ a=1 }` yields the entry "section.name.a".
struct ini_entry {
  std::string key;
  int line = 0;
  caf::config_value value;
};

struct ini_contents {
  std::vector<ini_section> sections;
  std::vector<ini_entry> entries;
  /// Empty when the text was read to its end; otherwise what is wrong, where, in words.
  std::string syntax_error;
  int error_line = 0;
  int error_column = 0;
};

/// Where `text` holds a duration (digits then ns, us, ms, s, min or h, outside strings and
/// comments) too long for 64-bit nanoseconds, as 1-based line and column; {0, 0} if none. CAF's
/// duration reader would multiply such a number unchecked (undefined behaviour): read_ini_text
/// and the command line refuse them first.
std::pair<int, int> oversized_duration(const std::string& text);

/// Reads `text` (the whole file).
ini_contents read_ini_text(const std::string& text);

} // namespace tidings::config
