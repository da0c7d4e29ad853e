// The config file reader and the nearest-name search behind "did you mean".

#include <doctest/doctest.h>

#include "config/ini_file.hpp"
#include "config/nearest.hpp"

using namespace tidings::config;

TEST_CASE("the INI reader keeps the line of every section and key, as CAF's grammar reads them") {
  auto ini = read_ini_text("; a comment\nport=8080\n\n[limits]\nrate=50.5 ; why\nburst=200\n"
                           "[cluster]\npeers=\"a@h:1,b@h:2\"\n[middleman]\n"
                           "heartbeat-interval=1s\napp-identifiers=[\"x\",\n  \"y\"]\n"
                           "[scheduler]\npolicy='sharing'\n");
  REQUIRE(ini.syntax_error.empty());
  REQUIRE(ini.entries.size() == 7);
  CHECK(ini.entries[0].key == "port");
  CHECK(ini.entries[0].line == 2);
  CHECK(caf::get<int64_t>(ini.entries[0].value) == 8080);
  CHECK(ini.entries[1].key == "limits.rate");
  CHECK(ini.entries[1].line == 5);
  CHECK(caf::get<double>(ini.entries[1].value) == 50.5);
  CHECK(ini.entries[3].key == "cluster.peers");
  CHECK(caf::get<std::string>(ini.entries[3].value) == "a@h:1,b@h:2");
  CHECK(ini.entries[4].key == "middleman.heartbeat-interval");
  CHECK(caf::holds_alternative<caf::timespan>(ini.entries[4].value));
  CHECK(ini.entries[5].key == "middleman.app-identifiers");
  CHECK(caf::get<caf::config_value::list>(ini.entries[5].value).size() == 2);
  CHECK(ini.entries[6].key == "scheduler.policy");
  std::vector<std::string> sections;
  for (const auto& s : ini.sections)
    sections.push_back(s.name + "@" + std::to_string(s.line));
  CHECK(sections == std::vector<std::string>{"global@2", "limits@4", "cluster@7", "middleman@9",
                                             "scheduler@13"});
}

TEST_CASE("the INI reader flattens nested groups and map values into dotted keys") {
  auto ini = read_ini_text("[global]\nscheduler { policy='sharing' }\n[a.b]\nc=1\n");
  REQUIRE(ini.syntax_error.empty());
  REQUIRE(ini.entries.size() == 2);
  CHECK(ini.entries[0].key == "scheduler.policy");
  CHECK(ini.entries[1].key == "a.b.c");
  CHECK(ini.entries[1].line == 4);
}

TEST_CASE("the INI reader reports a syntax error with its line and column") {
  auto ini = read_ini_text("[global]\nport=8080\ndata-dir=/var/lib\n");
  CHECK(ini.syntax_error == "unexpected character '/'");
  CHECK(ini.error_line == 3);
  CHECK(ini.error_column == 10);
  auto open = read_ini_text("[global]\nbind=\"0.0.0.0\n");
  CHECK(!open.syntax_error.empty());
  CHECK(open.error_line == 2);
}

TEST_CASE("a duration too long for 64-bit nanoseconds is refused before CAF reads it") {
  // CAF's duration reader would multiply unchecked (signed overflow): found by the fuzz target.
  auto huge = read_ini_text("[limits]\nx=1\nidle=501000000000000000us\n");
  CHECK(huge.syntax_error == "a duration too long (more than 64-bit nanoseconds)");
  CHECK(huge.error_line == 3);
  CHECK(huge.error_column == 6);
  CHECK(!read_ini_text("[a]\nb=-9300000000000000000h\n").syntax_error.empty());
  CHECK(!read_ini_text("[a]\nb=153722868min\n").syntax_error.empty()); // > 2^63 ns
  // The largest that fit, and the same digits where they are no duration, are read.
  CHECK(read_ini_text("[a]\nb=9223372036854775807ns\nc=2562047h\nd=153722867min\n")
            .syntax_error.empty());
  CHECK(read_ini_text("[a]\nb=\"501000000000000000us\"\n; 501000000000000000us\n")
            .syntax_error.empty());
}

TEST_CASE("the nearest name counts a swap of neighbours as one edit") {
  CHECK(edit_distance("rtae", "rate") == 1);
  CHECK(edit_distance("limtis", "limits") == 1);
  CHECK(edit_distance("", "port") == 4);
  CHECK(edit_distance("data_dir", "data-dir") == 1);
  CHECK(nearest("rtae", {"burst", "rate", "max-inflight"}) == "rate");
  CHECK(nearest("x", {}) == "");
}
