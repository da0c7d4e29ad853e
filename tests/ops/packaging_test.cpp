// Packaging: the sample config, `make install` (binaries, sample config, unit, web client,
// docs), the container recipe and the systemd unit.
// No Docker engine runs on the test machines: the Dockerfile is checked against what the
// built binaries load, not built.

#include <doctest/doctest.h>

#include <map>
#include <regex>

#include <sys/stat.h>

#include "tests/integration/fixtures.hpp"
#include "tests/ops/ops_support.hpp"

using namespace tidings::test;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir{TIDINGS_SOURCE_DIR};

std::string read_text(const fs::path& file) {
  std::ifstream in{file};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// (section, key) of every `key=value` and commented `;key=value` line of a sample config.
std::set<std::pair<std::string, std::string>> sample_keys(const std::string& text) {
  std::set<std::pair<std::string, std::string>> keys;
  std::istringstream in{text};
  std::string line;
  std::string section = "global";
  std::regex key_line{R"(^;?([a-z0-9-]+)=)"};
  while (std::getline(in, line)) {
    std::smatch m;
    if (!line.empty() && line[0] == '[')
      section = line.substr(1, line.find(']') - 1);
    else if (std::regex_search(line, m, key_line))
      keys.emplace(section, m[1]);
  }
  return keys;
}

bool executable(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR) != 0;
}

/// The Debian package of each of `files` (paths ldd printed); files of no package are left out.
std::map<std::string, std::string> packages_of(const std::set<std::string>& files) {
  // Debian 12 merges /lib into /usr/lib: dpkg knows each file under one of the two names.
  std::vector<std::string> args{"dpkg", "-S"};
  for (const auto& f : files) {
    args.push_back(f);
    args.push_back("/usr" + f);
  }
  auto r = run_to_exit(args, 60s); // non-zero: some names unknown, which is expected
  std::map<std::string, std::string> out;
  std::istringstream in{r.out};
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(": ");
    if (colon == std::string::npos)
      continue;
    auto path = line.substr(colon + 2);
    if (path.rfind("/usr", 0) == 0 && files.count(path) == 0)
      path.erase(0, 4);
    out[path] = line.substr(0, line.find_first_of(",:"));
  }
  return out;
}

} // namespace

