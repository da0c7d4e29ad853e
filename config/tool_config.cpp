#include "config/tool_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <caf/config_option.hpp>
#include <caf/settings.hpp>

#include "config/nearest.hpp"
#include "config/version.hpp"

namespace tidings::config {

namespace {

std::string str(caf::string_view s) {
  return std::string{s.data(), s.size()};
}

/// CAF's own options of the global category, which are the command line's, not settings.
bool is_meta(const caf::config_option& opt) {
  static const std::set<std::string> names{"help", "long-help", "dump-config", "config-file"};
  return opt.category() == "global" && names.count(str(opt.long_name())) > 0;
}

/// The key under which CAF keeps an option in `content`: "port" or "limits.rate".
std::string content_key(const caf::config_option& opt) {
  return opt.category() == "global" ? str(opt.long_name()) : str(opt.full_name());
}

/// The name on the command line: "--port", "--limits.rate".
std::string cli_name(const caf::config_option& opt) {
  return "--" + content_key(opt);
}

/// What a value of CAF type `type` looks like, in words.
std::string expected_form(caf::string_view type, bool in_file) {
  auto t = str(type);
  if (t == "boolean")
    return "true or false";
  if (t == "real64")
    return "a number, e.g. 50 or 0.5";
  if (t.rfind("uint", 0) == 0 || t.rfind("int", 0) == 0) {
    auto bits = t.substr(t[0] == 'u' ? 4 : 3);
    if (t[0] == 'u') {
      if (bits == "64")
        return "a whole number from 0 to 18446744073709551615";
      auto max = (uint64_t{1} << std::stoi(bits)) - 1;
      return "a whole number from 0 to " + std::to_string(max);
    }
    return "a whole number (" + t + ")";
  }
  if (t == "string")
    return in_file ? "text in double quotes, e.g. \"text\"" : "text";
  if (t == "atom")
    return in_file ? "a word of at most 10 characters in single quotes, e.g. 'sharing'"
                   : "a word of at most 10 characters";
  if (t == "timespan")
    return "a duration with its unit (ns, us, ms, s, min, h), e.g. 5s";
  if (t.rfind("list", 0) == 0)
    return "a list in brackets, e.g. [\"a\", \"b\"]";
  return "a " + t;
}

/// The placeholder after `--name=` in --help.
std::string placeholder(caf::string_view type) {
  auto t = str(type);
  if (t == "boolean")
    return "BOOL";
  if (t == "real64")
    return "NUM";
  if (t.rfind("uint", 0) == 0 || t.rfind("int", 0) == 0)
    return "N";
  if (t == "string")
    return "TEXT";
  if (t == "atom")
    return "WORD";
  if (t == "timespan")
    return "DURATION";
  if (t.rfind("list", 0) == 0)
    return "LIST";
  return "VALUE";
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
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
    case '\t':
      out += "\\t";
      break;
    default:
      out += c;
    }
  }
  return out + "\"";
}

/// A value as a config file writes it.
std::string ini_text(const caf::config_value& x) {
  if (auto s = caf::get_if<std::string>(&x))
    return quoted(*s);
  if (auto d = caf::get_if<double>(&x)) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, *d);
    return std::string{buf, res.ptr};
  }
  if (auto list = caf::get_if<caf::config_value::list>(&x)) {
    std::string out = "[";
    for (const auto& item : *list)
      out += (out.size() > 1 ? ", " : "") + ini_text(item);
    return out + "]";
  }
  return caf::to_string(x);
}

/// A value as --help shows a default: text without quotes, "(none)" when empty.
std::string help_text_of(const caf::config_value& x) {
  if (auto s = caf::get_if<std::string>(&x))
    return s->empty() ? "(none)" : *s;
  if (auto a = caf::get_if<caf::atom_value>(&x))
    return caf::to_string(*a);
  if (auto list = caf::get_if<caf::config_value::list>(&x); list && list->empty())
    return "(none)";
  return ini_text(x);
}

/// The line `line` (1-based) of `text`.
std::string line_of(const std::string& text, int line) {
  std::istringstream in{text};
  std::string out;
  for (int i = 0; i < line && std::getline(in, out); ++i) {
  }
  return out;
}

struct help_row {
  std::string left;
  std::string def;
  std::string text;
};

void print_rows(std::ostringstream& out, const std::string& title,
                const std::vector<help_row>& rows, std::size_t left_width, std::size_t def_width) {
  if (rows.empty())
    return;
  out << "\n" << title << ":\n";
  for (const auto& r : rows) {
    auto left = "  " + r.left;
    out << left << std::string(left.size() < left_width ? left_width - left.size() : 1, ' ');
    out << r.def << std::string(r.def.size() < def_width ? def_width - r.def.size() : 1, ' ');
    out << r.text << "\n";
  }
}

} // namespace

