# weft — convenience front end for CMake.
#
#   make deps    install missing build/test dependencies (Debian/Ubuntu, apt-get)
#   make demo    Release build in build-release/, run examples/showcase
#   make test    build-tsan/ (TSan), build-asan/ (ASan+UBSan), build/ (Debug, -Werror),
#                then one `ctest` in build/ runs everything: the plain tests,
#                tsan.* and asan.* (the sanitizer builds' tests) and install_consumer
#   make bench   Release build in build-release/, run every bench program
#   make build   just configure + build build/ (Debug)
#   make clean   remove all build dirs
#
# Variables: JOBS (parallel jobs, default 2), CMAKE, CTEST, CMAKE_ARGS (extra
# configure arguments for every build), CTEST_ARGS (e.g. CTEST_ARGS='-L tsan').
# CC is honoured on the first configure of each build dir.

JOBS       ?= 2
CMAKE      ?= cmake
CTEST      ?= ctest
CMAKE_ARGS ?=
CTEST_ARGS ?=

BUILD_DIR   := build
TSAN_DIR    := build-tsan
ASAN_DIR    := build-asan
RELEASE_DIR := build-release

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# cmake --build runs its own make (with -j$(JOBS)): keep this make's flags and
# its "Entering directory" lines out of it.
BUILD_CMD := MAKEFLAGS=--no-print-directory $(CMAKE) --build

# Sanitizer builds only need the tests.
SAN_ARGS := -DCMAKE_BUILD_TYPE=Debug -DWEFT_BUILD_TESTS=ON \
            -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF

# One build at a time, in the order written (each uses JOBS cores).
.NOTPARALLEL:

.PHONY: all deps build build-tsan build-asan build-test test demo bench release clean

all: build

deps:
	@bash "$(ROOT)/cmake/deps.sh"

build: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(BUILD_DIR)" -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(BUILD_DIR)" -j$(JOBS)

build-tsan: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(TSAN_DIR)" -DWEFT_SANITIZE=thread $(SAN_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(TSAN_DIR)" -j$(JOBS)

build-asan: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(ASAN_DIR)" -DWEFT_SANITIZE=address $(SAN_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(ASAN_DIR)" -j$(JOBS)

# The normal build registers the sanitizer builds' tests (tsan.*, asan.*), so
# they are configured first (prerequisites run in order: .NOTPARALLEL).
build-test: deps build-tsan build-asan
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(BUILD_DIR)" -DCMAKE_BUILD_TYPE=Debug -DWEFT_WERROR=ON \
	    -DWEFT_SANITIZE= \
	    -DWEFT_TSAN_DIR="$(ROOT)/$(TSAN_DIR)" -DWEFT_ASAN_DIR="$(ROOT)/$(ASAN_DIR)" $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(BUILD_DIR)" -j$(JOBS)

test: build-test
	$(CTEST) --test-dir "$(ROOT)/$(BUILD_DIR)" --output-on-failure --no-label-summary -j$(JOBS) $(CTEST_ARGS)

release: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(RELEASE_DIR)" -DCMAKE_BUILD_TYPE=Release \
	    -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=ON -DWEFT_BUILD_EXAMPLES=ON $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(RELEASE_DIR)" -j$(JOBS)

demo: release
	@test -x "$(ROOT)/$(RELEASE_DIR)/examples/showcase" || \
	    { echo "make demo: no examples/showcase.c to run" >&2; exit 1; }
	"$(ROOT)/$(RELEASE_DIR)/examples/showcase"

# bench/run.sh runs every program of build-release/bench (some with extra
# flags) and prints their lines and a summary.
bench: release
	@if [ -f "$(ROOT)/bench/run.sh" ]; then \
	    bash "$(ROOT)/bench/run.sh" "$(ROOT)/$(RELEASE_DIR)/bench"; \
	else \
	    sh "$(ROOT)/$(RELEASE_DIR)/bench/run_all.sh"; \
	fi

clean:
	rm -rf "$(ROOT)/$(BUILD_DIR)" "$(ROOT)/$(TSAN_DIR)" "$(ROOT)/$(ASAN_DIR)" "$(ROOT)/$(RELEASE_DIR)"
