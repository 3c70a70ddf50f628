# weft — convenience front end for CMake.
#
#   make deps    install missing build/test dependencies (Debian/Ubuntu, apt-get)
#   make demo    Release build in build-release/, run examples/showcase
#   make check   build/ (gcc Debug, -Werror), then its tests but the stress,
#                sanitizer, other-compiler and fuzz ones: a developer's loop
#   make test    the CI matrix (docs/TESTING.md): build-tsan/ (TSan), build-asan/
#                (ASan+UBSan+LSan), build-clang/ (clang Debug), build-rel/ (gcc
#                Release), build-rel-clang/ (clang Release), build-fuzz/ (clang
#                libFuzzer+ASan+UBSan), build/ (gcc Debug, -Werror), then one
#                `ctest` in build/ runs everything: the plain tests, tsan.*, asan.*,
#                clang.*, release.*, release-clang.*, fuzz.short and install_consumer
#   make fuzz    build-fuzz/, then fuzz fuzz/corpus for FUZZ_SECONDS (600)
#   make soak    build-soak/ (RelWithDebInfo), run soak/soak for SOAK_SECONDS (180)
#   make bench   Release build in build-release/, run every bench program
#   make peers   the Go and Tokio peers of four bench programs (bench/peers/;
#                as root, apt-get installs golang-go cargo rustc librust-tokio-dev
#                if missing), flags in PEERS_ARGS (e.g. PEERS_ARGS='-w 2 -r 5')
#   make bench-clients  weft's HTTP and Redis-protocol servers, their Go and
#                Tokio peers, nginx and redis-server under wrk and
#                redis-benchmark (bench/realclients.sh; as root it installs the
#                packages it needs), flags in CLIENTS_ARGS (e.g. '-r 5 --load 2')
#   make install build-install/ (Release), then `cmake --install` into PREFIX
#                (/usr/local; ldconfig runs after it as root): libweft.so,
#                libweft.a, the headers, weft.pc, find_package(weft)
#   make install-tsan / install-asan  the same for weft built with TSan
#                (build-install-tsan/) / ASan+UBSan (build-install-asan/),
#                RelWithDebInfo, installed as weft-tsan / weft-asan
#                (libweft-tsan.so, weft-tsan.pc, weft::weft-tsan)
#   make charts  SVG charts of docs/BENCHMARKS.md's tables (bench/charts.sh,
#                gnuplot) into build-release/charts/; make bench ends with it
#   make build   just configure + build build/ (Debug)
#   make clean   remove all build dirs
#
# Only deps, demo, test (and peers, bench-clients, charts) install packages;
# build, check and install use what is there.
#
# Variables: JOBS (parallel jobs, default 2), CMAKE, CTEST, CMAKE_ARGS (extra
# configure arguments for every build), CTEST_ARGS (e.g. CTEST_ARGS='-L tsan'),
# CLANG (the clang of the clang builds), FUZZ_SECONDS, FUZZ_SHORT_SECONDS (the
# fuzz.short test of make test, 45), SOAK_SECONDS, PREFIX (make install*;
# DESTDIR is honoured too), INSTALL_BUILD_TYPE (make install, Release).
# CC is honoured on the first configure of each gcc build dir.

JOBS       ?= 2
CLANG      ?= clang
FUZZ_SECONDS       ?= 600
FUZZ_SHORT_SECONDS ?= 45
SOAK_SECONDS       ?= 180
CMAKE      ?= cmake
CTEST      ?= ctest
CMAKE_ARGS ?=
CTEST_ARGS ?=

BUILD_DIR   := build
TSAN_DIR    := build-tsan
ASAN_DIR    := build-asan
RELEASE_DIR := build-release
CLANG_DIR   := build-clang
REL_DIR     := build-rel
RELCL_DIR   := build-rel-clang
FUZZ_DIR    := build-fuzz
SOAK_DIR    := build-soak
INSTALL_DIR := build-install

PREFIX             ?= /usr/local
INSTALL_BUILD_TYPE ?= Release

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# cmake --build runs its own make (with -j$(JOBS)): keep this make's flags and
# its "Entering directory" lines out of it.
BUILD_CMD := MAKEFLAGS=--no-print-directory $(CMAKE) --build

# Sanitizer builds only need the tests.
SAN_ARGS := -DCMAKE_BUILD_TYPE=Debug -DWEFT_BUILD_TESTS=ON \
            -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF

# The matrix's plain builds only need the tests, too.
MATRIX_ARGS := -DWEFT_BUILD_TESTS=ON -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF

