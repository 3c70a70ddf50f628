# shellcheck shell=bash
# load.sh — the "busy machine" mode of bench/run.sh, bench/peers/run.sh and
# bench/realclients.sh (sourced by them, not run).
#
#   load_args ARGS...  take --load N (or --load=N) out of ARGS: sets load_n
#                  (default 0) and the array load_rest (the other arguments)
#   load_start N   start N CPU-bound processes (each a shell busy loop,
#                  `while :; do :; done`, at the default priority) and print
#                  one line saying so; N = 0 starts none and prints nothing
#   load_stop      stop them (the scripts call it from their EXIT trap)
#
# They run beside every program the script runs, for its whole run, so each
# program competes with N spinners for the machine's CPUs as it would on a
# busy server.

load_pids=()

load_args() {
    load_n=0
    load_rest=()
    while [ $# -gt 0 ]; do
        case $1 in
        --load) load_n=${2:-}; shift; [ $# -gt 0 ] && shift ;;
        --load=*) load_n=${1#--load=}; shift ;;
        *) load_rest+=("$1"); shift ;;
        esac
    done
}

load_start() {
    local n=$1 i
    case $n in '' | *[!0-9]*)
        echo "--load needs a number of processes, not '$n'" >&2
        return 2
        ;;
    esac
    [ "$n" -gt 0 ] || return 0
    for ((i = 0; i < n; i++)); do
        sh -c 'while :; do :; done' &
        load_pids+=($!)
    done
    echo "# load: $n CPU-bound processes (shell busy loops) beside every program," \
        "on $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs"
}

load_stop() {
    local p
    for p in "${load_pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${load_pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    load_pids=()
}
