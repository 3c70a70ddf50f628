#!/usr/bin/env bash
# Build and run the Go and Tokio peers of weft's ping_pong, channel_throughput,
# lock_contention and tcp_echo benchmarks (see README.md).
#
# usage: bench/peers/run.sh [-w N] [-r N]
#
# Every flag is passed to every program: -w N (GOMAXPROCS / Tokio
# worker_threads, default 2), -r N (measured repetitions after one warm-up;
# default 5, 3 for tcp_echo).  (-n means a different thing in each program.)
# A peer whose toolchain is missing is skipped with a message; one that fails
# to build or run makes the script exit non-zero.  Each program's output ('#'
# lines with the raw per-repetition values, then "go|tokio <workload> <value>
# <unit>") is printed as it comes, the result lines again in a summary.
#
# Environment: GO (default /usr/bin/go, else go on PATH), CARGO and RUSTC
# (default Debian's /usr/bin/cargo and /usr/bin/rustc, else those on PATH),
# CARGO_BUILD_JOBS (default 1), PEERS_BUILD (Go binaries, default
# bench/peers/build), BENCH_TIMEOUT (seconds per program, default 600).
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${PEERS_BUILD:-$here/build}
timeout_s=${BENCH_TIMEOUT:-600}
workloads=(ping_pong channel_throughput lock_contention tcp_echo)

pick() { # pick VAR default-path fallback-command
    local v=${!1:-}
    if [ -n "$v" ]; then echo "$v"
    elif [ -x "$2" ]; then echo "$2"
    else command -v "$3" 2>/dev/null || true
    fi
}

peers=()
failed=()

# ---------------------------------------------------------------- Go
go_bin=$(pick GO /usr/bin/go go)
if [ -z "$go_bin" ]; then
    echo "# skipping the Go peers: no go toolchain (apt-get install golang-go)"
else
    echo "# building the Go peers: $("$go_bin" version)"
    mkdir -p "$build/go"
    # Standard library only: no module download, caches under /tmp.
    if (cd "$here/go" &&
        GOCACHE=${GOCACHE:-/tmp/weft-peers-go/cache} GOPATH=${GOPATH:-/tmp/weft-peers-go/path} \
            GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local \
            "$go_bin" build -o "$build/go/" ./...); then
        peers+=("go:$build/go")
    else
        echo "# FAILED: building the Go peers"
        failed+=("go (build)")
    fi
fi

# ---------------------------------------------------------------- Tokio
cargo_bin=$(pick CARGO /usr/bin/cargo cargo)
rustc_bin=$(pick RUSTC /usr/bin/rustc rustc)
if [ -z "$cargo_bin" ] || [ -z "$rustc_bin" ]; then
    echo "# skipping the Tokio peers: no cargo/rustc (apt-get install cargo rustc librust-tokio-dev)"
elif ! compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null; then
    echo "# skipping the Tokio peers: no Tokio sources in /usr/share/cargo/registry" \
        "(apt-get install librust-tokio-dev)"
else
    echo "# building the Tokio peers: $("$rustc_bin" --version), $("$cargo_bin" --version)"
    # Offline, from Debian's crate sources (tokio/.cargo/config.toml).  The
    # git-ignored Cargo.lock is made afresh from them: one written by a newer
    # cargo (rustup's: lock format 4) cannot be read by Debian's.
    rm -f "$here/tokio/Cargo.lock"
    if (cd "$here/tokio" &&
        RUSTC="$rustc_bin" CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} \
            "$cargo_bin" build --release --offline --quiet); then
        tokio_version=$(grep -A1 '^name = "tokio"$' "$here/tokio/Cargo.lock" 2>/dev/null |
            sed -n 's/^version = "\(.*\)"$/\1/p')
        echo "# tokio ${tokio_version:-?}"
        peers+=("tokio:$here/tokio/target/release")
    else
        echo "# FAILED: building the Tokio peers"
        failed+=("tokio (build)")
    fi
fi

# ---------------------------------------------------------------- run
use_timeout=()
command -v timeout >/dev/null 2>&1 && use_timeout=(timeout "$timeout_s")
echo "# peers: $(uname -m), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs," \
    "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), flags: ${*:-(defaults)}"
summary=()
# Workload by workload, each peer in turn, so the runtimes of one workload
# are measured minutes apart at most.
for w in "${workloads[@]}"; do
    for p in "${peers[@]}"; do
        name=${p%%:*}
        prog=${p#*:}/$w
        echo "# == $name $w"
        out=$("${use_timeout[@]}" "$prog" "$@")
        rc=$?
        [ -n "$out" ] && printf '%s\n' "$out"
        res=$(printf '%s\n' "$out" | grep "^$name $w " | head -n 1)
        if [ $rc -ne 0 ] || [ -z "$res" ]; then
            echo "# FAILED: $name $w (status $rc)"
            failed+=("$name $w (status $rc)")
        else
            summary+=("$res")
        fi
    done
done

echo "# == summary"
for s in "${summary[@]}"; do
    echo "#   $s"
done
if [ ${#failed[@]} -gt 0 ]; then
    for f in "${failed[@]}"; do
        echo "# FAILED: $f"
    done
    echo "bench/peers/run.sh: ${#failed[@]} failure(s)" >&2
    exit 1
fi
if [ ${#peers[@]} -eq 0 ]; then
    echo "bench/peers/run.sh: no peer toolchain found (see bench/peers/README.md)" >&2
    exit 1
fi
exit 0