# One build at a time, in the order written (each uses JOBS cores).
.NOTPARALLEL:

.PHONY: all deps deps-clang build check build-tsan build-asan build-clang build-rel build-rel-clang \
        build-fuzz build-soak build-test test fuzz soak demo bench release clean peers \
        bench-clients install install-tsan install-asan charts

all: build

deps:
	@bash "$(ROOT)/cmake/deps.sh"

# make test's clang builds also need clang and its sanitizer/libFuzzer runtimes.
deps-clang:
	@WEFT_DEPS_CLANG=1 CLANG="$(CLANG)" bash "$(ROOT)/cmake/deps.sh"

build:
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(BUILD_DIR)" -DCMAKE_BUILD_TYPE=Debug -DWEFT_WERROR=ON $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(BUILD_DIR)" -j$(JOBS)

# The labels of the tests make check leaves to make test (a build dir that
# make test configured also registers the other builds' tests: skipped here).
CHECK_SKIP := ^(stress|tsan|asan|clang|release|release-clang|fuzz)$$

check: build
	$(CTEST) --test-dir "$(ROOT)/$(BUILD_DIR)" --output-on-failure --no-label-summary -j$(JOBS) \
	    -LE '$(CHECK_SKIP)' $(CTEST_ARGS)

build-tsan: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(TSAN_DIR)" -DWEFT_SANITIZE=thread $(SAN_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(TSAN_DIR)" -j$(JOBS)

build-asan: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(ASAN_DIR)" -DWEFT_SANITIZE=address $(SAN_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(ASAN_DIR)" -j$(JOBS)

