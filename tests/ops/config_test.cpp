// The tools' command line and config file as an operator meets them: --help, --version,
// --dump-config, and every kind of mistake named with where it is and what was expected.

#include <doctest/doctest.h>

#include <regex>

#include "tests/ops/ops_support.hpp"

using namespace tidings::test;

TEST_CASE("tidings-node --help lists its own options by section with defaults, not CAF's") {
  auto help = run_node({"--help"});
  INFO(help.all());
  CHECK(help.status == 0);
  CHECK(std::regex_search(help.out, std::regex{R"(^tidings-node \d+\.\d+\.\d+ \(commit \S+\))"}));
  for (const char* section : {"\nserver:\n", "\nstorage:\n", "\nlimits:\n", "\nmedia:\n",
                              "\ncluster:\n", "\naccounts:\n", "\nnetwork front:\n"})
    CHECK(help.out.find(section) != std::string::npos);
  // One line each, with the default in the second column.
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --port=N +8080 +TCP port)"}));
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --limits.rate=NUM +50 +sustained)"}));
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --accounts.registration=TEXT +open +)"}));
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --cluster.node-id=TEXT +\(none\) +)"}));
  // The scheduler as the node sets it, not CAF's "'stealing' (default)".
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --scheduler.policy=WORD +sharing +)"}));
  CHECK(help.out.find("(default)") == std::string::npos);
  for (const char* hidden :
       {"opencl", "openssl", "work-stealing", "middleman.workers", "logger.", "stream."})
    CHECK_MESSAGE(help.out.find(hidden) == std::string::npos, hidden);
  // Every key the node has is in --help.
  auto dump = run_node({"--dump-config"});
  REQUIRE(dump.status == 0);
  auto keys = dumped_keys(dump.out);
  CHECK(keys.size() > 40);
  for (const auto& [section, key] : keys) {
    auto flag = section == "global" ? "--" + key + "=" : "--" + section + "." + key + "=";
    CHECK_MESSAGE(help.out.find(flag) != std::string::npos, flag);
  }
  // CAF's internals are still there, in --long-help, and still settable.
  auto long_help = run_node({"--long-help"});
  CHECK(long_help.status == 0);
  CHECK(long_help.out.find("--opencl.device-ids=LIST") != std::string::npos);
  CHECK(long_help.out.find("--scheduler.max-throughput=N") != std::string::npos);
  CHECK(run_node({"--scheduler.max-throughput=100", "--dump-config"}).status == 0);
}

TEST_CASE("every tool prints its version and the commit it was built from") {
  std::string commit;
  for (const char* binary : {TIDINGS_NODE_BINARY, TIDINGS_CLI_BINARY, TIDINGS_BOTS_BINARY}) {
    auto v = run_to_exit({binary, "--version"});
    INFO(binary << ": " << v.all());
    CHECK(v.status == 0);
    std::smatch m;
    REQUIRE(std::regex_match(
        v.out, m,
        std::regex{
            R"(tidings-(node|cli|bots) (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n)"}));
    if (commit.empty())
      commit = m[3];
    CHECK(m[3] == commit); // one build, one commit
    auto help = run_to_exit({binary, "--help"});
    CHECK(help.status == 0);
    CHECK(help.out.find("(commit " + commit + ")") != std::string::npos);
  }
}

