#!/usr/bin/env bash
# Run weft's benchmark programs and print their result lines.
#
# usage: bench/run.sh [--load N] [BENCH_BUILD_DIR]   (default: build-release/bench)
#
# BENCH_BUILD_DIR is the directory holding the built bench executables
# (bench/CMakeLists.txt builds one per bench/*.c).  Every program is run once
# with its defaults (2 workers); spawn_many and fib also with -w 1 so the
# scaling from 1 to 2 workers shows.  Any other bench/*.c program found in the
# directory is run too, except the servers (srv_*: bench/realclients.sh
# measures them).  --load N runs N CPU-bound processes beside every program
# (bench/load.sh) and prints one line saying so.  Each program prints '#'
# comment lines and
#   weft <workload> <value> <unit>
#   baseline <name> <value> <unit>     (where it has one)
#   ratio <workload> <weft/baseline>   (where it has one)
# The script exits non-zero if a program is missing, fails, or runs longer than
# BENCH_TIMEOUT seconds (default 600).  Programs' stderr (runtime warnings,
# failure messages) passes through to stderr.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=load.sh
. "$here/load.sh"
load_args "$@"
set -- "${load_rest[@]}"
dir=${1:-build-release/bench}
if [ ! -d "$dir" ] && [ -d "$root/$dir" ]; then
    dir="$root/$dir"
fi
if [ ! -d "$dir" ]; then
    echo "bench/run.sh: no such directory: $dir (build the benchmarks first: make bench)" >&2
    exit 2
fi
timeout_s=${BENCH_TIMEOUT:-600}

# Fixed order first: the workloads of docs/BENCHMARKS.md.
runs=(
    "spawn_many"
    "spawn_many -w 1"
    "yield_many"
    "chained_spawn"
    "fib"
    "fib -w 1"
    "idle_memory"
    "context_switch"
    "ping_pong"
    "channel_throughput"
    "lock_contention"
)
# Then any other bench program (a bench/*.c without a fixed entry above).
for src in "$here"/*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    case $name in srv_*) continue ;; esac # servers, not benchmarks
    known=0
    for r in "${runs[@]}"; do
        [ "${r%% *}" = "$name" ] && known=1
    done
    [ $known = 1 ] || runs+=("$name")
done

use_timeout=()
if command -v timeout >/dev/null 2>&1; then
    use_timeout=(timeout "$timeout_s")
fi

failed=()
summary=()
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }
echo "# weft benchmarks: $(uname -m), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), dir $dir"
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
load=$(loadavg)
if awk -v l="${load%% *}" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }' 2>/dev/null; then
    echo "# load average before: $load -- the machine is busy; timings will be noisy"
else
    echo "# load average before: $load"
fi
trap load_stop EXIT
trap 'exit 130' INT TERM
load_start "$load_n" || exit 2
for r in "${runs[@]}"; do
    read -r -a cmd <<<"$r"
    prog="$dir/${cmd[0]}"
    echo "# == ${r}"
    if [ ! -x "$prog" ]; then
        echo "# MISSING: $prog"
        failed+=("$r (missing)")
        continue
    fi
    start=$(date +%s.%N)
    out=$("${use_timeout[@]}" "$prog" "${cmd[@]:1}")
    rc=$?
    end=$(date +%s.%N)
    [ -n "$out" ] && printf '%s\n' "$out"
    if [ $rc -ne 0 ]; then
        if [ $rc -eq 124 ] && [ ${#use_timeout[@]} -gt 0 ]; then
            echo "# FAILED: '$r' timed out after ${timeout_s} s"
            failed+=("$r (timeout)")
        else
            echo "# FAILED: '$r' exited with status $rc"
            failed+=("$r (status $rc)")
        fi
        continue
    fi
    if ! printf '%s\n' "$out" | grep -q '^weft '; then
        echo "# FAILED: '$r' printed no 'weft' result line"
        failed+=("$r (no result)")
        continue
    fi
    echo "# (${r}: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s, load average $(loadavg))"
    res=$(printf '%s\n' "$out" | grep '^weft ' | head -n 1)
    summary+=("$(printf '%-22s %s' "$r" "$res")")
done

echo "# == summary"
for s in "${summary[@]}"; do
    echo "#   $s"
done
if [ ${#failed[@]} -gt 0 ]; then
    for f in "${failed[@]}"; do
        echo "# FAILED: $f"
    done
    echo "bench/run.sh: ${#failed[@]} benchmark(s) failed" >&2
    exit 1
fi
echo "# all ${#summary[@]} benchmark runs passed"
exit 0