build-clang: deps-clang
	CC="$(CLANG)" $(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(CLANG_DIR)" -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_WERROR=ON $(MATRIX_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(CLANG_DIR)" -j$(JOBS)

build-rel: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(REL_DIR)" -DCMAKE_BUILD_TYPE=Release \
	    -DWEFT_WERROR=ON $(MATRIX_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(REL_DIR)" -j$(JOBS)

build-rel-clang: deps-clang
	CC="$(CLANG)" $(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(RELCL_DIR)" -DCMAKE_BUILD_TYPE=Release \
	    -DWEFT_WERROR=ON $(MATRIX_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(RELCL_DIR)" -j$(JOBS)

# libFuzzer harnesses only (cmake/WeftFuzz.cmake); Debug keeps the library's
# assertions.
build-fuzz: deps-clang
	CC="$(CLANG)" $(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(FUZZ_DIR)" -DCMAKE_BUILD_TYPE=Debug \
	    -DWEFT_BUILD_FUZZ=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF \
	    -DWEFT_BUILD_EXAMPLES=OFF $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(FUZZ_DIR)" -j$(JOBS)

build-soak: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(SOAK_DIR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DWEFT_BUILD_SOAK=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF \
	    -DWEFT_BUILD_EXAMPLES=OFF $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(SOAK_DIR)" -j$(JOBS) --target soak

# The normal build registers the other builds' tests (tsan.*, asan.*, clang.*,
# release.*, release-clang.*, fuzz.short), so they are configured first
# (prerequisites run in order: .NOTPARALLEL).
build-test: deps build-tsan build-asan build-clang build-rel build-rel-clang build-fuzz
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(BUILD_DIR)" -DCMAKE_BUILD_TYPE=Debug -DWEFT_WERROR=ON \
	    -DWEFT_SANITIZE= \
	    -DWEFT_TSAN_DIR="$(ROOT)/$(TSAN_DIR)" -DWEFT_ASAN_DIR="$(ROOT)/$(ASAN_DIR)" \
	    -DWEFT_MATRIX_DIRS="clang=$(ROOT)/$(CLANG_DIR);release=$(ROOT)/$(REL_DIR);release-clang=$(ROOT)/$(RELCL_DIR)" \
	    -DWEFT_FUZZ_DIR="$(ROOT)/$(FUZZ_DIR)" -DWEFT_FUZZ_SECONDS=$(FUZZ_SHORT_SECONDS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(BUILD_DIR)" -j$(JOBS)

test: build-test
	$(CTEST) --test-dir "$(ROOT)/$(BUILD_DIR)" --output-on-failure --no-label-summary -j$(JOBS) $(CTEST_ARGS)

fuzz: build-fuzz
	cd "$(ROOT)/$(FUZZ_DIR)" && bash "$(ROOT)/fuzz/run.sh" "$(ROOT)/$(FUZZ_DIR)/fuzz/fuzz_ops" $(FUZZ_SECONDS)

soak: build-soak
	"$(ROOT)/$(SOAK_DIR)/soak/soak" $(SOAK_SECONDS)

release: deps
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(RELEASE_DIR)" -DCMAKE_BUILD_TYPE=Release \
	    -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=ON -DWEFT_BUILD_EXAMPLES=ON $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(RELEASE_DIR)" -j$(JOBS)

demo: release
	@test -x "$(ROOT)/$(RELEASE_DIR)/examples/showcase" || \
	    { echo "make demo: no examples/showcase.c to run" >&2; exit 1; }
	"$(ROOT)/$(RELEASE_DIR)/examples/showcase"

# bench/run.sh runs every program of build-release/bench (some with extra
# flags) and prints their lines and a summary; then the charts.
bench: release
	bash "$(ROOT)/bench/run.sh" "$(ROOT)/$(RELEASE_DIR)/bench"
	$(CHARTS_CMD)

# bench/charts.sh draws build-release/charts/*.svg with gnuplot from the
# tables of docs/BENCHMARKS.md (the numbers written down there, not this
# run's).  As root, bench/install.sh installs gnuplot-nox if missing (only
# make bench and make charts need it).
define CHARTS_CMD
@bash "$(ROOT)/bench/install.sh" gnuplot-nox
bash "$(ROOT)/bench/charts.sh" "$(ROOT)/docs/BENCHMARKS.md" "$(ROOT)/$(RELEASE_DIR)/charts"
endef

charts:
	$(CHARTS_CMD)

# bench/peers/run.sh builds and runs the Go 1.19 and Tokio 1.24 programs of
# ping_pong, channel_throughput, lock_contention and tcp_echo (reference
# numbers for docs/BENCHMARKS.md, not part of make test).  As root it first
# installs the Debian packages of their toolchains that are missing; without
# root a peer whose toolchain is missing is skipped.
PEERS_PKGS := golang-go cargo rustc librust-tokio-dev
PEERS_ARGS ?=

peers:
	@bash "$(ROOT)/bench/install.sh" $(PEERS_PKGS)
	bash "$(ROOT)/bench/peers/run.sh" $(PEERS_ARGS)

# bench/realclients.sh: weft's HTTP and Redis-protocol servers (bench/srv_*.c)
# and their Go and Tokio peers, nginx and redis-server, measured by wrk and
# redis-benchmark (bench/REALCLIENTS.md; about 7 minutes).  As root, the
# script installs the packages it needs that are missing.  Flags in
# CLIENTS_ARGS (e.g. CLIENTS_ARGS='-r 5 --load 2').
CLIENTS_ARGS ?=

bench-clients: release
	bash "$(ROOT)/bench/realclients.sh" $(CLIENTS_ARGS) "$(ROOT)/$(RELEASE_DIR)"

# make install, install-tsan, install-asan: a build dir of their own with
# only the library (no tests, benches, examples), then `cmake --install`.  As
# root, installing into the system (no DESTDIR), ldconfig refreshes the
# loader's cache so that programs find libweft.so.0.2 in /usr/local/lib.
INSTALL_ARGS := -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF \
                -DCMAKE_INSTALL_PREFIX="$(PREFIX)"
define weft_install_dir
	$(CMAKE) -S "$(ROOT)" -B "$(ROOT)/$(1)" $(2) $(INSTALL_ARGS) $(CMAKE_ARGS)
	$(BUILD_CMD) "$(ROOT)/$(1)" -j$(JOBS)
	$(CMAKE) --install "$(ROOT)/$(1)" --prefix "$(PREFIX)"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
endef

install:
	$(call weft_install_dir,$(INSTALL_DIR),-DCMAKE_BUILD_TYPE=$(INSTALL_BUILD_TYPE) -DWEFT_SANITIZE=)

install-tsan:
	$(call weft_install_dir,$(INSTALL_DIR)-tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread)

install-asan:
	$(call weft_install_dir,$(INSTALL_DIR)-asan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=address)

clean:
	rm -rf "$(ROOT)/$(BUILD_DIR)" "$(ROOT)/$(TSAN_DIR)" "$(ROOT)/$(ASAN_DIR)" "$(ROOT)/$(RELEASE_DIR)" \
	    "$(ROOT)/$(CLANG_DIR)" "$(ROOT)/$(REL_DIR)" "$(ROOT)/$(RELCL_DIR)" "$(ROOT)/$(FUZZ_DIR)" \
	    "$(ROOT)/$(SOAK_DIR)" "$(ROOT)/$(INSTALL_DIR)" "$(ROOT)/$(INSTALL_DIR)-tsan" \
	    "$(ROOT)/$(INSTALL_DIR)-asan"