tool_config::tool_config(std::string tool, std::string summary, std::string usage)
    : tool_(std::move(tool)), summary_(std::move(summary)), usage_(std::move(usage)) {
  opt_group{custom_options_, "global"}.add<bool>("version",
                                                 "print the version and the commit, then exit");
}

caf::config_option_adder tool_config::section(const std::string& category, std::string title) {
  sections_.push_back({category, std::move(title)});
  return caf::config_option_adder{custom_options_, category};
}

void tool_config::show_caf_option(std::string key, std::string description) {
  shown_.emplace_back(std::move(key), std::move(description));
}

void tool_config::allow_only(std::string key, std::vector<std::string> words) {
  words_[std::move(key)] = std::move(words);
}

bool tool_config::is_own(const caf::config_option& opt) const {
  if (is_meta(opt) || (opt.category() == "global" && opt.long_name() == "version"))
    return false;
  return std::any_of(sections_.begin(), sections_.end(),
                     [&](const auto& s) { return s.category == str(opt.category()); });
}

bool tool_config::is_shown(const caf::config_option& opt) const {
  auto key = content_key(opt);
  return std::any_of(shown_.begin(), shown_.end(), [&](const auto& s) { return s.first == key; });
}

std::optional<caf::config_value> tool_config::effective(const caf::config_option& opt) const {
  if (auto v = opt.get())
    return *v;
  if (auto v = caf::get_if(&content, content_key(opt)))
    return *v;
  auto defaults = dump_content();
  if (auto v = caf::get_if(&defaults, content_key(opt)))
    return *v;
  return std::nullopt;
}

std::string tool_config::check_words(const caf::config_option& opt,
                                     const caf::config_value& value) const {
  auto i = words_.find(content_key(opt));
  if (i == words_.end())
    return {};
  std::string word;
  if (auto s = caf::get_if<std::string>(&value))
    word = *s;
  else if (auto a = caf::get_if<caf::atom_value>(&value))
    word = caf::to_string(*a);
  if (std::find(i->second.begin(), i->second.end(), word) != i->second.end())
    return {};
  std::string choices;
  for (const auto& w : i->second)
    choices += (choices.empty() ? "" : " or ") + w;
  return "expected " + choices;
}

std::string tool_config::apply(const caf::config_option& opt, caf::config_value value) {
  auto type = str(opt.type_name());
  // Friendlier than CAF: `rate=50` is a number too, and `policy="sharing"` a word.
  if (auto i = caf::get_if<caf::config_value::integer>(&value); i && type == "real64")
    value = caf::config_value{static_cast<double>(*i)};
  if (auto s = caf::get_if<std::string>(&value); s && type == "atom" && s->size() <= 10)
    value = caf::config_value{caf::atom_from_string(*s)};
  if (opt.check(value))
    return "expected " + expected_form(opt.type_name(), true);
  if (auto why = check_words(opt, value); !why.empty())
    return why;
  opt.store(value);
  caf::put(content, content_key(opt), std::move(value));
  return {};
}

std::string tool_config::unknown_option(const std::string& name) const {
  std::vector<std::string> same_name;
  std::vector<std::string> all;
  auto last =
      name.substr(name.find_last_of('.') == std::string::npos ? 0 : name.find_last_of('.') + 1);
  for (const auto& opt : custom_options_) {
    all.push_back(content_key(opt));
    if (str(opt.long_name()) == last)
      same_name.push_back(content_key(opt));
  }
  auto best = nearest(name, same_name.empty() ? all : same_name);
  return "unknown option --" + name + "; did you mean --" + best + "? (--help lists them)";
}

std::string tool_config::unknown_key(const std::string& category, const std::string& name) const {
  std::vector<std::string> same_category;
  std::vector<std::string> elsewhere; // categories that have an option of this name
  for (const auto& opt : custom_options_) {
    if (is_meta(opt))
      continue;
    if (str(opt.category()) == category)
      same_category.push_back(str(opt.long_name()));
    else if (str(opt.long_name()) == name)
      elsewhere.push_back(str(opt.category()));
  }
  std::string out = "unknown key '" + name + "' in [" + category + "]; ";
  if (!elsewhere.empty())
    return out + "did you mean '" + name + "' in [" + elsewhere.front() + "]?";
  return out + "did you mean '" + nearest(name, same_category) + "'?";
}

