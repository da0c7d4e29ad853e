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

.PHONY: all deps bench-deps configure build run test install bench clean format

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
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j 2

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# The steady one-to-one table of docs/BENCHMARKS.md (QUICK=1: 10 s rows; BASELINE=DIR: also
# run another build's node, interleaved), then Tidings and ejabberd side by side (bench/versus.py:
# its section of docs/BENCHMARKS.md is rewritten, its plots go to docs/bench/).
bench: build bench-deps
	python3 bench/matrix.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) $(if $(BASELINE),--baseline=$(BASELINE))
	python3 bench/versus.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) --doc=docs/BENCHMARKS.md --plots=docs/bench

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR)
