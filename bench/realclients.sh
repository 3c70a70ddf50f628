#!/usr/bin/env bash
# realclients.sh — weft's servers judged from the outside: real clients (wrk,
# redis-benchmark) against weft's HTTP and Redis-protocol servers and the
# same servers in Go and Tokio, beside nginx and redis-server as the
# references users would pick (bench/REALCLIENTS.md says what each workload
# does and how every answer is checked).
#
# usage: bench/realclients.sh [-r N] [-d SECONDS] [-n N] [--load N] [BUILD_DIR]
#
#   -r N        repetitions of every measurement (default 3), interleaved
#               across the servers (weft, Go, Tokio, the reference in turn,
#               then again); each value is printed and the median reported
#   -d SECONDS  wrk's duration per run (default 10)
#   -n N        redis-benchmark requests per test at -P 1 (default 100000,
#               a multiple of 16; -P 16 sends 4 N)
#   --load N    N CPU-bound processes beside every program (bench/load.sh)
#   BUILD_DIR   the CMake build holding bench/srv_http and bench/srv_resp
#               (default build-release; configured as Release and the two
#               servers built if needed)
#
# As root, installs the Debian packages that are missing first (wrk,
# redis-tools, redis-server, nginx, golang-go, cargo, rustc,
# librust-tokio-dev).  A server whose toolchain or program is missing is
# skipped with a message; wrk, redis-benchmark and redis-cli are required.
# Every server listens on 127.0.0.1 only and is stopped at the end, also
# when the script is interrupted.  Output: '#' lines (parameters, each run's
# values, the servers' own statistics), then per workload the result lines
#   weft|go|tokio <workload> <value> <unit>
#   baseline nginx|redis <value> <unit>
#   ratio <workload> <weft / baseline>
# and a summary table.  Exits non-zero if any run failed its checks.
#
# Environment: WORKERS (default 2: weft's workers, GOMAXPROCS, Tokio's
# worker_threads, nginx's worker processes), KEEP_TMP=1 keeps the temporary
# directory (servers' logs), and the toolchain variables of
# bench/peers/build.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=load.sh
. "$here/load.sh"
load_args "$@"
set -- "${load_rest[@]}"

reps=3
dur=10
resp_n=100000
build_dir=build-release
workers=${WORKERS:-2}
usage() { sed -n '7,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    -r) reps=${2:-}; shift 2 || shift ;;
    -d) dur=${2:-}; shift 2 || shift ;;
    -n) resp_n=${2:-}; shift 2 || shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "realclients.sh: unknown flag $1" >&2; usage >&2; exit 2 ;;
    *) build_dir=$1; shift ;;
    esac
done
for v in "$reps" "$dur" "$resp_n" "$workers"; do
    case $v in '' | *[!0-9]* | 0) echo "realclients.sh: bad number '$v'" >&2; exit 2 ;; esac
done
if [ $((resp_n % 16)) -ne 0 ]; then
    echo "realclients.sh: -n must be a multiple of 16 (the INCR check at -P 16)" >&2
    exit 2
fi
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac

failed=()
fail() { # fail WHAT: record a failed check (the script goes on, exits 1)
    echo "# FAILED: $*"
    failed+=("$*")
}

# ---------------------------------------------------------------- tools
bash "$here/install.sh" wrk redis-tools redis-server nginx golang-go cargo rustc librust-tokio-dev
for t in wrk redis-benchmark redis-cli python3; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "realclients.sh: $t is missing (bench/REALCLIENTS.md)" >&2; exit 2; }
done

echo "# building weft's servers in $build_dir"
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_BENCH=ON \
        -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF >/dev/null || exit 1
fi
cmake --build "$build_dir" -j2 --target bench_srv_http bench_srv_resp >/dev/null || exit 1

