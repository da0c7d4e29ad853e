# Tidings: `make run` (set up, build, start one node) and `make test` (set up, build, run the suite).
BUILD_DIR ?= build
PORT ?= 8080
DATA_DIR ?= ./data
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES := g++ cmake ninja-build ccache pkg-config libcaf-dev libboost-dev \
  libboost-system-dev librocksdb-dev libmsgpack-cxx-dev nlohmann-json3-dev doctest-dev \
  libsodium-dev libssl-dev openssl python3 haproxy
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR ?= $(HOME)/.cache/ccache

.PHONY: all deps configure build run test test-long bench clean format

all: build

# Installs only what is missing (dpkg-query), so repeated runs cost nothing.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

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

# The steady one-to-one table of docs/BENCHMARKS.md (QUICK=1: 10 s rows; BASELINE=DIR: also
# run another build's node, interleaved).
bench: build
	python3 bench/matrix.py --build=$(BUILD_DIR) $(if $(QUICK),--quick) $(if $(BASELINE),--baseline=$(BASELINE))

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR)
