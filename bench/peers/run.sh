#!/usr/bin/env bash
# Build and run the Go and Tokio peers of weft's ping_pong, channel_throughput,
# lock_contention and tcp_echo benchmarks, and the Go peer of tls_echo (see
# README.md).
#
# usage: bench/peers/run.sh [--load N] [-w N] [-r N]
#
# --load N runs N CPU-bound processes beside every program (bench/load.sh)
# and prints one line saying so.  Every other flag is passed to every
# program: -w N (GOMAXPROCS / Tokio worker_threads, default 2), -r N
# (measured repetitions after one warm-up; default 5, 3 for tcp_echo).  (-n means a different thing in each program.)
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
timeout_s=${BENCH_TIMEOUT:-600}
workloads=(ping_pong channel_throughput lock_contention tcp_echo tls_echo)

# shellcheck source=../load.sh
. "$here/../load.sh"
load_args "$@"
set -- "${load_rest[@]}"

peers=()
failed=()
# shellcheck source=build.sh
. "$here/build.sh"

# ---------------------------------------------------------------- run
trap load_stop EXIT
trap 'exit 130' INT TERM
load_start "$load_n" || exit 2
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
        if [ ! -x "$prog" ]; then # tls_echo has a Go peer only
            echo "# == $name has no $w"
            continue
        fi
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
