#!/usr/bin/env bash
# Run a libFuzzer harness for a bounded time on the committed corpus.
#
#   fuzz/run.sh <harness> <seconds> [extra libFuzzer flags...]
#
# New inputs go to a scratch directory (removed afterwards) so that the
# repository's fuzz/corpus stays as committed; a crash leaves its input as
# ./crash-<sha1> in the working directory and makes this script fail.  The
# last lines are libFuzzer's final statistics (executions, exec/s).
# FUZZ_KEEP=<dir>: keep the new inputs in <dir> instead (to merge them
# into fuzz/corpus with `<harness> -merge=1 fuzz/corpus <dir>`).
set -euo pipefail
harness=${1:?usage: run.sh <harness> <seconds> [flags...]}
seconds=${2:?usage: run.sh <harness> <seconds> [flags...]}
shift 2
corpus="$(cd "$(dirname "$0")" && pwd)/corpus"
if [[ -n "${FUZZ_KEEP:-}" ]]; then
  scratch=$FUZZ_KEEP
  mkdir -p "$scratch"
else
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/weft-fuzz.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
fi
# -timeout: one input normally takes milliseconds; the harness's own guard
# (fail_after) aborts a stuck one after 20 s.  LeakSanitizer runs after
# every input that allocated more than it freed (-detect_leaks, default on).
# The progress lines (one per new input) are left out.
set +e
"$harness" -max_total_time="$seconds" -timeout=60 -max_len=512 -rss_limit_mb=4096 \
  -print_final_stats=1 "$@" "$scratch" "$corpus" 2>&1 |
  grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|# Uses: '
rc=${PIPESTATUS[0]}
set -e
echo "fuzz: $(basename "$harness") ran ${seconds}s, exit status $rc"
exit "$rc"
