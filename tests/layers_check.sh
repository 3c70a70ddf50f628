#!/usr/bin/env bash
# The library's layers (docs/ARCHITECTURE.md): sched/ at the bottom knows
# nothing of thread/ or io/; thread/ knows sched/ only; io/ knows both; only
# src/*.c (the composition: runtime.c) knows all three.  Internal headers
# are included by folder ("sched/task.h"), never by bare name.  CTest test
# `layers`.
#
#   layers_check.sh <source-dir>
set -euo pipefail
src=${1:?source dir}/src
fail=0

# forbid <folder> <pattern> <why>: no file under src/<folder> includes <pattern>.
forbid() {
  local hits
  hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"$2" "$src/$1" || true)
  if [[ -n "$hits" ]]; then
    echo "FAIL: $3:"; echo "$hits"; fail=1
  fi
}
forbid sched '(thread|io)/' "src/sched/ includes a header of a layer above it"
forbid thread 'io/' "src/thread/ includes a header of src/io/"

# Every quoted include names its folder (or is a public header).
bare=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$src" \
       | grep -vE '#[[:space:]]*include[[:space:]]+"(sched|thread|io|weft)/|#[[:space:]]*include[[:space:]]+"weft\.h"' || true)
if [[ -n "$bare" ]]; then
  echo "FAIL: an internal header included without its folder:"; echo "$bare"; fail=1
fi
[[ $fail -eq 0 ]] && echo "layers: ok"
exit $fail
