#include "config/ini_file.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>
#include <utility>

#include <caf/detail/parser/read_ini.hpp>
#include <caf/parser_state.hpp>
#include <caf/pec.hpp>

namespace tidings::config {

namespace {

class list_consumer;
class dict_consumer;

using text_iterator = std::string::const_iterator;

/// Where the parser is, counted from the text itself: CAF's parser_state counts a line break
/// as part of the next line once it stands on it, and columns from 2 after the first line.
struct locator {
  const std::string* text;
  const text_iterator* at;
  int line() const { return 1 + static_cast<int>(std::count(text->begin(), *at, '\n')); }
  int column() const {
    auto start = std::string_view{*text}.substr(0, static_cast<std::size_t>(*at - text->begin()));
    return static_cast<int>(start.size() - (start.rfind('\n') + 1)) + 1;
  }
};

/// What every consumer of CAF's INI parser offers: values, lists and maps.
class value_consumer {
public:
  explicit value_consumer(value_consumer* parent) : parent_(parent) {}
  virtual ~value_consumer() = default;
  virtual void put(caf::config_value&& x) = 0;
  template <class T> void value(T&& x) { put(caf::config_value{std::forward<T>(x)}); }
  list_consumer begin_list();

protected:
  value_consumer* parent_;
};

/// `[a, b, …]`: hands the list to its parent at the end.
class list_consumer : public value_consumer {
public:
  using value_consumer::value_consumer;
  void put(caf::config_value&& x) override { xs_.emplace_back(std::move(x)); }
  void end_list() { parent_->put(caf::config_value{std::move(xs_)}); }
  dict_consumer begin_map();

private:
  caf::config_value::list xs_;
};

/// `{ k = v, … }` inside a list: hands the dictionary to its parent at the end.
class dict_consumer : public value_consumer {
public:
  using value_consumer::value_consumer;
  void key(std::string name) { key_ = std::move(name); }
  void put(caf::config_value&& x) override { xs_.insert_or_assign(key_, std::move(x)); }
  void end_map() { parent_->put(caf::config_value{std::move(xs_)}); }
  dict_consumer begin_map() { return dict_consumer{this}; }

private:
  std::string key_;
  caf::config_value::dictionary xs_;
};

list_consumer value_consumer::begin_list() {
  return list_consumer{this};
}

dict_consumer list_consumer::begin_map() {
  return dict_consumer{this};
}

/// A section (or a map value in one): records each key with its line, flattening nested maps
/// into dotted keys.
class section_consumer : public value_consumer {
public:
  section_consumer(std::string prefix, const locator* where, ini_contents* out)
      : value_consumer(nullptr), prefix_(std::move(prefix)), where_(where), out_(out) {}
  void key(std::string name) {
    key_ = prefix_.empty() ? std::move(name) : prefix_ + "." + name;
    key_line_ = where_->line();
  }
  void put(caf::config_value&& x) override {
    out_->entries.push_back({key_, key_line_, std::move(x)});
  }
  section_consumer begin_map() { return section_consumer{key_, where_, out_}; }
  void end_map() {}

private:
  std::string prefix_;
  std::string key_;
  int key_line_ = 0;
  const locator* where_;
  ini_contents* out_;
};

/// The top level: section headers.
class file_consumer {
public:
  file_consumer(const locator* where, ini_contents* out) : where_(where), out_(out) {}
  void key(std::string name) {
    name_ = std::move(name);
    out_->sections.push_back({name_, where_->line()});
  }
  section_consumer begin_map() {
    return section_consumer{name_ == "global" ? std::string{} : name_, where_, out_};
  }

private:
  std::string name_;
  const locator* where_;
  ini_contents* out_;
};

std::string describe(caf::pec code) {
  switch (code) {
  case caf::pec::unexpected_eof:
    return "the file ends inside a value";
  case caf::pec::unexpected_character:
    return "unexpected character";
  case caf::pec::unexpected_newline:
    return "a line break inside a string";
  case caf::pec::illegal_escape_sequence:
    return "an unknown escape sequence in a string";
  case caf::pec::integer_overflow:
  case caf::pec::integer_underflow:
    return "a number out of range";
  case caf::pec::trailing_character:
    return "unexpected characters after the value";
  default: {
    auto text = caf::to_string(code);
    std::replace(text.begin(), text.end(), '_', ' ');
    return text;
  }
  }
}

} // namespace

/// Where `text` holds a duration (digits then ns, us, ms, s, min or h, outside strings and
/// comments) too long for 64-bit nanoseconds, as 1-based line and column; {0, 0} if none.
/// CAF's duration reader (header code, compiled into this file) multiplies the number by its
/// unit unchecked: such a value is signed overflow, undefined behaviour (found by the `config`
/// fuzz target, fuzz/regressions/config). So they are refused before CAF reads the text.
std::pair<int, int> oversized_duration(const std::string& text) {
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  int line = 1;
  int column = 1;
  bool in_string = false;
  bool in_comment = false;
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
  };
  for (std::size_t i = 0; i < text.size(); ++i, ++column) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      column = 0;
      in_comment = false;
      in_string = false; // CAF refuses a line break in a string anyway
      continue;
    }
    if (in_comment)
      continue;
    if (in_string) {
      if (c == '\\')
        ++i, ++column;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c == ';' || c == '#') {
      in_comment = true;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) == 0 || (i > 0 && is_word(text[i - 1])))
      continue;
    auto start = i;
    auto start_column = column;
    while (i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) != 0)
      ++i, ++column;
    auto unit = std::string_view{text}.substr(i + 1, 3);
    int64_t factor = 0;
    if (unit.substr(0, 3) == "min")
      factor = 60'000'000'000;
    else if (unit.substr(0, 2) == "ns")
      factor = 1;
    else if (unit.substr(0, 2) == "us")
      factor = 1'000;
    else if (unit.substr(0, 2) == "ms")
      factor = 1'000'000;
    else if (unit.substr(0, 1) == "s")
      factor = 1'000'000'000;
    else if (unit.substr(0, 1) == "h")
      factor = 3'600'000'000'000;
    if (factor == 0)
      continue;
    int64_t value = 0;
    bool fits = true;
    for (auto k = start; k <= i && fits; ++k) {
      auto digit = text[k] - '0';
      fits = value <= (max - digit) / 10;
      value = fits ? value * 10 + digit : value;
    }
    if (!fits || value > max / factor)
      return {line, start_column};
  }
  return {0, 0};
}

ini_contents read_ini_text(const std::string& text) {
  ini_contents out;
  if (auto [line, column] = oversized_duration(text); line > 0) {
    out.error_line = line;
    out.error_column = column;
    out.syntax_error = "a duration too long (more than 64-bit nanoseconds)";
    return out;
  }
  caf::parser_state<text_iterator> ps{text.begin(), text.end()};
  locator where{&text, &ps.i};
  file_consumer consumer{&where, &out};
  caf::detail::parser::read_ini(ps, consumer);
  if (ps.i != ps.e) {
    out.error_line = where.line();
    out.error_column = where.column();
    out.syntax_error = describe(ps.code);
    if (ps.code == caf::pec::unexpected_character && ps.i != ps.e) {
      auto ch = *ps.i;
      out.syntax_error +=
          ch == '\n' ? std::string{" (a line break)"} : std::string{" '"} + ch + "'";
    }
  }
  return out;
}

} // namespace tidings::config
