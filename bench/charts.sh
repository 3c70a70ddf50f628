#!/usr/bin/env bash
# SVG charts of weft beside its peers, drawn with gnuplot from the result
# tables of docs/BENCHMARKS.md (the numbers measured and written down there;
# nothing is run here).  `make charts`, and the end of `make bench`.
#
# usage: bench/charts.sh [BENCHMARKS.md] [OUT_DIR]   (default: docs/BENCHMARKS.md, build-release/charts)
#        bench/charts.sh --check   (CTest charts_up_to_date: the tables still parse, and
#                                   docs/charts/peers.svg is what they draw; 77 without gnuplot)
#
#   peers.svg        ping_pong, channel_throughput, lock_contention, tcp_echo:
#                    weft, Go and Tokio on the 2-core machine ("weft beside Go
#                    and Tokio"), bars the median of the sets, whiskers their range
#   realclients.svg  the HTTP and Redis-protocol servers under wrk and
#                    redis-benchmark ("Real clients"): medians and ranges
#   scaling.svg      the same four workloads at 1-16 workers on 16 cores
#                    ("Scaling past 2 cores", the series with the peers)
# A busy-machine chart needs a table measured with --load N; BENCHMARKS.md has
# none yet.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check=0
if [ "${1-}" = --check ]; then check=1; shift; fi
md=${1:-$here/../docs/BENCHMARKS.md}
out=${2:-$here/../build-release/charts}
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench/charts.sh: gnuplot is not installed (Debian: gnuplot-nox)" >&2
    [ $check = 1 ] && exit 77
    exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-charts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ $check = 1 ] && out=$tmp/out
mkdir -p "$out"

