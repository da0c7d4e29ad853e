// Scenario files: the shipped ones parse, bad ones are refused with a message naming the field.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <unistd.h>

#include "bots/scenario.hpp"

using namespace tidings::bots;
using nlohmann::json;

namespace {

json minimal() {
  return json::parse(R"({
    "groups": [{"name": "g", "bots": 4, "contacts": 2}],
    "phases": [{"action": "connect"}, {"action": "hold", "duration_s": 1}]
  })");
}

/// The message of the scenario_error that parsing `doc` throws ("" if it parses).
std::string rejection(const json& doc) {
  try {
    parse_scenario(doc, "test.json");
  } catch (const scenario_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("every shipped scenario parses") {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator{TIDINGS_SCENARIO_DIR}) {
    if (entry.path().extension() != ".json")
      continue;
    CAPTURE(entry.path().string());
    auto s = load_scenario(entry.path().string());
    CHECK(s.total_bots() > 0);
    CHECK(!s.phases.empty());
    names.insert(entry.path().stem().string());
  }
  for (const char* wanted : {"smoke", "steady-1to1", "offline-drain", "reconnect-storm"})
    CHECK(names.count(wanted) == 1);
}

TEST_CASE("defaults fill what a minimal scenario leaves out") {
  auto s = parse_scenario(minimal(), "dir/minimal.json");
  CHECK(s.name == "minimal");
  CHECK(s.enc == tidings::net::encoding::msgpack);
  CHECK(s.total_bots() == 4);
  const auto& b = s.groups[0].does;
  REQUIRE(b.think_ms.has_value());
  CHECK(b.think_ms->shape == distribution::kind::exponential);
  CHECK(b.think_ms->a == doctest::Approx(1000));
  CHECK(b.max_inflight == 32);
  CHECK(!b.background.has_value());
  CHECK(!b.reconnect.has_value());
  CHECK(s.phases[0].action == phase::kind::connect);
  CHECK(s.phases[0].group == "all");
  CHECK(s.phases[0].rate == 0);
  CHECK(s.phases[1].duration_s == doctest::Approx(1));
}

TEST_CASE("distributions are read in every documented form") {
  auto doc = minimal();
  doc["groups"][0]["behaviour"] = json::parse(R"({
    "think_ms": 250,
    "message_bytes": {"dist": "uniform", "min": 10, "max": 20},
    "read_delay_ms": {"dist": "normal", "mean": 100, "stddev": 10},
    "reconnect": {"every_ms": {"dist": "exponential", "mean": 5000, "max": 20000},
                  "offline_ms": {"dist": "constant", "value": 300}, "mode": "close"}
  })");
  auto s = parse_scenario(doc, "t.json");
  const auto& b = s.groups[0].does;
  CHECK(b.think_ms->shape == distribution::kind::constant);
  CHECK(b.think_ms->a == 250);
  CHECK(b.message_bytes.shape == distribution::kind::uniform);
  CHECK(b.read_delay_ms.shape == distribution::kind::normal);
  REQUIRE(b.reconnect.has_value());
  CHECK(b.reconnect->every_ms.cap == 20000);
  CHECK(b.reconnect->offline_ms.a == 300);
  CHECK(!b.reconnect->drop);
}

TEST_CASE("think_ms null makes receive-only bots") {
  auto doc = minimal();
  doc["groups"][0]["contacts"] = 0;
  doc["groups"][0]["behaviour"] = {{"think_ms", nullptr}};
  auto s = parse_scenario(doc, "t.json");
  CHECK(!s.groups[0].does.think_ms.has_value());
}

TEST_CASE("bad scenarios are refused with the file and the field named") {
  auto with = [](const char* pointer, json value) {
    auto doc = minimal();
    doc[json::json_pointer(pointer)] = std::move(value);
    return rejection(doc);
  };
  CHECK(with("/phases/1/durration_s", 3) == "test.json: phases[1].durration_s: unknown field");
  CHECK(with("/groups/0/bots", "many") ==
        "test.json: groups[0].bots: must be a whole number from 1 to 200000");
  CHECK(with("/groups/0/bots", -3) ==
        "test.json: groups[0].bots: must be a whole number from 1 to 200000");
  CHECK(with("/phases/0/action", "jump").find("phases[0].action: must be one of") !=
        std::string::npos);
  CHECK(with("/phases/0/rate", -1) ==
        "test.json: phases[0].rate: must be a number from 0 to 1e+06");
  CHECK(with("/phases/0/group", "nobody") ==
        "test.json: phases[0].group: names no group (\"nobody\")");
  CHECK(with("/groups/0/contacts", 4) ==
        "test.json: groups[0].contacts: 4 contacts, but only 3 other bots to choose from");
  CHECK(with("/groups/0/behaviour",
             json{{"message_bytes", {{"dist", "uniform"}, {"min", 9}, {"max", 3}}}}) ==
        "test.json: groups[0].behaviour.message_bytes.max: must be >= min");
  CHECK(with("/groups/0/behaviour", json{{"think_ms", {{"dist", "poisson"}}}})
            .find("groups[0].behaviour.think_ms.dist: must be one of") != std::string::npos);
  CHECK(with("/groups/0/behaviour", json{{"read_share", 1.5}}) ==
        "test.json: groups[0].behaviour.read_share: must be a number from 0 to 1");
  CHECK(with("/user_prefix", "Bad Name") ==
        "test.json: user_prefix: must be 1 to 12 characters of [a-z0-9_.-]");
  CHECK(with("/phases/1", json{{"action", "hold"}}) ==
        "test.json: phases[1].duration_s: is required for a hold phase");
  CHECK(with("/phases", json::array()) == "test.json: phases: must be a non-empty array");
}