peers=()
# shellcheck source=peers/build.sh
. "$here/peers/build.sh"
go_dir="" tokio_dir=""
for p in "${peers[@]}"; do
    case $p in go:*) go_dir=${p#go:} ;; tokio:*) tokio_dir=${p#tokio:} ;; esac
done

# ---------------------------------------------------------------- servers
tmp=$(mktemp -d /tmp/weft-realclients.XXXXXX)
declare -A srv_pid srv_port
servers=()

stop_servers() {
    local s pid i
    for s in "${servers[@]}"; do
        kill -TERM "${srv_pid[$s]}" 2>/dev/null
    done
    for s in "${servers[@]}"; do
        pid=${srv_pid[$s]}
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    servers=()
}
cleanup() {
    stop_servers
    load_stop
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME PORT COMMAND...: start a server (@PORT@ in its arguments is
# replaced by PORT) with its output in $tmp/NAME.log, and wait until it
# accepts connections on 127.0.0.1:PORT.
start() {
    local name=$1 port=$2 i
    shift 2
    "${@//@PORT@/$port}" >"$tmp/$name.log" 2>&1 &
    srv_pid[$name]=$!
    srv_port[$name]=$port
    servers+=("$name")
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "${srv_pid[$name]}" 2>/dev/null; then
            break
        elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "# started $name (pid ${srv_pid[$name]}, 127.0.0.1:$port): ${*//@PORT@/$port}"
            return 0
        fi
        sleep 0.1
    done
    fail "$name did not start: $(tail -n 5 "$tmp/$name.log" | tr '\n' ' ')"
    unset "srv_port[$name]"
    return 1
}

start_nginx() {
    local d=$tmp/nginx user="" port
    mkdir -p "$d"
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
    sed -e "s|@DIR@|$d|g" -e "s|@USER@|$user|" -e "s|@PORT@|$port|" \
        -e "s|worker_processes 2;|worker_processes $workers;|" \
        "$here/realclients/nginx.conf" >"$d/nginx.conf"
    start nginx "$port" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
}

# weft's, Go's and Tokio's srv_PROTO (those built), appended to `started`.
start_ours() {
    local proto=$1 r dir
    for r in weft go tokio; do
        case $r in weft) dir=$build_dir/bench ;; go) dir=$go_dir ;; tokio) dir=$tokio_dir ;; esac
        [ -n "$dir" ] || continue
        start "${r}_$proto" "$(free_port)" "$dir/srv_$proto" -p @PORT@ -w "$workers" &&
            started+=("${r}_$proto")
    done
}

# The servers of each protocol, in the order they are measured.
http_servers=() resp_servers=()
start_all() {
    started=()
    start_ours http
    if command -v nginx >/dev/null 2>&1; then
        start_nginx && started+=(nginx)
    else
        echo "# skipping nginx: not installed"
    fi
    http_servers=(${started[@]+"${started[@]}"})
    started=()
    start_ours resp
    if command -v redis-server >/dev/null 2>&1; then
        mkdir -p "$tmp/redis"
        start redis "$(free_port)" redis-server --bind 127.0.0.1 --port @PORT@ --save "" \
            --appendonly no --dir "$tmp/redis" --daemonize no && started+=(redis)
    else
        echo "# skipping redis-server: not installed"
    fi
    resp_servers=(${started[@]+"${started[@]}"})
}

# ---------------------------------------------------------------- results
# One line per value: "<workload> <server> <value>" in $tmp/results.
record() { echo "$1 $2 $3" >>"$tmp/results"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }

# The runtime's name in the result lines: weft, go, tokio, nginx, redis.
runtime_of() { echo "${1%_*}"; }

# ---------------------------------------------------------------- HTTP
# field KEY LINE: the value of KEY=value in LINE.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# Sample a server during an offload run: SIGUSR1 (it prints its statistics
# into its log) and the threads of its process, at 30, 50 and 70% of the run.
sample_threads() {
    local s=$1 pid=${srv_pid[$1]} f
    for f in 3 2 2; do
        sleep "$(awk -v d="$dur" -v f="$f" 'BEGIN { print d * f / 10 }')"
        kill -USR1 "$pid" 2>/dev/null
        awk '/^Threads:/ { printf " %s", $2 }' "/proc/$pid/status" 2>/dev/null
    done
}

# http_run SERVER PATH WORKLOAD: one wrk run, every answer checked.
http_run() {
    local s=$1 path=$2 w=$3 out res threads="" lines k bad=0 rps sampler=""
    local url="http://127.0.0.1:${srv_port[$s]}$path"
    lines=$(wc -l <"$tmp/$s.log")
    if [ "$w" = http_offload ]; then
        sample_threads "$s" >"$tmp/threads" &
        sampler=$!
    fi
    out=$(timeout $((dur + 60)) wrk -t1 -c50 -d"${dur}s" --latency -s "$here/realclients/check.lua" "$url" 2>&1)
    local rc=$?
    if [ -n "$sampler" ]; then
        wait "$sampler"
        threads=$(cat "$tmp/threads")
    fi
    res=$(printf '%s\n' "$out" | grep '^rc-result ' | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$res" ]; then
        fail "$w $s: wrk exited with status $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
        return
    fi
    for k in non2xx bad_body connect read write timeout status; do
        [ "$(field $k "$res")" = 0 ] || bad=1
    done
    rps=$(awk -v n="$(field requests "$res")" -v us="$(field duration_us "$res")" \
        'BEGIN { printf "%.2f", n / (us / 1e6) }')
    echo "# $w $(runtime_of "$s"): $rps req/s, p50 $(ms "$(field p50_us "$res")") ms," \
        "p99 $(ms "$(field p99_us "$res")") ms (${res#rc-result })"
    if [ $bad = 1 ]; then
        fail "$w $s: non-2xx answers, wrong bodies or socket errors (${res#rc-result })"
        return
    fi
    record "$w" "$s" "$rps"
    record "${w}_p50" "$s" "$(ms "$(field p50_us "$res")")"
    record "${w}_p99" "$s" "$(ms "$(field p99_us "$res")")"
    if [ -n "$threads" ]; then
        echo "#   threads in the process at 30/50/70% of the run:$threads"
        tail -n +$((lines + 1)) "$tmp/$s.log" | grep '^# stats' | sed 's/^# /#   /'
    fi
}

# ---------------------------------------------------------------- RESP
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "${srv_port[$1]}" "${@:2}"; }