TEST_CASE("--dump-config prints every effective value and reads back as a config file") {
  temp_dir dir;
  auto file = write_file(dir, "a.ini", "[limits]\nrate=10\nburst=20\n[storage]\nsync=false\n");
  auto dump = run_node({"--config-file=" + file, "--limits.rate=77", "--dump-config"});
  INFO(dump.all());
  REQUIRE(dump.status == 0);
  CHECK(dump.out.find("\n[limits]\n") != std::string::npos);
  CHECK(dump.out.find("\nrate=77\n") != std::string::npos);  // the command line wins
  CHECK(dump.out.find("\nburst=20\n") != std::string::npos); // the file over the default
  CHECK(dump.out.find("\nsync=false\n") != std::string::npos);
  CHECK(dump.out.find("\nport=8080\n") != std::string::npos); // defaults too
  CHECK(dump.out.find("\nregistration=\"open\"\n") != std::string::npos);
  CHECK(dump.out.find("\npolicy='sharing'\n") != std::string::npos);
  CHECK(dump.out.find("\nheartbeat-interval=") != std::string::npos);
  // Fed back, it gives the same configuration.
  auto again_file = write_file(dir, "b.ini", dump.out);
  auto again = run_node({"--config-file=" + again_file, "--dump-config"});
  INFO(again.all());
  REQUIRE(again.status == 0);
  auto body = [](const std::string& d) { return d.substr(d.find("\n[")); };
  CHECK(body(again.out) == body(dump.out));
}

TEST_CASE("--dump-config never shows a secret") {
  auto dump = run_node({"--cluster.tls-passphrase=hunter2-secret", "--dump-config"});
  CHECK(dump.status == 0);
  CHECK(dump.out.find("hunter2") == std::string::npos);
  CHECK(dump.out.find("\n;tls-passphrase=… (set, not shown)\n") != std::string::npos);
  CHECK(run_node({"--dump-config"}).out.find("\ntls-passphrase=\"\"\n") != std::string::npos);
}

TEST_CASE("boolean options take =true and =false on the command line") {
  auto off = run_node({"--storage.sync=false", "--dump-config"});
  CHECK(off.status == 0);
  CHECK(off.out.find("\nsync=false\n") != std::string::npos);
  temp_dir dir;
  auto file = write_file(dir, "a.ini", "[storage]\nsync=false\n");
  auto on = run_node({"--config-file=" + file, "--storage.sync", "--dump-config"});
  CHECK(on.out.find("\nsync=true\n") != std::string::npos);
  auto bad = run_node({"--storage.sync=maybe"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--storage.sync=maybe: expected --storage.sync, --storage.sync=true or "
                     "--storage.sync=false") != std::string::npos);
}

TEST_CASE("an unknown key or section in the config file names the file, the line and the "
          "nearest valid key") {
  temp_dir dir;
  auto key = write_file(dir, "key.ini", "; limits\n[limits]\nrate=5\nrtae=5\n");
  auto r = run_node({"--config-file=" + key});
  INFO(r.all());
  CHECK(r.status == 2);
  CHECK(r.err.find(key + ":4: unknown key 'rtae' in [limits]; did you mean 'rate'?") !=
        std::string::npos);
  CHECK(r.out.find("listening") == std::string::npos);

  auto section = write_file(dir, "section.ini", "[global]\nport=0\n\n[limtis]\nrate=5\n");
  r = run_node({"--config-file=" + section});
  CHECK(r.status == 2);
  CHECK(r.err.find(section + ":4: unknown section [limtis]; did you mean [limits]?") !=
        std::string::npos);

  // A key of another section: named with its section.
  auto elsewhere = write_file(dir, "elsewhere.ini", "[limits]\nport=5\n");
  r = run_node({"--config-file=" + elsewhere});
  CHECK(r.status == 2);
  CHECK(r.err.find(elsewhere + ":2: unknown key 'port' in [limits]; did you mean 'port' in "
                               "[global]?") != std::string::npos);

  // Every mistake at once, not one per attempt.
  auto several = write_file(dir, "several.ini", "data_dir=\"x\"\n[net]\nio-thread=2\n");
  r = run_node({"--config-file=" + several});
  CHECK(r.status == 2);
  CHECK(r.err.find(several + ":1: unknown key 'data_dir' in [global]; did you mean 'data-dir'?") !=
        std::string::npos);
  CHECK(r.err.find(several + ":3: unknown key 'io-thread' in [net]; did you mean 'io-threads'?") !=
        std::string::npos);
}

