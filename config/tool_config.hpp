#pragma once
// tool_config: the actor_system_config of a CAF-based Tidings tool (tidings-node, tidings-bots),
// which reads its command line and config file strictly and prints its own --help,
// --long-help, --version and --dump-config.
//
// CAF 0.17 on its own ignores unknown keys and mistyped values in a config file without a
// word, shows its internals in --help, dumps only its own keys and refuses `--flag=false`.
// Here instead:
//  - a tool declares its options in titled sections (`section()`), in the order --help shows
//    them, each with its default (the bound variable's initial value) and one line of text;
//  - CAF options the tool sets itself are shown in --help as the tool sets them
//    (`show_caf_option()`); every other CAF option only in --long-help, still settable;
//  - `--config-file=FILE` names the only config file (CAF's implicit caf-application.ini in
//    the working directory is not read); the command line wins over the file;
//  - an unknown option, section or key is an error naming the file and line and the nearest
//    valid key; a syntax error names the file, line and column; a value of the wrong form
//    names the key and the form expected; `allow_only()` restricts a value to some words;
//  - boolean options take `--x`, `--x=true` and `--x=false`;
//  - --dump-config never prints the value of an option marked `keep_secret()`.
// Values are stored as CAF's own parse would store them (bound variables and `content`), so
// the actor system reads its own options (scheduler, middleman, …) as usual.

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>

#include "config/ini_file.hpp"

namespace tidings::config {

class tool_config : public caf::actor_system_config {
public:
  /// The exit status of a tool whose configuration is bad.
  static constexpr int exit_bad_config = 2;

  /// `tool`: the program's name; `summary`: what it is, after the version in --help;
  /// `usage`: the usage lines of --help (without the options).
  tool_config(std::string tool, std::string summary, std::string usage);

  /// Reads the command line and the config file it names. Returns the status to exit with at
  /// once: 0 after --help, --long-help, --version or --dump-config (printed to `out`),
  /// `exit_bad_config` after printing every problem found to `err`; or nothing: go on.
  std::optional<int> read(int argc, char** argv, std::ostream& out, std::ostream& err);

  /// Applies `text` as the config file `name` (the same checks as --config-file), without
  /// reading the command line; returns every problem found. For tests and the fuzz target.
  std::vector<std::string> read_text(const std::string& text, const std::string& name);

  /// The tool's name, for its own messages ("tidings-node: …").
  const std::string& tool() const { return tool_; }

  /// The --help text (`long_help`: with every CAF option too).
  std::string help_text(bool long_help) const;

  /// The effective configuration as a config file (what --dump-config prints).
  std::string dump_text() const;

protected:
  /// Starts a section of the tool's own options, titled in --help (`category` as in CAF:
  /// "global" for the options without a prefix, such as --port).
  caf::config_option_adder section(const std::string& category, std::string title);

  /// Lists CAF's option `key` ("scheduler.policy") in --help, with this description and the
  /// value the tool gave it with set() (or CAF's default) as the default.
  void show_caf_option(std::string key, std::string description);

  /// Accepts only these words as values of `key` (a string or atom option).
  void allow_only(std::string key, std::vector<std::string> words);

  /// --dump-config says whether `key` (a passphrase, a secret) is set, never its value.
  void keep_secret(std::string key) { secrets_.push_back(std::move(key)); }

private:
  struct titled_section {
    std::string category;
    std::string title;
  };

  /// Parses and stores one value; returns what is wrong, or "".
  std::string apply(const caf::config_option& opt, caf::config_value value);
  /// Stores `--name[=value]`; returns what is wrong, or "".
  std::string apply_argument(const std::string& arg);
  /// Reads and applies the config file; appends what is wrong to `errors`.
  void apply_file(const std::string& path, std::vector<std::string>& errors);
  /// Applies the text of a config file read from `path`; appends what is wrong to `errors`.
  void apply_text(const std::string& text, const std::string& path,
                  std::vector<std::string>& errors);
  std::string unknown_key(const std::string& category, const std::string& name) const;
  std::string unknown_option(const std::string& name) const;
  std::optional<caf::config_value> effective(const caf::config_option& opt) const;
  bool is_own(const caf::config_option& opt) const;
  bool is_shown(const caf::config_option& opt) const;
  std::string check_words(const caf::config_option& opt, const caf::config_value& value) const;

  std::string tool_;
  std::string summary_;
  std::string usage_;
  std::vector<titled_section> sections_;
  std::vector<std::pair<std::string, std::string>> shown_; ///< CAF key, description
  std::map<std::string, std::vector<std::string>> words_;
  std::vector<std::string> secrets_;
  std::string config_file_;
};

} // namespace tidings::config