# What every RESP server must answer before it is measured.
resp_check() {
    local s=$1 got want
    # (redis-cli prints an empty line after an error, and for a nil answer.)
    want=$(printf '%s\n' PONG hi hello OK v1 1 1 2 'ERR*' '' 2 '')
    got=$(printf '%s\n' 'DEL rc:k rc:n' PING 'PING hi' 'ECHO hello' 'SET rc:k v1' 'GET rc:k' \
        'EXISTS rc:k rc:none' 'INCR rc:n' 'INCR rc:n' 'INCR rc:k' 'DEL rc:k rc:n rc:none' \
        'GET rc:k' | rcli "$s" 2>&1 | tail -n +2 | sed 's/^\(ERR\).*/\1*/')
    if [ "$got" != "$want" ]; then
        fail "resp check $s: answers '$(tr '\n' ' ' <<<"$got")', expected '$(tr '\n' ' ' <<<"$want")'"
        return 1
    fi
}

# resp_run SERVER PIPELINE: one redis-benchmark run (-t ping,set,get,incr),
# then the INCR counter must equal the increments sent and SET's key hold a
# 3-byte value.
resp_run() {
    local s=$1 p=$2 n=$resp_n out test rps p50 p99 counter value
    [ "$p" -gt 1 ] && n=$((resp_n * 4))
    rcli "$s" DEL counter:__rand_int__ key:__rand_int__ >/dev/null
    out=$(timeout 300 redis-benchmark -h 127.0.0.1 -p "${srv_port[$s]}" -c 50 -n "$n" -P "$p" \
        -t ping,set,get,incr --csv 2>"$tmp/rb.err")
    local rc=$?
    if [ $rc -ne 0 ] || grep -qi 'error' "$tmp/rb.err"; then
        fail "resp pipe$p $s: redis-benchmark status $rc: $(tr '\r' '\n' <"$tmp/rb.err" | grep -i error | head -n 2)"
        return
    fi
    counter=$(rcli "$s" GET counter:__rand_int__)
    value=$(rcli "$s" GET key:__rand_int__)
    echo "# resp_pipe$p $(runtime_of "$s"): INCR counter $counter (sent $n), SET's value '$value'"
    if [ "$counter" != "$n" ] || [ ${#value} -ne 3 ]; then
        fail "resp pipe$p $s: INCR counter $counter after $n increments, SET's value '$value'"
        return
    fi
    while IFS=, read -r test rps _ _ p50 _ p99 _; do
        test=$(echo "$test" | tr -d '"' | tr '[:upper:]' '[:lower:]')
        [ "$test" = test ] && continue
        local w=resp_${test}_pipe$p
        rps=${rps//\"/} p50=${p50//\"/} p99=${p99//\"/}
        echo "# $w $(runtime_of "$s"): $rps req/s, p50 $p50 ms, p99 $p99 ms"
        record "$w" "$s" "$rps"
        record "${w}_p50" "$s" "$p50"
        record "${w}_p99" "$s" "$p99"
    done <<<"$out"
}

# ---------------------------------------------------------------- report
# The values of WORKLOAD for SERVER, in the order measured.
values() { awk -v w="$1" -v s="$2" '$1 == w && $2 == s { printf "%s ", $3 }' "$tmp/results" 2>/dev/null; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit; printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# report WORKLOAD UNIT SERVER...: the result lines of one workload.
report() {
    local w=$1 unit=$2 s m v base="" weft=""
    shift 2
    for s in "$@"; do
        v=$(values "$w" "$s")
        [ -n "$v" ] || continue
        m=$(echo "$v" | median)
        echo "# $w $(runtime_of "$s") ($unit): ${v% } [median $m]"
        case $s in
        nginx | redis) base=$m; echo "baseline $s $m $unit" ;;
        *) echo "$(runtime_of "$s") $w $m $unit" ;;
        esac
        [ "$s" = weft_http ] || [ "$s" = weft_resp ] && weft=$m
    done
    if [ -n "$base" ] && [ -n "$weft" ]; then
        awk -v w="$w" -v a="$weft" -v b="$base" 'BEGIN { if (b > 0) printf "ratio %s %.3f\n", w, a / b }'
    fi
}

# The lowest and the highest of the values on stdin: "min-max".
spread() { tr ' ' '\n' | grep . | sort -g | sed -n '1h; ${H; x; s/\n/-/; p}'; }

summary_row() { # summary_row WORKLOAD SERVER
    local r
    r=$(values "$1" "$2" | median)
    [ -n "$r" ] || return 0
    printf '#   %-24s %-6s %11s %-21s %6s %8s %-15s\n' "$1" "$(runtime_of "$2")" "$r" \
        "($(values "$1" "$2" | spread))" "$(values "$1_p50" "$2" | median)" \
        "$(values "$1_p99" "$2" | median)" "($(values "$1_p99" "$2" | spread))"
}

# ---------------------------------------------------------------- run
start_s=$(date +%s)
echo "# realclients: $(uname -m), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs," \
    "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "-r $reps -d $dur -n $resp_n, $workers workers/threads/processes per server"
echo "# clients: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(redis-benchmark --version 2>/dev/null || redis-cli --version)"
load_start "$load_n" || exit 2
start_all

resp_ok=()
for s in "${resp_servers[@]}"; do
    resp_check "$s" && resp_ok+=("$s")
done
resp_servers=(${resp_ok[@]+"${resp_ok[@]}"})
offload_servers=()
for s in "${http_servers[@]}"; do
    [ "$s" = nginx ] || offload_servers+=("$s")
done

# Warm-up (not recorded): every server serves every workload briefly once,
# so that no first measured run pays for threads, caches and connections.
echo "# warm-up: wrk -d1s on every route, redis-benchmark -n 10000 on every RESP server"
for s in "${http_servers[@]}"; do
    timeout 30 wrk -t1 -c50 -d1s "http://127.0.0.1:${srv_port[$s]}/" >/dev/null 2>&1
done
for s in "${offload_servers[@]}"; do
    timeout 30 wrk -t1 -c50 -d1s "http://127.0.0.1:${srv_port[$s]}/offload" >/dev/null 2>&1
done
for s in "${resp_servers[@]}"; do
    timeout 60 redis-benchmark -h 127.0.0.1 -p "${srv_port[$s]}" -c 50 -n 10000 -q \
        -t ping,set,get,incr >/dev/null 2>&1
done

for ((rep = 1; rep <= reps; rep++)); do
    echo "# == repetition $rep of $reps (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for s in "${http_servers[@]}"; do http_run "$s" / http_plain; done
    for s in "${offload_servers[@]}"; do http_run "$s" /offload http_offload; done
    for p in 1 16; do
        for s in "${resp_servers[@]}"; do resp_run "$s" "$p"; done
    done
done

resp_tests=(ping_inline ping_mbulk set get incr)
workloads=(http_plain http_offload)
for p in 1 16; do
    for t in "${resp_tests[@]}"; do workloads+=("resp_${t}_pipe$p"); done
done
echo "# == results (median of $reps; latency in ms)"
for w in "${workloads[@]}"; do
    case $w in http_*) list=("${http_servers[@]}") ;; *) list=("${resp_servers[@]}") ;; esac
    [ ${#list[@]} -gt 0 ] || continue
    report "$w" req/s "${list[@]}"
    report "${w}_p50" ms "${list[@]}"
    report "${w}_p99" ms "${list[@]}"
done

echo "# == summary (median of $reps runs of each, the lowest and highest in brackets)"
printf '#   %-24s %-6s %11s %-21s %6s %8s %-15s\n' workload server req/s '(range)' 'p50 ms' 'p99 ms' '(range)'
for w in "${workloads[@]}"; do
    case $w in http_*) list=("${http_servers[@]}") ;; *) list=("${resp_servers[@]}") ;; esac
    for s in "${list[@]}"; do summary_row "$w" "$s"; done
done
echo "# took $(($(date +%s) - start_s)) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"

stop_servers
for f in "${failed[@]}"; do
    echo "# FAILED: $f"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench/realclients.sh: ${#failed[@]} failure(s)" >&2
    exit 1
fi