TEST_CASE("a syntax error in the config file names the file, line and column") {
  temp_dir dir;
  auto file = write_file(dir, "syntax.ini", "[global]\nport=8080\ndata-dir=/var/lib/tidings\n");
  auto r = run_node({"--config-file=" + file});
  INFO(r.all());
  CHECK(r.status == 2);
  CHECK(r.err.find(file + ":3:10: syntax error: unexpected character '/' (text goes in double "
                          "quotes: key=\"text\"): data-dir=/var/lib/tidings") != std::string::npos);
  CHECK(r.err.find("parser_error") == std::string::npos);
  auto missing = run_node({"--config-file=" + (dir.path / "nope.ini").string()});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("cannot read the config file " + (dir.path / "nope.ini").string() +
                         ": No such file or directory") != std::string::npos);
}

TEST_CASE("a bad value names the key and the form expected") {
  temp_dir dir;
  auto file = write_file(dir, "values.ini",
                         "[global]\nport=70000\n[limits]\nrate=\"fast\"\n[accounts]\n"
                         "registration=\"maybe\"\n[scheduler]\npolicy='random'\n");
  auto r = run_node({"--config-file=" + file});
  INFO(r.all());
  CHECK(r.status == 2);
  CHECK(r.err.find(file + ":2: port=70000: expected a whole number from 0 to 65535") !=
        std::string::npos);
  CHECK(r.err.find(file + ":4: limits.rate=\"fast\": expected a number, e.g. 50 or 0.5") !=
        std::string::npos);
  CHECK(r.err.find(file + ":6: accounts.registration=\"maybe\": expected open or closed") !=
        std::string::npos);
  CHECK(r.err.find(file + ":8: scheduler.policy='random': expected sharing or stealing") !=
        std::string::npos);

  struct cli_case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<cli_case>{
           {{"--limits.rate=abc"}, "--limits.rate=abc: expected a number, e.g. 50 or 0.5"},
           {{"--port=-1"}, "--port=-1: expected a whole number from 0 to 65535"},
           {{"--accounts.registration=shut"},
            "--accounts.registration=shut: expected open or closed"},
           {{"--limits.rtae=5"}, "unknown option --limits.rtae; did you mean --limits.rate?"},
           // limits.rate and log.rate are equally near: either is a fair suggestion
           {{"--rate=5"}, "unknown option --rate; did you mean --l"},
           {{"--port"}, "--port needs a value: --port=N"},
           {{"--config-file="}, "--config-file needs a value: --config-file=FILE"},
           {{"--dump-config=yes"}, "--dump-config=yes: --dump-config takes no value here"},
           {{"serve"}, "unexpected argument 'serve'"},
           {{"-x"}, "unknown option -x"}}) {
    // Should the check ever miss, the node starts on loopback in a temporary directory.
    std::vector<std::string> args{"--bind=127.0.0.1", "--port=0",
                                  "--data-dir=" + (dir.path / "data").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto res = run_node(args, std::chrono::seconds(10));
    INFO(c.args.front() << ": " << res.all());
    CHECK(res.status == 2);
    CHECK(res.err.find("tidings-node: " + c.says) != std::string::npos);
  }
}

TEST_CASE("tidings-bots and tidings-cli check their options the same way") {
  auto help = run_to_exit({TIDINGS_BOTS_BINARY, "--help"});
  CHECK(help.status == 0);
  CHECK(std::regex_search(help.out, std::regex{R"(\n  --io-threads=N +2 +threads)"}));
  CHECK(help.out.find("opencl") == std::string::npos);
  auto bots = run_to_exit({TIDINGS_BOTS_BINARY, "--scenaro=x.json"});
  CHECK(bots.status == 2);
  CHECK(bots.err.find("tidings-bots: unknown option --scenaro; did you mean --scenario?") !=
        std::string::npos);
  auto cli =
      run_to_exit({TIDINGS_CLI_BINARY, "--url=http://127.0.0.1:1", "--tokn-file=x", "logout"});
  CHECK(cli.status == 2);
  CHECK(cli.err.find("unknown option '--tokn-file'; did you mean --token-file?") !=
        std::string::npos);
}