TEST_CASE("the sample config lists every option of the node, which accepts it and runs with it") {
  auto sample = (source_dir / "packaging/tidings.ini").string();
  auto dump = run_node({"--config-file=" + sample, "--dump-config"});
  INFO(dump.all());
  REQUIRE(dump.status == 0);
  CHECK(dump.out.find("\ndata-dir=\"/var/lib/tidings\"\n") != std::string::npos);
  CHECK(dump.out.find("\ndrain-ms=5000\n") != std::string::npos);
  auto listed = sample_keys(read_text(sample));
  for (const auto& key : dumped_keys(run_node({"--dump-config"}).out))
    CHECK_MESSAGE(listed.count(key) == 1, "[" << key.first << "] " << key.second);
  // Every commented default is the real default: uncommented, it changes nothing.
  temp_dir dir;
  auto text = read_text(sample);
  auto uncommented = std::regex_replace(text, std::regex{R"((^|\n);([a-z0-9-]+=))"}, "$1$2");
  auto all_set = write_file(dir, "all.ini", uncommented);
  auto again = run_node({"--config-file=" + all_set, "--dump-config"});
  INFO(again.all());
  REQUIRE(again.status == 0);
  auto body = [](const std::string& d) { return d.substr(d.find("\n[")); };
  CHECK(body(again.out) == body(dump.out));
  // A node runs with it (test ports and data directory on the command line, which wins).
  node_process node{{"--config-file=" + sample, "--net.drain-ms=0"}};
  node.start();
  CHECK(tidings::client::http_call(node.ep(), "GET", "/readyz").status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("make install with PREFIX and DESTDIR lays out the binaries, the sample config, the "
          "unit and the docs") {
  temp_dir dest;
  // `-o build`: the suite runs after the build; rebuilding here could relink binaries other
  // tests are starting.
  auto r = run_to_exit({"make", "-s", "-o", "build", "-C", source_dir.string(), "install",
                        "BUILD_DIR=" + std::string{TIDINGS_BUILD_DIR},
                        "DESTDIR=" + dest.path.string(), "PREFIX=/opt/tidings"},
                       240s);
  INFO(r.all());
  REQUIRE(r.status == 0);
  auto root = dest.path / "opt/tidings";
  for (const char* tool : {"tidings-node", "tidings-cli", "tidings-bots"})
    CHECK_MESSAGE(executable(root / "bin" / tool), tool);
  CHECK(read_text(root / "share/tidings/tidings.ini") ==
        read_text(source_dir / "packaging/tidings.ini"));
  auto unit = read_text(root / "share/tidings/systemd/tidings-node.service");
  CHECK(unit.find("\nExecStart=/opt/tidings/bin/tidings-node --config-file=/etc/tidings/"
                  "tidings.ini\n") != std::string::npos);
  CHECK(unit.find("/usr/local/") == std::string::npos);
  CHECK(read_text(root / "share/tidings/web/index.html") ==
        read_text(source_dir / "web/index.html"));
  for (const char* doc : {"README.md", "OPERATIONS.md", "PROTOCOL.md", "DESIGN.md"})
    CHECK_MESSAGE(fs::exists(root / "share/doc/tidings" / doc), doc);
  auto version = run_to_exit({(root / "bin/tidings-node").string(), "--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("tidings-node ", 0) == 0);
  // The installed node finds the installed web client.
  node_process installed{{"--net.drain-ms=0"}, {}, (root / "bin/tidings-node").string()};
  installed.start();
  CHECK(tidings::client::http_call(installed.ep(), "GET", "/").status == 200);
  CHECK(installed.stop() == 0); // its output is all read now
  CHECK(installed.recent_output_text().find(
            "web client: serving " + (root / "share/tidings/web").string()) != std::string::npos);
  // The installed unit is valid for systemd (where systemd-analyze exists).
  if (run_to_exit({"sh", "-c", "command -v systemd-analyze"}).status == 0) {
    auto local =
        std::regex_replace(unit, std::regex{"/opt/tidings/bin/"}, (root / "bin").string() + "/");
    auto checked = write_file(dest, "tidings-node.service", local);
    auto verify = run_to_exit({"systemd-analyze", "verify", checked}, 60s);
    INFO(verify.all());
    CHECK(verify.status == 0);
  }
}

TEST_CASE("the systemd unit runs the node as its own user, restarts it and hardens it") {
  auto unit = read_text(source_dir / "packaging/tidings-node.service");
  for (const char* line :
       {"\nUser=tidings\n", "\nRestart=on-failure\n", "\nRestartPreventExitStatus=2\n",
        "\nLimitNOFILE=1048576\n", "\nStateDirectory=tidings\n", "\nNoNewPrivileges=yes\n",
        "\nProtectSystem=strict\n", "\nProtectHome=yes\n", "\nPrivateTmp=yes\n",
        "\nCapabilityBoundingSet=\n", "\nSystemCallFilter=@system-service\n"})
    CHECK_MESSAGE(unit.find(line) != std::string::npos, line);
  // The drain and the close grace fit in the stop timeout.
  std::smatch m;
  REQUIRE(std::regex_search(unit, m, std::regex{R"(\nTimeoutStopSec=(\d+)\n)"}));
  CHECK(std::stoi(m[1]) > 5 + 5);
}

// The image is built from the plain build: a sanitized build (`make test-sanitize`) links other
// libraries (the sanitizer runtimes, RocksDB's and Boost.System's shared libraries), so there
// this case is skipped rather than asking the image for what it never runs.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif

TEST_CASE("the container image installs every library the binaries load" *
          doctest::skip(sanitized_build)) {
  auto dockerfile = read_text(source_dir / "Dockerfile");
  auto last_from = dockerfile.rfind("\nFROM ");
  REQUIRE(last_from != std::string::npos);
  auto build_stage = dockerfile.substr(0, last_from);
  auto runtime_stage = dockerfile.substr(last_from);
  CHECK(build_stage.find("FROM debian:${DEBIAN_RELEASE} AS build") != std::string::npos);
  CHECK(dockerfile.find("ARG DEBIAN_RELEASE=12\n") != std::string::npos);
  CHECK(build_stage.find("make deps") != std::string::npos); // the Makefile's packages
  CHECK(build_stage.find("make install") != std::string::npos);
  CHECK(runtime_stage.find("FROM debian:${DEBIAN_RELEASE}-slim") != std::string::npos);
  // In debian:12-slim already (apt itself needs them).
  const std::set<std::string> base{"libc6", "libstdc++6", "libgcc-s1"};
  std::set<std::string> libraries;
  for (const char* binary : {TIDINGS_NODE_BINARY, TIDINGS_CLI_BINARY, TIDINGS_BOTS_BINARY}) {
    auto ldd = run_to_exit({"ldd", binary});
    REQUIRE(ldd.status == 0);
    std::regex resolved{R"(=> (/\S+) \()"};
    for (std::sregex_iterator i{ldd.out.begin(), ldd.out.end(), resolved}, end; i != end; ++i)
      libraries.insert((*i)[1]);
  }
  auto packages = packages_of(libraries);
  std::set<std::string> needed;
  for (const auto& library : libraries) {
    auto p = packages.find(library);
    CHECK_MESSAGE(p != packages.end(), "no package holds " << library);
    if (p != packages.end() && base.count(p->second) == 0)
      needed.insert(p->second);
  }
  CHECK(needed.count("libcaf-core0.17") == 1);
  for (const auto& package : needed)
    CHECK_MESSAGE(std::regex_search(runtime_stage, std::regex{"\\s" + package + "\\s"}),
                  "the runtime stage lacks " << package);
}

TEST_CASE("the commit baked into a build: git's, else $TIDINGS_COMMIT, else unknown") {
  temp_dir dir;
  auto run = [&](const fs::path& source, const std::string& env) {
    auto out = dir.path / "version.cpp";
    fs::remove(out);
    auto r = run_to_exit(
        {"env", env.empty() ? "TIDINGS_UNSET=1" : env, "cmake", "-DSOURCE_DIR=" + source.string(),
         "-DIN=" + (source_dir / "config/version.cpp.in").string(), "-DOUT=" + out.string(),
         "-DTIDINGS_VERSION=9.8.7", "-P", (source_dir / "cmake/commit.cmake").string()},
        60s);
    INFO(r.all());
    CHECK(r.status == 0);
    auto text = read_text(out);
    CHECK(text.find("\"9.8.7\"") != std::string::npos);
    auto at = text.find("return \"", text.find("commit()"));
    return text.substr(at + 8, text.find('"', at + 8) - at - 8);
  };
  // This checkout: its commit, 12 hex digits (and -dirty with uncommitted changes).
  CHECK(std::regex_match(run(source_dir, ""), std::regex{"[0-9a-f]{12}(-dirty)?"}));
  // A tree outside git, e.g. unpacked from a tarball or copied into a container.
  auto plain = dir.path / "plain";
  fs::create_directories(plain);
  CHECK(run(plain, "") == "unknown");
  CHECK(run(plain, "TIDINGS_COMMIT=0123456789ab") == "0123456789ab");
  // A tree inside some other repository: not that repository's commit.
  auto nested = dir.path / "outer";
  fs::create_directories(nested / "tidings");
  REQUIRE(run_to_exit({"git", "init", "-q", nested.string()}).status == 0);
  CHECK(run(nested / "tidings", "") == "unknown");
}
