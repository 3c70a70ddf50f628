#!/usr/bin/env bash
# The README's "A first program" from its instructions alone: its code and
# command blocks (each after a `<!-- readme-test: NAME -->` line) are taken
# out of README.md and run as written against this build installed into a
# temporary prefix, and against the TSan (and ASan) build installed beside it
# when their dirs are given; then what the README says about finding the
# library and about mixing builds.  CTest test `readme_first_program`; exit
# status 77 means "skipped".
#
#   readme_check.sh <README.md> <build-dir> <tsan-dir|""> <asan-dir|""> <cmake> <cc> <config> [tsan launcher...]
set -euo pipefail

readme=${1:?README.md}
build=${2:?build dir}
tsan_dir=${3-}
asan_dir=${4-}
cmake=${5:-cmake}
cc=${6:-cc}
config=${7-}
shift 7 || shift $#
launcher=("$@")        # e.g. setarch x86_64 -R, when gcc's TSan needs ASLR off

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# has_symbol <binary> <regex>: through a file, as `nm | grep -q` under
# pipefail fails when grep stops reading early and nm dies of SIGPIPE.
has_symbol() { nm "$1" >"$tmp/symbols" && grep -q "$2" "$tmp/symbols"; }

command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not available"
command -v "$cc" >/dev/null 2>&1 || skip "C compiler '$cc' not available"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=install_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/install_lib.sh"
weft_install "$build" "$cmake" "$config" "$tmp"
# The other dirs with their own build type (<config> is this build's).
[[ -z "$tsan_dir" ]] || weft_install "$tsan_dir" "$cmake" "" "$tmp" weft-tsan
[[ -z "$asan_dir" ]] || weft_install "$asan_dir" "$cmake" "" "$tmp" weft-asan

# The blocks, each into work/NAME (code) or NAME.sh (commands).
work=$tmp/work
mkdir "$work"
awk -v work="$work" -v tmp="$tmp" '
  /^<!-- readme-test: [A-Za-z0-9_.-]+ -->$/ { name = $3; next }
  name != "" && /^```/ && out == "" {
    out = (name ~ /\.c$/) ? work "/" name : tmp "/" name ".sh"; next }
  out != "" && /^```$/ { close(out); out = ""; name = ""; next }
  out != "" { print > out }
' "$readme"
for f in "$work/hello.c" "$work/counter.c" "$tmp/plain.sh" "$tmp/tsan.sh"; do
  [[ -s "$f" ]] || fail "README.md has no readme-test block for ${f##*/}"
done
consumer=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/install
cd "$work"
export PREFIX=$prefix
# As the user's shell: no pkg-config path of the machine's own weft.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH

step "README: build and run hello.c"
out=$(bash -euo pipefail "$tmp/plain.sh" 2>&1) || { echo "$out"; fail "the README's commands failed"; }
echo "$out"
grep -qx "fetched 1" <<<"$out" || fail "hello printed no 'fetched 1'"
[[ $(readelf -d hello 2>/dev/null) == *"[libweft.so.0.2]"* ]] || fail "hello does not need libweft.so.0.2"

# What the README says about finding the library without the rpath.
export PKG_CONFIG_PATH=$pcdir
# shellcheck disable=SC2046
"$cc" hello.c -o hello_norpath $(pkg-config --cflags --libs weft)
if out=$(./hello_norpath 2>&1); then fail "hello without rpath ran without LD_LIBRARY_PATH"; fi
grep -q "error while loading shared libraries: libweft.so.0.2" <<<"$out" \
  || { echo "$out"; fail "hello without rpath: not the loader's error the README quotes"; }
LD_LIBRARY_PATH=$PREFIX/lib ./hello_norpath >/dev/null || fail "LD_LIBRARY_PATH=\$PREFIX/lib ./hello failed"