# table HEADER_PREFIX: the rows of the first table whose header line starts
# with HEADER_PREFIX, one per line, cells separated by tabs, without the
# markdown (bold, code quotes, thousands separators; en dashes as '-').
table() {
    awk -v want="$1" '
        index($0, want) == 1 { on = 1; next }
        on && /^\|---/ { next }
        on && !/^\|/ { exit }
        on {
            gsub(/\*\*|`|,/, ""); gsub(/\xe2\x80\x93/, "-")
            n = split($0, c, "|"); row = ""
            for (i = 2; i < n; i++) { gsub(/^ +| +$/, "", c[i]); row = row (i > 2 ? "\t" : "") c[i] }
            print row
        }' "$md"
}

# need FILE TABLE: the table was found (a renamed header would leave it empty).
need() { [ -s "$1" ] || { echo "bench/charts.sh: no table '$2' in $md" >&2; exit 1; }; }

# median / lowest / highest of "a / b / c" (one set), or of "m (lo-hi)".
stats='function stats(s,   v, n, i, j, t) {
    if (match(s, /\(.*-.*\)/)) {
        split(substr(s, RSTART + 1, RLENGTH - 2), v, "-")
        return (s + 0) " " (v[1] + 0) " " (v[2] + 0)
    }
    n = split(s, v, " / ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (v[int((n + 1) / 2)] + 0) " " (v[1] + 0) " " (v[n] + 0)
}'

style='set terminal svg size 1000,330 dynamic font "sans,11" background "#ffffff"
set style fill solid 0.85 border -1
set style histogram errorbars gap 1 lw 1
set style data histograms
set grid ytics lc "#dddddd"
set border 3; set xtics nomirror scale 0; set ytics nomirror
set key top left noenhanced
set yrange [0:*]
set termoption noenhanced
weft = "#d9480f"; go = "#1c7ed6"; tokio = "#495057"; ref = "#94d82d"'

# ---------------------------------------------------------------- peers
# The last row of each workload (tcp_echo: after connection placement), the
# unit from its first.
table "| workload | set | hand-off | weft | Go | Tokio |" |
    awk -F'\t' "$stats"'{ split($1, w, " "); name = w[1]
        line[name] = name " " stats($4) " " stats($5) " " stats($6)
        if (!(name in unit)) { u = $1; sub(/^[^(]*\(/, "", u); sub(/\).*/, "", u); unit[name] = u; order[++n] = name } }
        END { for (i = 1; i <= n; i++) print line[order[i]] "\t" unit[order[i]] }' >"$tmp/peers.txt"
need "$tmp/peers.txt" "weft beside Go and Tokio"
cut -f1 "$tmp/peers.txt" >"$tmp/peers.dat"
{
    echo "$style"
    echo "set output '$out/peers.svg'"
    echo "set multiplot layout 1,4 title 'weft, Go 1.19 and Tokio 1.24 on a 2-core VM, 2 workers each (docs/BENCHMARKS.md: medians of 3 sets, whiskers their range)'"
    i=0
    while IFS=$'\t' read -r line unit; do
        better="lower is better"
        case $unit in *"/s"*) better="higher is better" ;; esac
        echo "set title '${line%% *}'; set ylabel '$unit ($better)'"
        if [ $i -eq 0 ]; then echo "set key top left"; else echo "unset key"; fi
        echo "plot '$tmp/peers.dat' every ::$i::$i using 2:3:4:xtic('') title 'weft' lc rgb weft, '' every ::$i::$i using 5:6:7 title 'Go' lc rgb go, '' every ::$i::$i using 8:9:10 title 'Tokio' lc rgb tokio"
        i=$((i + 1))
    done <"$tmp/peers.txt"
    echo "unset multiplot"
} >"$tmp/peers.gp"
gnuplot "$tmp/peers.gp"

# ---------------------------------------------------------------- real clients
table "| workload | weft | Go | Tokio | nginx |" |
    awk -F'\t' "$stats"'$1 ~ /req\/s/ { sub(/ k req\/s/, "", $1); print "\"" $1 "\" " stats($2) " " stats($3) " " stats($4) " " stats($5) }' \
    >"$tmp/http.dat"
table "| redis-benchmark test | weft | Go | Tokio | redis-server |" |
    awk -F'\t' "$stats"'{ sub(/ k req\/s/, "", $1); print "\"" $1 "\" " stats($2) " " stats($3) " " stats($4) " " stats($5) }' \
    >"$tmp/resp.dat"
need "$tmp/http.dat" "Real clients: HTTP"
need "$tmp/resp.dat" "Real clients: redis-benchmark"
{
    echo "$style"
    echo "set output '$out/realclients.svg'"
    echo "set multiplot layout 1,2 title 'Real clients on a 2-core VM shared with other work (docs/BENCHMARKS.md: medians of 3 runs, whiskers lowest-highest)'"
    echo "set ylabel 'k requests/s (higher is better)'"
    echo "set xtics rotate by -30"
    # One key for both panels (the HTTP one names only its fourth server).
    echo "set origin 0,0; set size 0.3,0.93; set key top right"
    echo "set title 'HTTP/1.1, wrk -c50'"
    echo "plot '$tmp/http.dat' using 2:3:4:xtic(1) notitle lc rgb weft, '' using 5:6:7 notitle lc rgb go, '' using 8:9:10 notitle lc rgb tokio, '' using 11:12:13 title 'nginx' lc rgb ref"
    echo "set origin 0.3,0; set size 0.7,0.93; set key top left"
    echo "set title 'RESP, redis-benchmark -c 50'"
    echo "plot '$tmp/resp.dat' using 2:3:4:xtic(1) title 'weft' lc rgb weft, '' using 5:6:7 title 'Go' lc rgb go, '' using 8:9:10 title 'Tokio' lc rgb tokio, '' using 11:12:13 title 'redis-server' lc rgb ref"
    echo "unset multiplot"
} >"$tmp/realclients.gp"
gnuplot "$tmp/realclients.gp"

# ---------------------------------------------------------------- scaling
table "| workers | ping_pong ns (weft / Go / Tokio) |" |
    awk -F'\t' '$1 ~ /^[0-9]+$/ { printf "%s", $1; for (i = 2; i <= 5; i++) { gsub(/ \/ /, " ", $i); printf " %s", $i }; print "" }' \
    >"$tmp/scaling.dat"
need "$tmp/scaling.dat" "Scaling past 2 cores, with the peers"
{
    echo "$style"
    echo "set output '$out/scaling.svg'"
    echo "set style data linespoints"
    echo "set logscale x 2; set xrange [0.8:20]; set xtics (1, 2, 4, 8, 16); set xlabel 'workers (16-core machine)'"
    echo "set multiplot layout 1,4 title 'Scaling: weft, Go and Tokio at 1-16 workers on 16 cores (docs/BENCHMARKS.md, -r 5 medians)'"
    col=2
    for w in "ping_pong:ns/round trip (lower is better)" "channel_throughput:M items/s (higher is better)" \
             "lock_contention:ns/op (lower is better)" "tcp_echo:k round trips/s (higher is better)"; do
        echo "set title '${w%%:*}'; set ylabel '${w#*:}'"
        echo "plot '$tmp/scaling.dat' using 1:$col title 'weft' lc rgb weft lw 2 pt 7, '' using 1:$((col + 1)) title 'Go' lc rgb go lw 2 pt 5, '' using 1:$((col + 2)) title 'Tokio' lc rgb tokio lw 2 pt 9"
        echo "unset key"
        col=$((col + 3))
    done
    echo "unset multiplot"
} >"$tmp/scaling.gp"
gnuplot "$tmp/scaling.gp"

if [ $check = 1 ]; then
    # Another gnuplot writes other bytes: compare only what this one drew.
    committed=$here/../docs/charts/peers.svg
    if ! grep -qF "$(grep -m1 '<desc>' "$out/peers.svg")" "$committed"; then
        echo "bench/charts.sh: docs/charts/peers.svg is from another gnuplot; not compared"
    elif ! cmp -s "$out/peers.svg" "$committed"; then
        echo "bench/charts.sh: docs/charts/peers.svg is stale: make charts, then copy" \
             "build-release/charts/peers.svg there" >&2
        exit 1
    fi
    echo "bench/charts.sh: the tables parse, docs/charts/peers.svg is up to date"
    exit 0
fi
echo "bench/charts.sh: $out/peers.svg $out/realclients.svg $out/scaling.svg"