std::string tool_config::apply_argument(const std::string& arg) {
  auto body = arg.substr(2);
  if (body.rfind("caf#", 0) == 0)
    body.erase(0, 4);
  auto eq = body.find('=');
  auto name = body.substr(0, eq);
  const auto* opt = custom_options_.cli_long_name_lookup(name);
  if (opt == nullptr || name.empty())
    return unknown_option(name);
  if (is_meta(*opt) || (opt->category() == "global" && opt->long_name() == "version"))
    return arg + ": --" + name + " takes no value here";
  if (opt->is_flag()) {
    if (eq == std::string::npos)
      return apply(*opt, caf::config_value{true});
    auto value = body.substr(eq + 1);
    if (value != "true" && value != "false")
      return arg + ": expected --" + name + ", --" + name + "=true or --" + name + "=false";
    return apply(*opt, caf::config_value{value == "true"});
  }
  if (eq == std::string::npos)
    return "--" + name + " needs a value: --" + name + "=" + placeholder(opt->type_name());
  auto value = body.substr(eq + 1);
  if (opt->type_name() != "string" && oversized_duration(value).first > 0)
    return arg + ": a duration too long (more than 64-bit nanoseconds)";
  auto parsed = opt->parse(value);
  if (!parsed)
    return arg + ": expected " + expected_form(opt->type_name(), false);
  if (auto why = apply(*opt, std::move(*parsed)); !why.empty())
    return arg + ": " + why;
  return {};
}

void tool_config::apply_file(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in{path};
  if (!in) {
    errors.push_back("cannot read the config file " + path + ": " + std::strerror(errno));
    return;
  }
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  apply_text(text, path, errors);
}

std::vector<std::string> tool_config::read_text(const std::string& text, const std::string& name) {
  std::vector<std::string> errors;
  apply_text(text, name, errors);
  return errors;
}

void tool_config::apply_text(const std::string& text, const std::string& path,
                             std::vector<std::string>& errors) {
  auto ini = read_ini_text(text);
  if (!ini.syntax_error.empty()) {
    auto where =
        path + ":" + std::to_string(ini.error_line) + ":" + std::to_string(ini.error_column) + ": ";
    auto line = line_of(text, ini.error_line);
    auto before = line.substr(0, static_cast<std::size_t>(std::max(0, ini.error_column - 1)));
    before.erase(before.find_last_not_of(" \t") + 1);
    std::string hint;
    if (!before.empty() && before.back() == '=')
      hint = " (text goes in double quotes: key=\"text\")";
    errors.push_back(where + "syntax error: " + ini.syntax_error + hint + ": " + line);
    return;
  }
  std::set<std::string> categories;
  std::vector<std::string> category_list;
  for (const auto& opt : custom_options_)
    if (categories.insert(str(opt.category())).second)
      category_list.push_back(str(opt.category()));
  std::set<std::string> reported;
  auto unknown_section = [&](const std::string& name, int line) {
    if (!reported.insert(name).second)
      return;
    errors.push_back(path + ":" + std::to_string(line) + ": unknown section [" + name +
                     "]; did you mean [" + nearest(name, category_list) + "]?");
  };
  for (const auto& s : ini.sections)
    if (categories.count(s.name) == 0)
      unknown_section(s.name, s.line);
  for (auto& e : ini.entries) {
    auto dot = e.key.find_last_of('.');
    auto category = dot == std::string::npos ? std::string{"global"} : e.key.substr(0, dot);
    auto name = dot == std::string::npos ? e.key : e.key.substr(dot + 1);
    auto where = path + ":" + std::to_string(e.line) + ": ";
    if (categories.count(category) == 0) {
      unknown_section(category, e.line);
      continue;
    }
    const auto* opt = custom_options_.qualified_name_lookup(category, name);
    if (opt == nullptr || (category == "global" && name == "version")) {
      errors.push_back(where + unknown_key(category, name));
    } else if (is_meta(*opt)) {
      errors.push_back(where + "'" + name + "' works on the command line only");
    } else if (auto why = apply(*opt, e.value); !why.empty()) {
      errors.push_back(where + e.key + "=" + ini_text(e.value) + ": " + why);
    }
  }
}

std::optional<int> tool_config::read(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args{argv + std::min(argc, 1), argv + argc};
  bool dump = false;
  for (const auto& a : args) {
    if (a == "-h" || a == "-?" || a == "--help" || a == "--long-help") {
      out << help_text(a == "--long-help") << std::flush;
      return 0;
    }
    if (a == "--version") {
      out << version_line(tool_) << "\n" << std::flush;
      return 0;
    }
  }
  std::vector<std::string> errors;
  std::vector<std::string> settings;
  for (const auto& a : args) {
    if (a == "--config-file" || a == "--config-file=")
      errors.push_back("--config-file needs a value: --config-file=FILE");
    else if (a.rfind("--config-file=", 0) == 0)
      config_file_ = a.substr(std::strlen("--config-file="));
    else if (a == "--dump-config")
      dump = true;
    else if (a.rfind("--", 0) == 0 && a.size() > 2)
      settings.push_back(a);
    else if (!a.empty() && a.front() == '-')
      errors.push_back("unknown option " + a + " (--help lists them)");
    else
      errors.push_back("unexpected argument '" + a + "' (options are --KEY=VALUE; see --help)");
  }
  // The file first, so that the command line wins.
  if (!config_file_.empty()) {
    apply_file(config_file_, errors);
    caf::put(content, "config-file", config_file_);
  }
  for (const auto& a : settings)
    if (auto why = apply_argument(a); !why.empty())
      errors.push_back(why);
  if (!errors.empty()) {
    for (const auto& e : errors)
      err << tool_ << ": " << e << "\n";
    err << std::flush;
    return exit_bad_config;
  }
  if (dump) {
    out << dump_text() << std::flush;
    return 0;
  }
  return std::nullopt;
}

