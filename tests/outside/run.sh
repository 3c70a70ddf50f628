#!/usr/bin/env bash
# Programs written as a user would write them (tests/outside/*.c: the public
# header only, built against an *installed* weft with pkg-config, each with
# its own main), run one by one; each must exit 0 within its time limit.
# CTest test `outside_programs`; exit status 77 means "skipped".
#
#   run.sh <build-dir> [cmake] [cc] [config]
set -euo pipefail

build=${1:?build dir}
cmake=${2:-cmake}
cc=${3:-cc}
config=${4:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not available"
command -v "$cc" >/dev/null 2>&1 || skip "C compiler '$cc' not available"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-outside.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../install_lib.sh
source "$here/../install_lib.sh"
weft_install "$build" "$cmake" "$config" "$tmp"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cflags=$(pkg-config --cflags weft)
libs=$(pkg-config --libs weft)

failed=()
for src in "$here"/*.c; do
  name=$(basename "$src" .c)
  step "$name"
  # shellcheck disable=SC2086
  "$cc" -std=c11 -Wall -Wextra -Werror $cflags "$src" -o "$tmp/$name" $libs -lm \
        -Wl,-rpath,"$libdir" || { failed+=("$name (build)"); continue; }
  timeout 120 "$tmp/$name" || failed+=("$name (exit $?)")
done
[[ ${#failed[@]} -eq 0 ]] || fail "${failed[*]}"
echo "outside_programs: ok"
