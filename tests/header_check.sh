#!/usr/bin/env bash
# The public headers compile wherever a user compiles them: strict ISO C
# (-std=c99, c11, c17) or C++17, with -Wall -Wextra -Wpedantic -Werror and
# no feature-test macros.  Each header alone and all of them in one file
# (weft/test.h after <cmocka.h> and what it needs, and alone with
# WEFT_TEST_NO_CMOCKA); in C++ every function must also have C linkage.
# CTest tests `headers_<compiler>`; exit status 77 means "skipped" (the
# compiler is not installed).
#
#   header_check.sh <compiler> <include-dir>
set -uo pipefail

cc=${1:?compiler}
inc=${2:?include dir}

command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: $cc is not installed"; exit 77; }
case $cc in
  *++) lang=c++ stds="c++17" ext=cpp ;;
  *) lang=c stds="c99 c11 c17" ext=c ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# cmocka's own flags, as a user's build passes them; its header's warnings
# are not ours (-isystem).
third_party=$(pkg-config --cflags-only-I cmocka 2>/dev/null | sed 's/-I/-isystem /g')
cmocka_prelude='#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>'

headers=(weft.h)
for h in "$inc"/weft/*.h; do headers+=("weft/${h##*/}"); done

# One translation unit per header, and one with them all.
units=()
all=""
for h in "${headers[@]}"; do
  unit=$tmp/${h//\//_}.$ext
  if [[ $h == weft/test.h ]]; then
    printf '%s\n#include <%s>\n' "$cmocka_prelude" "$h" >"$unit"
    all+="$cmocka_prelude"$'\n'
  else
    printf '#include <%s>\n' "$h" >"$unit"
  fi
  all+="#include <$h>"$'\n'
  units+=("$unit")
done
printf '%s' "$all" >"$tmp/all.$ext"
# weft/test.h's framework-free part, without cmocka.
printf '#define WEFT_TEST_NO_CMOCKA\n#include <weft/test.h>\n' >"$tmp/test_no_cmocka.$ext"
units+=("$tmp/test_no_cmocka.$ext")

# C++: reference every function (WEFT_EXTERN) the headers declare, so that
# the object file names each one as it is linked: unmangled.
functions=$(sed -n 's/^WEFT_EXTERN[^(]*[^A-Za-z0-9_]\(weft_[A-Za-z0-9_]*\)(.*/\1/p' \
            "$inc/weft.h" "$inc"/weft/*.h | sort -u)
if [[ $lang == c++ ]]; then
  {
    printf '%s' "$all"
    echo 'typedef void (*weft_check_fn)(void);'
    echo 'static const weft_check_fn weft_check_refs[] = {'
    for f in $functions; do echo "    reinterpret_cast<weft_check_fn>(&$f),"; done
    echo '};'
    echo 'int main() { return weft_check_refs[0] == nullptr; }'
  } >"$tmp/linkage.cpp"
fi

failed=0
check() { # what, then the compiler's arguments
  local what=$1
  shift
  if ! out=$("$cc" "$@" 2>&1); then
    echo "FAIL: $what"
    echo "$out"
    failed=1
  fi
}

flags=(-Wall -Wextra -Wpedantic -Werror -I "$inc")
# shellcheck disable=SC2206
flags+=($third_party)
for std in $stds; do
  for unit in "${units[@]}" "$tmp/all.$ext"; do
    name=${unit##*/}
    check "$cc -std=$std ${name%.*}" -std="$std" "${flags[@]}" -fsyntax-only "$unit"
  done
done

# As weft-tsan's and weft-asan's users compile them (weft.h's checks of the
# build), where the compiler has the sanitizer.
for san in thread:TSAN address:ASAN; do
  echo 'int x;' | "$cc" -x "$lang" -fsanitize="${san%:*}" -fsyntax-only - >/dev/null 2>&1 || continue
  for std in $stds; do
    check "$cc -std=$std all, -fsanitize=${san%:*} -DWEFT_LINK_${san#*:}" -std="$std" "${flags[@]}" \
      -fsanitize="${san%:*}" -DWEFT_LINK_"${san#*:}" -fsyntax-only "$tmp/all.$ext"
  done
done

if [[ $lang == c++ ]]; then
  check "$cc: every function referenced" -std=c++17 "${flags[@]}" -c "$tmp/linkage.cpp" \
    -o "$tmp/linkage.o"
  if [[ -f $tmp/linkage.o ]] && command -v nm >/dev/null 2>&1; then
    undefined=$(nm -u "$tmp/linkage.o" | awk '{ print $NF }')
    for f in $functions; do
      grep -qx "$f" <<<"$undefined" || { echo "FAIL: $f has no C linkage in C++"; failed=1; }
    done
  fi
fi

count=$(wc -w <<<"$functions")
[[ $failed == 0 ]] && echo "OK: ${#headers[@]} headers with $cc ($stds), $count functions"
exit $failed