std::string tool_config::help_text(bool long_help) const {
  std::vector<std::pair<std::string, std::vector<help_row>>> groups;
  groups.push_back(
      {"general",
       {{"-h, --help", "", "this text"},
        {"--long-help", "", "this text and CAF's own options (advanced)"},
        {"--version", "", "print the version and the commit, then exit"},
        {"--dump-config", "", "print the effective configuration (a config file), then exit"},
        {"--config-file=FILE", "",
         "read options from FILE; the command line wins (see --dump-config)"}}});
  auto row_of = [&](const caf::config_option& opt, std::string text) {
    auto value = effective(opt);
    return help_row{cli_name(opt) + "=" + placeholder(opt.type_name()),
                    value ? help_text_of(*value) : "", std::move(text)};
  };
  for (const auto& s : sections_) {
    std::vector<help_row> rows;
    for (const auto& opt : custom_options_)
      if (str(opt.category()) == s.category && is_own(opt))
        rows.push_back(row_of(opt, str(opt.description())));
    groups.push_back({s.title, std::move(rows)});
  }
  std::vector<help_row> runtime;
  for (const auto& [key, text] : shown_)
    if (const auto* opt = custom_options_.qualified_name_lookup(key))
      runtime.push_back(row_of(*opt, text));
  groups.push_back({"runtime (CAF's options, as " + tool_ + " sets them)", std::move(runtime)});
  if (long_help) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<help_row>> caf_groups;
    for (const auto& opt : custom_options_) {
      if (is_meta(opt) || is_own(opt) || is_shown(opt) || opt.long_name() == "version")
        continue;
      auto cat = str(opt.category());
      if (caf_groups.count(cat) == 0)
        order.push_back(cat);
      caf_groups[cat].push_back(row_of(opt, str(opt.description())));
    }
    for (const auto& cat : order)
      groups.push_back({"CAF [" + cat + "] (advanced)", std::move(caf_groups[cat])});
  }
  std::size_t left_width = 0;
  std::size_t def_width = 0;
  for (const auto& g : groups)
    for (const auto& r : g.second) {
      left_width = std::max(left_width, r.left.size() + 4);
      def_width = std::max(def_width, std::min<std::size_t>(r.def.size() + 2, 14));
    }
  std::ostringstream out;
  out << version_line(tool_) << ": " << summary_ << "\n\n" << usage_;
  out << "\nOptions: --KEY=VALUE on the command line, or KEY=VALUE in the config file under\n"
         "[SECTION] (the part of KEY before the dot; [global] for the others). Column two is\n"
         "the default.\n";
  for (const auto& [title, rows] : groups)
    print_rows(out, title, rows, left_width, def_width);
  if (!long_help)
    out << "\n--long-help also lists CAF's own options (advanced: the defaults suit " << tool_
        << ").\n";
  return out.str();
}

std::string tool_config::dump_text() const {
  // The tool's sections in their order, then those of the CAF options it shows.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const caf::config_option*>> by_category;
  for (const auto& s : sections_)
    if (std::find(order.begin(), order.end(), s.category) == order.end())
      order.push_back(s.category);
  for (const auto& opt : custom_options_) {
    if (!is_own(opt) && !is_shown(opt))
      continue;
    auto cat = str(opt.category());
    if (std::find(order.begin(), order.end(), cat) == order.end())
      order.push_back(cat);
    by_category[cat].push_back(&opt);
  }
  std::ostringstream out;
  out << "; " << version_line(tool_) << ": the effective configuration\n"
      << "; (defaults, then " << (config_file_.empty() ? "no config file" : config_file_)
      << ", then the command line); usable as --config-file\n";
  for (const auto& cat : order) {
    out << "\n[" << cat << "]\n";
    for (const auto* opt : by_category[cat]) {
      auto value = effective(*opt);
      if (!value)
        continue;
      auto secret =
          std::find(secrets_.begin(), secrets_.end(), content_key(*opt)) != secrets_.end();
      if (secret && caf::to_string(*value) != "\"\"")
        out << ";" << str(opt->long_name()) << "=… (set, not shown)\n";
      else
        out << str(opt->long_name()) << "=" << ini_text(*value) << "\n";
    }
  }
  return out.str();
}

} // namespace tidings::config
