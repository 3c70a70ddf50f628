#!/usr/bin/env bash
# Install a weft build into a temporary prefix and build a small consumer
# against it, both with pkg-config and with find_package(weft).  CTest test
# `install_consumer`; exit status 77 means "skipped".
#
#   install_check.sh <build-dir> <consumer-source-dir> [cmake] [cc] [config]
set -euo pipefail

build=${1:?build dir}
consumer=${2:?consumer source dir}
cmake=${3:-cmake}
cc=${4:-cc}
config=${5:-}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

command -v "$cmake" >/dev/null 2>&1 || skip "cmake not available"
command -v "$cc" >/dev/null 2>&1 || skip "C compiler '$cc' not available"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-install-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=install_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/install_lib.sh"
weft_install "$build" "$cmake" "$config" "$tmp"
pc=$pcdir/weft.pc
# The soname: libweft.so.0.<minor> while the major version is 0 (weft.h).
version=$(sed -n 's/^#define WEFT_VERSION_\(MAJOR\|MINOR\) \([0-9]*\)$/\2/p' "$prefix/include/weft.h" | paste -sd.)
[[ $version == 0.* ]] || version=${version%%.*}
soname=libweft.so.$version
for f in "$prefix/include/weft.h" "$libdir/libweft.so" "$libdir/$soname" "$libdir/libweft.a" \
         "$libdir/cmake/weft/weftConfig.cmake" "$libdir/cmake/weft/weftConfigVersion.cmake" \
         "$libdir/cmake/weft/weftTargets.cmake"; do
  [[ -e "$f" ]] || fail "not installed: ${f#"$prefix"/}"
done
grep -q "^prefix=$prefix\$" "$pc" || { cat "$pc"; fail "weft.pc has the wrong prefix"; }

# Only the public API (weft_*) leaves the shared library.
if command -v nm >/dev/null 2>&1; then
  step "exported symbols of libweft.so"
  # To a file first: `nm | grep -q` under pipefail fails when grep stops
  # reading early and nm dies of SIGPIPE.
  nm -D --defined-only "$libdir/libweft.so" >"$tmp/symbols"
  extra=$(awk 'NF >= 3 { print $3 }' "$tmp/symbols" \
          | grep -Ev '^(weft_|_init$|_fini$|_edata$|_end$|__bss_start$)' || true)
  [[ -z "$extra" ]] || fail "libweft.so exports non-API symbols (missing static / visibility?):"$'\n'"$extra"
  grep -q ' weft_run$' "$tmp/symbols" || fail "libweft.so does not export weft_run"
fi

src=$consumer/consumer.c

if command -v pkg-config >/dev/null 2>&1; then
  export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  step "pkg-config: weft $(pkg-config --modversion weft)"
  cflags=$(pkg-config --cflags weft)
  libs=$(pkg-config --libs weft)
  # shellcheck disable=SC2086
  "$cc" -std=gnu11 $cflags "$src" -o "$tmp/consumer_pc" $libs -Wl,-rpath,"$libdir" \
    || fail "pkg-config (shared) consumer does not build"
  "$tmp/consumer_pc" || fail "pkg-config (shared) consumer failed"

  static_libs=$(pkg-config --static --libs weft)
  static_libs=${static_libs//-lweft/$libdir/libweft.a}
  # shellcheck disable=SC2086
  "$cc" -std=gnu11 $cflags "$src" -o "$tmp/consumer_pc_static" $static_libs \
    || fail "pkg-config --static consumer does not build (libs: $static_libs)"
  if command -v readelf >/dev/null 2>&1 && readelf -d "$tmp/consumer_pc_static" | grep -q 'libweft\.so'; then
    fail "static consumer links libweft.so"
  fi
  "$tmp/consumer_pc_static" || fail "pkg-config (static) consumer failed"
else
  echo "pkg-config not available: pkg-config consumer skipped"
fi

step "find_package(weft)"
cbuild=$tmp/consumer-build
"$cmake" -S "$consumer" -B "$cbuild" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log"; fail "consumer configure failed"; }
grep -q "^weft_DIR:PATH=$prefix/" "$cbuild/CMakeCache.txt" \
  || { grep '^weft_DIR' "$cbuild/CMakeCache.txt"; fail "find_package(weft) did not use $prefix"; }
"$cmake" --build "$cbuild" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build failed"; }
"$cbuild/consumer_shared" || fail "find_package consumer (weft::weft) failed"
"$cbuild/consumer_static" || fail "find_package consumer (weft::weft_static) failed"
if command -v readelf >/dev/null 2>&1; then
  readelf -d "$cbuild/consumer_shared" | grep -qF "[$soname]" || fail "consumer_shared does not use $soname"
  if readelf -d "$cbuild/consumer_static" | grep -q 'libweft\.so'; then
    fail "consumer_static links libweft.so"
  fi
fi

echo "install_consumer: ok"