# A sanitizer build: the README's tsan block (weft-asan: the same with its name).
run_sanitized() { # <package> <script>
  local package=$1 script=$2 out
  step "README: counter.c with $package"
  out=$("${launcher[@]+"${launcher[@]}"}" bash -euo pipefail "$script" 2>&1) \
    || { echo "$out"; fail "the README's $package commands failed"; }
  echo "$out"
  grep -qx "counter = 8000" <<<"$out" || fail "$package: counter is not 8000"
  if grep -q "Sanitizer" <<<"$out"; then fail "$package: the sanitizer reported something"; fi
  has_symbol counter " U weft_built_with_${package#weft-}$" || fail "$package: counter is not linked to $package"
}
# find_package(weft-tsan): weft::weft-tsan and weft::weft-tsan_static carry
# the sanitizer's flags (tests/install's consumer, built with no flags of its own).
cmake_consumer() { # <package>
  local package=$1 cbuild=$tmp/consumer-$1 t
  step "find_package($package)"
  "$cmake" -S "$consumer" -B "$cbuild" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DWEFT_CONSUMER_PACKAGE="$package" >"$tmp/configure.log" 2>&1 \
    || { cat "$tmp/configure.log"; fail "$package consumer configure failed"; }
  "$cmake" --build "$cbuild" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "$package consumer build failed"; }
  for t in consumer_shared consumer_static; do
    "${launcher[@]+"${launcher[@]}"}" "$cbuild/$t" || fail "$package: $t failed"
    has_symbol "$cbuild/$t" "weft_built_with_${package#weft-}" || fail "$package: $t is not built for $package"
  done
}
if [[ -n "$tsan_dir" ]]; then
  cmake_consumer weft-tsan
  run_sanitized weft-tsan "$tmp/tsan.sh"
  has_symbol counter "__tsan_init" || fail "counter is not built with TSan"
  # A plain program linked to libweft-tsan by hand (no flags, no macro)
  # stops at start with a message instead of TSan's SIGSEGV.
  step "plain hello.c linked by hand to libweft-tsan"
  "$cc" hello.c -o hello_tsanlib -I"$prefix/include" -L"$libdir" -lweft-tsan -Wl,-rpath,"$libdir" 2>/dev/null \
    || fail "hello.c does not link to libweft-tsan"
  if out=$("${launcher[@]+"${launcher[@]}"}" ./hello_tsanlib 2>&1); then fail "plain hello ran with libweft-tsan"; fi
  grep -qF "weft-tsan: this program is not linked with -fsanitize=thread" <<<"$out" \
    || { echo "$out"; fail "plain hello with libweft-tsan: not weft-tsan's message"; }
  # The same without the lock must be reported: TSan does see the tasks.
  step "counter.c without its lock, with weft-tsan"
  sed 's/weft_lock_acquire(lock)/0/; s/weft_lock_release(lock);//; s/\bcounter\.c\b/racy.c/; s/-o counter /-o racy /; s|\./counter|./racy|' \
      counter.c >racy.c
  sed 's/\bcounter\.c\b/racy.c/; s/-o counter /-o racy /; s|\./counter|./racy|' "$tmp/tsan.sh" >"$tmp/racy.sh"
  # Whether two workers touch the counter unordered depends on the schedule
  # (a stolen task comes with the order of the steal): up to 5 runs.
  raced=0
  for _ in 1 2 3 4 5; do
    if out=$("${launcher[@]+"${launcher[@]}"}" bash -euo pipefail "$tmp/racy.sh" 2>&1); then :; fi
    if grep -q "WARNING: ThreadSanitizer: data race" <<<"$out"; then raced=1; break; fi
  done
  [[ $raced == 1 ]] || { echo "$out"; fail "TSan reported no race in counter.c without its lock (5 runs)"; }
fi
if [[ -n "$asan_dir" ]]; then
  sed 's/weft-tsan/weft-asan/g' "$tmp/tsan.sh" >"$tmp/asan.sh"
  run_sanitized weft-asan "$tmp/asan.sh"
  cmake_consumer weft-asan
fi

# Mixing builds fails when the program is built, with the README's messages.
mixed() { # <what> <expected message> <cc args...>
  local what=$1 want=$2 out
  shift 2
  step "mixing: $what"
  if out=$("$cc" "$@" 2>&1); then fail "$what: built (expected: $want)"; fi
  grep -qF "$want" <<<"$out" || { echo "$out"; fail "$what: no '$want'"; }
}
for san in thread address; do
  echo 'int main(void) { return 0; }' | "$cc" -x c -fsanitize=$san -o /dev/null - 2>/dev/null || continue
  short=${san:0:1}san            # tsan, asan
  head2=${short:0:2}
  Name=${head2^^}${short:2}      # TSan, ASan
  # shellcheck disable=SC2046
  mixed "-fsanitize=$san with plain weft" \
        "this program is built with $Name: link weft-$short (pkg-config weft-$short" \
        -fsanitize=$san hello.c -o mix $(pkg-config --cflags --libs weft)
  # shellcheck disable=SC2046
  mixed "WEFT_LINK_${short^^} without -fsanitize=$san" \
        "weft-$short is weft built with $Name: compile with -fsanitize=$san" \
        -DWEFT_LINK_"${short^^}" hello.c -o mix $(pkg-config --cflags --libs weft)
  # shellcheck disable=SC2046
  mixed "weft-$short's flags with plain libweft" "undefined reference to \`weft_built_with_$short'" \
        -fsanitize=$san -DWEFT_LINK_"${short^^}" hello.c -o mix $(pkg-config --cflags --libs weft)
done
echo "readme_first_program: ok"
