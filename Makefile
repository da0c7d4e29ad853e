# Tidings: `make run` (set up, build, start one node), `make test` (set up, build, run the suite)
# and `make install` (build, then install under PREFIX, staged under DESTDIR if set; see
# packaging/CMakeLists.txt for the layout).
BUILD_DIR ?= build
PORT ?= 8080
DATA_DIR ?= ./data
PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES := g++ cmake ninja-build ccache pkg-config libcaf-dev libboost-dev \
  libboost-system-dev librocksdb-dev libmsgpack-cxx-dev nlohmann-json3-dev doctest-dev \
  libsodium-dev libssl-dev openssl python3 haproxy prometheus libexpat1-dev ejabberd nodejs chromium \
  $(if $(shell command -v npm),,npm)
# nodejs, npm and chromium: the browser tests of Tidings Web (tests/web; `npm ci` runs in the build).
# npm is asked for only when missing: some nodejs packages bring their own (and conflict with it).
# Only for `make bench` (the plots).
BENCH_PACKAGES := gnuplot-nox
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR ?= $(HOME)/.cache/ccache

.PHONY: all deps bench-deps configure build run test test-long install bench bench-sessions bench-storm \
  clean format \
  fuzz-deps test-sanitize test-tsan fuzz

all: build

# Installs only what is missing (dpkg-query), so repeated runs cost nothing. The XMPP test and
# the benchmark never use the `ejabberd` package's system service: they start private instances
# with bench/ejabberd/start-ejabberd.
define install_missing
	@missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEBIAN_PACKAGES))

bench-deps: deps
	$(call install_missing,$(BENCH_PACKAGES))

configure: deps
	@[ -f $(BUILD_DIR)/build.ninja ] || cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/tools/tidings-node --port=$(PORT) --data-dir=$(DATA_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j 2 -LE long

# The long forms (the crash test with 20 SIGKILLs instead of 5).
test-long: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900 -L long

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# Sanitizers and fuzzing (docs/SECURITY.md), each in its own build folder; Debian's libraries
# (CAF, RocksDB, ...) stay uninstrumented. ASan/UBSan and TSan use g++, the compiler Debian
# built CAF with (clang-built code that adds CAF config options breaks CAF's option table);
# libFuzzer needs clang 14. Reports of a node started by a test go to files, which fail the run.
SANITIZER_PACKAGES := clang-14 libclang-rt-14-dev
SANITIZER_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1'
SANITIZE_LABELS ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frames msgpack_map http range scenario config

fuzz-deps: deps
	$(call install_missing,$(SANITIZER_PACKAGES))

# ASan + UBSan over the whole suite. SANITIZE_LABELS=unit|net|...: only those ctest labels
# (each label is a test binary, LABEL_tests, and only those are built).
test-sanitize: deps
	@[ -f build-sanitize/build.ninja ] || cmake -S . -B build-sanitize -G Ninja $(SANITIZER_FLAGS) \
	  -DTIDINGS_SANITIZE=address,undefined
	cmake --build build-sanitize -j $(JOBS) \
	  $(if $(SANITIZE_LABELS),--target $(addsuffix _tests,$(subst |, ,$(SANITIZE_LABELS))))
	tests/sanitizers/run-ctest build-sanitize -LE long $(if $(SANITIZE_LABELS),-L '^($(SANITIZE_LABELS))$$')

# TSan over the integration tests (and the nodes they start).
test-tsan: deps
	@[ -f build-tsan/build.ninja ] || cmake -S . -B build-tsan -G Ninja $(SANITIZER_FLAGS) \
	  -DTIDINGS_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS) --target integration_tests
	tests/sanitizers/run-ctest build-tsan -L integration

# Each libFuzzer target for FUZZ_SECONDS (default 60); the corpus grows in build-fuzz/corpus.
fuzz: fuzz-deps
	@[ -f build-fuzz/build.ninja ] || cmake -S . -B build-fuzz -G Ninja $(SANITIZER_FLAGS) \
	  -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DTIDINGS_FUZZ=ON -DTIDINGS_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	$(if $(FUZZ_RUNS),FUZZ_RUNS=$(FUZZ_RUNS)) fuzz/run build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The steady one-to-one table of docs/BENCHMARKS.md (QUICK=1: 10 s rows; BASELINE=DIR: also
# run another build's node, interleaved) and, without QUICK, the knee search (the highest rate
# with p99 under 100 ms and under 10 ms, ≈ 20 min: its section of docs/BENCHMARKS.md is
# rewritten), then Tidings and ejabberd side by side (bench/versus.py: its section of
# docs/BENCHMARKS.md is rewritten, its plots go to docs/bench/). Without QUICK it goes on with
# the reconnect storm and the idle-session curve (bench-storm, bench-sessions: ≈ 20 min more),
# so the full `make bench` reproduces every figure of issue 12; QUICK=1 stays under 5 minutes
# and leaves those two to their own targets.
bench: build bench-deps
	python3 bench/matrix.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) $(if $(BASELINE),--baseline=$(BASELINE)) --doc=docs/BENCHMARKS.md
	python3 bench/versus.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) --doc=docs/BENCHMARKS.md --plots=docs/bench
	$(if $(QUICK),,python3 bench/storm.py --build=$(BUILD_DIR) --doc=docs/BENCHMARKS.md)
	$(if $(QUICK),,python3 bench/sessions.py --build=$(BUILD_DIR) --doc=docs/BENCHMARKS.md --plot=docs/bench/sessions.png)

# Node memory per idle session, 1k to 100k (issue 12; QUICK=1: up to 10k, ≈ 1 min): its section
# of docs/BENCHMARKS.md is rewritten, its curve goes to docs/bench/sessions.png.
bench-sessions: build bench-deps
	python3 bench/sessions.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) --doc=docs/BENCHMARKS.md --plot=docs/bench/sessions.png

# Reconnect storm (issue 12): 50,000 idle sessions on 3 nodes drop at once and log in again
# with their tokens, then the same with clean closes; then 19,000 on one node; then password
# logins with the default argon2id (QUICK=1: 6,000 and 4,000 sessions, ≈ 1 min). Its section of
# docs/BENCHMARKS.md is rewritten. Part of the full `make bench`, not of QUICK=1 (≈ 4 min, most
# of it registering 69,000 users).
bench-storm: build bench-deps
	python3 bench/storm.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) --doc=docs/BENCHMARKS.md

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-tsan build-fuzz