TEST_CASE("two groups of one name and unknown contact groups are refused") {
  auto doc = minimal();
  doc["groups"].push_back({{"name", "g"}, {"bots", 1}, {"contacts", 0}});
  CHECK(rejection(doc) == "test.json: groups[1].name: group \"g\" is declared twice");
  doc = minimal();
  doc["groups"][0]["contacts_in"] = "elsewhere";
  CHECK(rejection(doc) == "test.json: groups[0].contacts_in: names no group (\"elsewhere\")");
}

TEST_CASE("comments are allowed anywhere") {
  auto doc = minimal();
  doc["comment"] = "top";
  doc["groups"][0]["_note"] = "ignored";
  CHECK(rejection(doc).empty());
}

TEST_CASE("a file that is missing or not JSON is refused clearly") {
  auto dir = std::filesystem::temp_directory_path();
  auto missing = (dir / "tidings-no-such-scenario.json").string();
  CHECK_THROWS_WITH_AS(load_scenario(missing),
                       (missing + ": cannot open the scenario file").c_str(), scenario_error);
  auto broken = dir / ("tidings-broken-scenario-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out{broken};
    out << "{\"groups\": [";
  }
  try {
    load_scenario(broken.string());
    FAIL("a broken file parsed");
  } catch (const scenario_error& e) {
    CHECK(std::string{e.what()}.find(": not valid JSON: ") != std::string::npos);
  }
  std::filesystem::remove(broken);
}

TEST_CASE("a number too large for a double is refused as not valid JSON, not a crash") {
  // Found by the `scenario` fuzz target (docs/SECURITY.md): nlohmann's out_of_range escaped and
  // ended tidings-bots with std::terminate.
  for (std::string text : {"3e82607022", R"({"groups": [{"name": "a", "bots": 1e999}]})"}) {
    try {
      parse_scenario_text(text, "f.json");
      FAIL("parsed: " << text);
    } catch (const scenario_error& e) {
      CHECK(std::string{e.what()}.find("f.json: not valid JSON: ") == 0);
    }
  }
}

TEST_CASE("contacts are distinct and never the bot itself and stay in their pool") {
  auto doc = json::parse(R"({
    "seed": 3,
    "groups": [{"name": "senders", "bots": 50, "contacts": 7, "contacts_in": "receivers"},
               {"name": "receivers", "bots": 20, "contacts": 19, "contacts_in": "receivers"},
               {"name": "mixed", "bots": 30, "contacts": 5}],
    "phases": [{"action": "connect"}]
  })");
  auto plan = parse_scenario(doc, "t.json");
  auto layout = group_layout(plan);
  REQUIRE(layout.size() == 100);
  auto contacts = assign_contacts(plan, layout);
  for (uint32_t bot = 0; bot < layout.size(); ++bot) {
    CAPTURE(bot);
    const auto& mine = contacts[bot];
    CHECK(mine.size() == plan.groups[layout[bot]].contacts);
    std::set<uint32_t> distinct(mine.begin(), mine.end());
    CHECK(distinct.size() == mine.size());
    CHECK(distinct.count(bot) == 0);
    if (layout[bot] <= 1)
      for (auto c : mine)
        CHECK(layout[c] == 1);
  }
  CHECK(assign_contacts(plan, layout) == contacts); // reproducible from the seed
}

TEST_CASE("until_signal is read on hold phases only") {
  auto doc = minimal();
  CHECK_FALSE(parse_scenario(doc, "test.json").phases[1].until_signal);
  doc["phases"][1]["until_signal"] = true;
  CHECK(parse_scenario(doc, "test.json").phases[1].until_signal);
  doc["phases"][1]["until_signal"] = "yes";
  CHECK(rejection(doc).find("phases[1].until_signal") != std::string::npos);
  doc = minimal();
  doc["phases"][0]["until_signal"] = true;
  CHECK(rejection(doc) == "test.json: phases[0].until_signal: unknown field");
}
