#include "bots/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <unordered_set>

namespace tidings::bots {

using nlohmann::json;

namespace {

/// Reads the fields of one JSON object, remembering which were used, for clear errors.
class object_reader {
public:
  object_reader(const json& obj, std::string path, const std::string& source)
      : obj_(obj), path_(std::move(path)), source_(source) {
    if (!obj_.is_object())
      fail_at(path_, "must be an object");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    fail_at(at(key), what);
  }

  [[noreturn]] void fail_at(const std::string& where, const std::string& what) const {
    throw scenario_error(source_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }

  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  /// The value of `key`, or nullptr if absent (a JSON null counts as absent).
  const json* find(const std::string& key) {
    used_.insert(key);
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  bool has(const std::string& key) const { return obj_.contains(key); }

  double number(const std::string& key, double fallback, double min, double max) {
    auto v = find(key);
    if (v == nullptr)
      return fallback;
    if (!v->is_number() || !std::isfinite(v->get<double>()))
      fail(key, "must be a number");
    auto x = v->get<double>();
    if (x < min || x > max)
      fail(key, "must be a number from " + show(min) + " to " + show(max));
    return x;
  }

  std::size_t count(const std::string& key, std::size_t fallback, std::size_t min,
                    std::size_t max) {
    auto v = find(key);
    if (v == nullptr)
      return fallback;
    bool whole = v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0);
    auto x = whole ? v->get<uint64_t>() : 0;
    if (!whole || x < min || x > max)
      fail(key,
           "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return static_cast<std::size_t>(x);
  }

  bool boolean(const std::string& key, bool fallback) {
    auto v = find(key);
    if (v == nullptr)
      return fallback;
    if (!v->is_boolean())
      fail(key, "must be true or false");
    return v->get<bool>();
  }

  std::string text(const std::string& key, std::string fallback) {
    auto v = find(key);
    if (v == nullptr)
      return fallback;
    if (!v->is_string())
      fail(key, "must be a string");
    return v->get<std::string>();
  }

  std::string choice(const std::string& key, std::string fallback,
                     const std::vector<std::string>& allowed) {
    auto value = text(key, fallback);
    for (const auto& a : allowed)
      if (a == value)
        return value;
    std::string list;
    for (const auto& a : allowed)
      list += (list.empty() ? "" : ", ") + std::string{"\""} + a + "\"";
    fail(key, "must be one of " + list + " (got \"" + value + "\")");
  }

  std::optional<distribution> dist(const std::string& key, std::optional<distribution> fallback) {
    auto v = find(key);
    if (v == nullptr)
      return has(key) ? std::nullopt : fallback; // an explicit null means "none"
    return read_distribution(*v, at(key));
  }

  distribution required_dist(const std::string& key, distribution fallback) {
    auto v = find(key);
    if (v == nullptr) {
      if (has(key))
        fail(key, "must be a number or a distribution object, not null");
      return fallback;
    }
    return read_distribution(*v, at(key));
  }

  const json* object(const std::string& key) {
    auto v = find(key);
    if (v != nullptr && !v->is_object())
      fail(key, "must be an object");
    return v;
  }

  const json& array(const std::string& key) {
    auto v = find(key);
    if (v == nullptr || !v->is_array() || v->empty())
      fail(key, "must be a non-empty array");
    return *v;
  }

  /// Rejects every field that was not read (typos), except comments.
  void done() const {
    for (const auto& [key, value] : obj_.items()) {
      if (key == "comment" || (!key.empty() && key[0] == '_'))
        continue;
      if (used_.count(key) == 0)
        fail(key, "unknown field");
    }
  }

  const std::string& source() const { return source_; }

private:
  static std::string show(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
  }

  distribution read_distribution(const json& v, const std::string& where) const {
    if (v.is_number()) {
      auto x = v.get<double>();
      if (!std::isfinite(x) || x < 0)
        fail_at(where, "must be a number >= 0");
      return distribution::constant(x);
    }
    if (!v.is_object())
      fail_at(where, "must be a number or an object like {\"dist\": \"uniform\", \"min\": 1, "
                     "\"max\": 5}");
    object_reader r{v, where, source_};
    auto shape = r.choice("dist", "", {"constant", "uniform", "exponential", "normal"});
    constexpr double big = 1e12;
    distribution d;
    if (shape == "constant") {
      if (!r.has("value"))
        r.fail("value", "is required for a constant distribution");
      d = distribution::constant(r.number("value", 0, 0, big));
    } else if (shape == "uniform") {
      if (!r.has("min") || !r.has("max"))
        r.fail_at(where, "a uniform distribution needs \"min\" and \"max\"");
      auto lo = r.number("min", 0, 0, big);
      auto hi = r.number("max", 0, 0, big);
      if (hi < lo)
        r.fail("max", "must be >= min");
      d = distribution::uniform(lo, hi);
    } else if (shape == "exponential") {
      if (!r.has("mean"))
        r.fail("mean", "is required for an exponential distribution");
      auto mean = r.number("mean", 0, 1e-9, big);
      d = distribution::exponential(mean, r.number("max", 0, 0, big));
    } else {
      if (!r.has("mean"))
        r.fail("mean", "is required for a normal distribution");
      auto mean = r.number("mean", 0, 0, big);
      d = distribution::normal(mean, r.number("stddev", 0, 0, big));
      d.cap = r.number("max", 0, 0, big);
    }
    r.done();
    return d;
  }

  const json& obj_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> used_;
};

bool valid_user_chars(const std::string& s) {
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

behaviour read_behaviour(object_reader& r) {
  behaviour b;
  b.think_ms = r.dist("think_ms", b.think_ms);
  b.message_bytes = r.required_dist("message_bytes", b.message_bytes);
  if (b.message_bytes.shape == distribution::kind::uniform &&
      b.message_bytes.b > static_cast<double>(max_body_bytes))
    r.fail("message_bytes", "must not exceed 65536 bytes (the protocol's text limit)");
  auto peer = r.choice("peer", "uniform", {"uniform", "zipf"});
  b.peer = peer == "zipf" ? behaviour::peer_choice::zipf : behaviour::peer_choice::uniform;
  b.zipf_s = r.number("zipf_s", b.zipf_s, 0, 10);
  b.media_share = r.number("media_share", b.media_share, 0, 1);
  b.media_bytes = r.count("media_bytes", b.media_bytes, 1, 64u << 20);
  b.read_share = r.number("read_share", b.read_share, 0, 1);
  b.read_delay_ms = r.required_dist("read_delay_ms", b.read_delay_ms);
  b.ack_delay_ms = r.number("ack_delay_ms", b.ack_delay_ms, 0, 10'000);
  if (auto bg = r.object("background")) {
    object_reader g{*bg, r.at("background"), r.source()};
    background_spec spec{g.required_dist("every_ms", distribution::exponential(30'000)),
                         g.required_dist("duration_ms", distribution::exponential(10'000))};
    g.done();
    b.background = spec;
  }
  if (auto rc = r.object("reconnect")) {
    object_reader g{*rc, r.at("reconnect"), r.source()};
    reconnect_spec spec;
    spec.every_ms = g.required_dist("every_ms", distribution::exponential(60'000));
    spec.offline_ms = g.required_dist("offline_ms", distribution::exponential(2'000));
    spec.drop = g.choice("mode", "drop", {"drop", "close"}) == "drop";
    g.done();
    b.reconnect = spec;
  }
  b.max_inflight = r.count("max_inflight", b.max_inflight, 1, 100'000);
  b.ping_s = r.number("ping_s", b.ping_s, 0.1, 3600);
  return b;
}

group read_group(const json& v, const std::string& where, const std::string& source) {
  object_reader r{v, where, source};
  group g;
  g.name = r.text("name", "");
  if (g.name.empty() || g.name == "all")
    r.fail("name", "is required and must not be \"all\"");
  if (!r.has("bots"))
    r.fail("bots", "is required");
  g.bots = r.count("bots", 0, 1, max_bots);
  g.contacts = r.count("contacts", g.contacts, 0, max_bots);
  g.contacts_in = r.text("contacts_in", g.contacts_in);
  if (auto b = r.object("behaviour")) {
    object_reader br{*b, r.at("behaviour"), source};
    g.does = read_behaviour(br);
    br.done();
  }
  r.done();
  return g;
}

phase read_phase(const json& v, const std::string& where, const std::string& source) {
  object_reader r{v, where, source};
  phase p;
  auto action =
      r.choice("action", "",
               {"connect", "disconnect", "hold", "silence", "speak", "reconnect", "wait_drained"});
  using k = phase::kind;
  p.action = action == "connect"      ? k::connect
             : action == "disconnect" ? k::disconnect
             : action == "hold"       ? k::hold
             : action == "silence"    ? k::silence
             : action == "speak"      ? k::speak
             : action == "reconnect"  ? k::reconnect
                                      : k::wait_drained;
  p.name = r.text("name", action);
  auto takes_group = p.action != k::hold && p.action != k::wait_drained;
  auto takes_rate = p.action == k::connect || p.action == k::disconnect || p.action == k::reconnect;
  if (takes_group)
    p.group = r.text("group", p.group);
  if (takes_rate)
    p.rate = r.number("rate", p.rate, 0, 1e6);
  if (p.action == k::connect || p.action == k::disconnect)
    if (r.has("count"))
      p.count = r.count("count", 0, 1, max_bots);
  if (p.action == k::hold) {
    if (!r.has("duration_s"))
      r.fail("duration_s", "is required for a hold phase");
    p.duration_s = r.number("duration_s", 0, 0.001, 7 * 24 * 3600.0);
    p.until_signal = r.boolean("until_signal", p.until_signal);
  }
  if (p.action == k::connect) {
    p.wait = r.boolean("wait", p.wait);
    p.timeout_s = r.number("timeout_s", p.timeout_s, 0.001, 24 * 3600.0);
  }
  if (p.action == k::wait_drained)
    p.timeout_s = r.number("timeout_s", p.timeout_s, 0.001, 24 * 3600.0);
  if (p.action == k::disconnect || p.action == k::reconnect)
    p.drop = r.choice("mode", "close", {"close", "drop"}) == "drop";
  if (p.action == k::reconnect)
    p.offline_ms = r.required_dist("offline_ms", p.offline_ms);
  r.done();
  return p;
}

} // namespace

std::size_t scenario::total_bots() const {
  std::size_t n = 0;
  for (const auto& g : groups)
    n += g.bots;
  return n;
}

int scenario::group_index(const std::string& group_name) const {
  for (std::size_t i = 0; i < groups.size(); ++i)
    if (groups[i].name == group_name)
      return static_cast<int>(i);
  return -1;
}

const char* to_string(phase::kind k) {
  switch (k) {
  case phase::kind::connect:
    return "connect";
  case phase::kind::disconnect:
    return "disconnect";
  case phase::kind::hold:
    return "hold";
  case phase::kind::silence:
    return "silence";
  case phase::kind::speak:
    return "speak";
  case phase::kind::reconnect:
    return "reconnect";
  case phase::kind::wait_drained:
    return "wait_drained";
  }
  return "hold";
}

scenario parse_scenario(const json& doc, const std::string& source) {
  object_reader r{doc, "", source};
  scenario s;
  s.name = r.text("name", std::filesystem::path{source}.stem().string());
  s.description = r.text("description", "");
  s.seed = r.count("seed", s.seed, 0, std::numeric_limits<std::size_t>::max());
  s.enc = r.choice("encoding", "msgpack", {"msgpack", "json"}) == "json" ? net::encoding::json
                                                                         : net::encoding::msgpack;
  s.user_prefix = r.text("user_prefix", s.user_prefix);
  if (s.user_prefix.empty() || s.user_prefix.size() > 12 || !valid_user_chars(s.user_prefix))
    r.fail("user_prefix", "must be 1 to 12 characters of [a-z0-9_.-]");
  s.password = r.text("password", s.password);
  if (s.password.size() < 8 || s.password.size() > 256)
    r.fail("password", "must be 8 to 256 bytes");
  s.prepare_parallel = r.count("prepare_parallel", s.prepare_parallel, 1, 256);
  s.drain_timeout_s = r.number("drain_timeout_s", s.drain_timeout_s, 0, 24 * 3600.0);
  s.drain_stall_s = r.number("drain_stall_s", s.drain_stall_s, 0, 24 * 3600.0);

  const auto& groups = r.array("groups");
  for (std::size_t i = 0; i < groups.size(); ++i)
    s.groups.push_back(read_group(groups[i], "groups[" + std::to_string(i) + "]", source));
  const auto& phases = r.array("phases");
  for (std::size_t i = 0; i < phases.size(); ++i)
    s.phases.push_back(read_phase(phases[i], "phases[" + std::to_string(i) + "]", source));
  r.done();

  // Cross-field checks.
  std::set<std::string> names;
  for (std::size_t i = 0; i < s.groups.size(); ++i) {
    auto& g = s.groups[i];
    auto where = "groups[" + std::to_string(i) + "]";
    if (!names.insert(g.name).second)
      r.fail_at(where + ".name", "group \"" + g.name + "\" is declared twice");
    if (g.contacts_in != "all" && s.group_index(g.contacts_in) < 0)
      r.fail_at(where + ".contacts_in", "names no group (\"" + g.contacts_in + "\")");
  }
  if (s.total_bots() > max_bots)
    r.fail_at("groups", "declare " + std::to_string(s.total_bots()) + " bots; at most " +
                            std::to_string(max_bots) + " are allowed");
  for (std::size_t i = 0; i < s.groups.size(); ++i) {
    auto& g = s.groups[i];
    auto where = "groups[" + std::to_string(i) + "]";
    // Candidates exclude the bot itself when it belongs to the pool.
    std::size_t pool = g.contacts_in == "all"
                           ? s.total_bots() - 1
                           : s.groups[static_cast<std::size_t>(s.group_index(g.contacts_in))].bots -
                                 (g.contacts_in == g.name ? 1 : 0);
    if (g.contacts > pool)
      r.fail_at(where + ".contacts", std::to_string(g.contacts) + " contacts, but only " +
                                         std::to_string(pool) + " other bots to choose from");
    if (g.does.think_ms && g.contacts == 0)
      r.fail_at(where + ".contacts", "a group whose bots send (think_ms is set) needs at least "
                                     "one contact; set \"think_ms\": null for receive-only bots");
  }
  for (std::size_t i = 0; i < s.phases.size(); ++i) {
    const auto& p = s.phases[i];
    if (p.group != "all" && s.group_index(p.group) < 0)
      r.fail_at("phases[" + std::to_string(i) + "].group", "names no group (\"" + p.group + "\")");
  }
  return s;
}

std::vector<uint32_t> group_layout(const scenario& plan) {
  std::vector<uint32_t> out;
  for (uint32_t g = 0; g < plan.groups.size(); ++g)
    out.insert(out.end(), plan.groups[g].bots, g);
  return out;
}

std::vector<std::vector<uint32_t>> assign_contacts(const scenario& plan,
                                                   const std::vector<uint32_t>& group_of) {
  // Candidate pools: every bot, and the members of each group.
  std::vector<uint32_t> everyone(group_of.size());
  for (uint32_t i = 0; i < everyone.size(); ++i)
    everyone[i] = i;
  std::vector<std::vector<uint32_t>> in_group(plan.groups.size());
  for (uint32_t i = 0; i < group_of.size(); ++i)
    in_group[group_of[i]].push_back(i);

  std::mt19937_64 rng{plan.seed};
  std::vector<std::vector<uint32_t>> out(group_of.size());
  for (uint32_t bot = 0; bot < group_of.size(); ++bot) {
    const auto& g = plan.groups[group_of[bot]];
    const auto& pool = g.contacts_in == "all"
                           ? everyone
                           : in_group[static_cast<std::size_t>(plan.group_index(g.contacts_in))];
    auto others = pool.size() - (std::binary_search(pool.begin(), pool.end(), bot) ? 1 : 0);
    auto want = std::min<std::size_t>(g.contacts, others);
    auto& mine = out[bot];
    if (want * 2 >= others) {
      // Dense: shuffle the whole pool and take a prefix.
      std::vector<uint32_t> candidates;
      for (auto c : pool)
        if (c != bot)
          candidates.push_back(c);
      std::shuffle(candidates.begin(), candidates.end(), rng);
      candidates.resize(want);
      mine = std::move(candidates);
      continue;
    }
    // Sparse: draw until enough distinct ones (expected < 2 draws each, since want < others/2).
    std::unordered_set<uint32_t> chosen;
    std::uniform_int_distribution<std::size_t> pick{0, pool.size() - 1};
    while (mine.size() < want) {
      auto c = pool[pick(rng)];
      if (c != bot && chosen.insert(c).second)
        mine.push_back(c);
    }
  }
  return out;
}

scenario load_scenario(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw scenario_error(path + ": cannot open the scenario file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_scenario_text(text.str(), path);
}

scenario parse_scenario_text(std::string_view text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) { // parse_error, or out_of_range for a number like 1e999
    throw scenario_error(source + ": not valid JSON: " + e.what());
  }
  return parse_scenario(doc, source);
}

} // namespace tidings::bots
