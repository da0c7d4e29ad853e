// The node's log: levels, formats and the rate limit, with an injected clock.

#include <doctest/doctest.h>

#include <sstream>

#include "actors/event_log.hpp"
#include "net/codec.hpp"

using namespace tidings;

namespace {

struct log_fixture {
  std::ostringstream out;
  int64_t now = 1'700'000'000'000;
  event_log make(log_level level, bool json, double rate = 100, double burst = 10) {
    log_options o;
    o.level = level;
    o.json = json;
    o.rate = rate;
    o.burst = burst;
    o.out = &out;
    o.now = [this] { return now; };
    return event_log{o};
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> all;
    std::istringstream in{out.str()};
    for (std::string line; std::getline(in, line);)
      all.push_back(line);
    return all;
  }
};

} // namespace

TEST_CASE("a text line has the time, the level, the message and its fields") {
  log_fixture f;
  auto log = f.make(log_level::info, false);
  log.info("connection closed", {{"conn", 42}, {"user", "alice"}, {"reason", "by the client"}});
  REQUIRE(f.lines().size() == 1);
  CHECK(f.lines()[0] == "2023-11-14T22:13:20.000Z info  connection closed conn=42 user=alice "
                        "reason=\"by the client\"");
}

TEST_CASE("a json line is one object with ts, level, msg and the fields") {
  log_fixture f;
  auto log = f.make(log_level::debug, true);
  log.warn("login failed", {{"user", "bo\"b"}, {"code", 401}});
  auto v = net::json::parse(f.lines().at(0));
  CHECK(v["ts"] == "2023-11-14T22:13:20.000Z");
  CHECK(v["level"] == "warn");
  CHECK(v["msg"] == "login failed");
  CHECK(v["user"] == "bo\"b");
  CHECK(v["code"] == 401);
}

TEST_CASE("lines below the level are not written") {
  log_fixture f;
  auto log = f.make(log_level::warn, false);
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  CHECK(f.lines().size() == 2);
  CHECK_FALSE(log.enabled(log_level::info));
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK_FALSE(parse_log_level("verbose"));
}

TEST_CASE("a flood is cut at the burst and the next line says how many were dropped") {
  log_fixture f;
  auto log = f.make(log_level::info, false, 100, 10);
  for (int i = 0; i < 1000; ++i)
    log.info("refused", {{"n", i}});
  CHECK(f.lines().size() == 10);
  CHECK(log.suppressed_total() == 990);
  f.now += 1000; // a second later: 100 more lines are allowed
  log.info("after");
  auto lines = f.lines();
  REQUIRE(lines.size() == 12);
  CHECK(lines[10].find("suppressed=990") != std::string::npos);
  CHECK(lines[11].find("after") != std::string::npos);
}

TEST_CASE("raw lines are written as given in text and are never dropped") {
  log_fixture f;
  auto log = f.make(log_level::error, false, 1, 1);
  log.raw("listening on 127.0.0.1:8080");
  log.raw("listening on 127.0.0.1:8081");
  CHECK(f.lines() ==
        std::vector<std::string>{"listening on 127.0.0.1:8080", "listening on 127.0.0.1:8081"});
}
