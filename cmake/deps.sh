#!/usr/bin/env bash
# Install what building and testing weft needs, on Debian/Ubuntu (`make deps`).
#
# Checks each requirement (a command, or a pkg-config module / dpkg package);
# only when something is missing does it run
#   apt-get install -y --no-install-recommends <missing packages>
# as root, or through sudo; `apt-get update` runs first only when the package
# lists are empty, or after an install fails.  Without root or sudo (or
# apt-get), it prints what is missing and fails.
#
# Environment: CC (the compiler to check, default cc), CLANG (the clang of
# make test's clang and fuzz builds, default clang), WEFT_DEPS_CLANG=1 (also
# check for clang and its runtimes, and the real clients curl, wrk and
# redis-tools: make test), WEFT_DEPS_DRY_RUN=1
# (print the apt-get commands instead of running them), WEFT_DPKG_QUERY (the
# dpkg-query to ask, for testing), WEFT_APT_LISTS_DIR (default /var/lib/apt/lists).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
dpkg_query=${WEFT_DPKG_QUERY:-dpkg-query}
missing=()

say() { echo "deps: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
# Any installed instance (multi-arch systems may list several).
dpkg_installed() {
  "$dpkg_query" -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed
}
need() { # need <package> : add once
  local p
  for p in "${missing[@]+"${missing[@]}"}"; do [[ "$p" == "$1" ]] && return 0; done
  missing+=("$1")
}

check_all() {
  missing=()
  # Tools.
  local cc=${CC:-cc}
  if ! have "$cc"; then
    case "$(basename "$cc")" in
      clang*) need clang ;;
      *) need gcc; need libc6-dev ;;
    esac
  fi
  # A compiler without libc headers (gcc installed without recommends).
  if have "$cc" && ! echo '#include <stdio.h>
int main(void) { return 0; }' | "$cc" -x c -fsyntax-only - >/dev/null 2>&1; then
    need libc6-dev
  fi
  # clang for make test's clang builds and fuzzing (CLANG, default clang),
  # with its sanitizer and libFuzzer runtimes (only recommended by clang on
  # Debian, so not pulled in by --no-install-recommends).
  # Only for make test (WEFT_DEPS_CLANG=1): make demo needs none of it.
  local clang=${CLANG:-clang}
  if [[ "${WEFT_DEPS_CLANG:-0}" != 1 ]]; then
    :
  elif ! have "$clang"; then
    need clang
    need libclang-rt-dev # the runtimes of Debian's default clang
  elif ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
      "$clang" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
    local cv
    cv=$("$clang" -dumpversion 2>/dev/null | cut -d. -f1)
    if [[ -n "$cv" ]]; then need "libclang-rt-$cv-dev"; fi
  fi
  # The real clients tests/test_examples.c drives the example servers with
  # (make test; a missing one makes its case skip).
  if [[ "${WEFT_DEPS_CLANG:-0}" == 1 ]]; then
    have curl || need curl
    have wrk || need wrk
    { have redis-cli && have redis-benchmark; } || need redis-tools
  fi
  have make || need make
  have cmake || need cmake
  have pkg-config || need pkg-config
  # gcc's sanitizer runtimes come with gcc on Debian; check they are there.
  if have "$cc" && "$cc" --version 2>/dev/null | grep -qi 'gcc\|free software'; then
    local tsan
    tsan=$("$cc" -print-file-name=libtsan.so 2>/dev/null || true)
    if [[ "$tsan" != /* ]]; then
      local v
      v=$("$cc" -dumpversion 2>/dev/null | cut -d. -f1)
      if [[ -n "$v" ]]; then need "libgcc-$v-dev"; fi
    fi
  fi
  # Libraries: pkg-config when it is there, else the Debian package.  libcurl
  # is for examples/curl_fetch.c and its test (built only where it is found);
  # OpenSSL 3 for TLS streams, its command line tool for their tests' peers.
  local mod pkg
  have openssl || need openssl
  for mod in libuv:libuv1-dev cmocka:libcmocka-dev libcurl:libcurl4-openssl-dev openssl:libssl-dev; do
    pkg=${mod#*:}
    mod=${mod%%:*}
    if have pkg-config; then
      pkg-config --exists "$mod" || need "$pkg"
    else
      dpkg_installed "$pkg" || need "$pkg"
    fi
  done
}

check_all
if [[ ${#missing[@]} -eq 0 ]]; then
  say "all present"
  exit 0
fi
say "missing: ${missing[*]}"

if ! have apt-get; then
  say "no apt-get here: install ${missing[*]} (or your system's equivalents) yourself" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif have sudo; then
  sudo=(sudo)
else
  say "not root and no sudo: run as root:" >&2
  say "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

run() {
  if [[ "${WEFT_DEPS_DRY_RUN:-}" == 1 ]]; then
    echo "+ $*"
  else
    "$@"
  fi
}
apt_update() { run "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update -q; }
apt_install() {
  run "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Fresh containers ship without package lists.
if ! compgen -G "${WEFT_APT_LISTS_DIR:-/var/lib/apt/lists}/*_Packages*" >/dev/null; then
  apt_update
fi
if ! apt_install; then
  say "install failed; updating the package lists and retrying"
  apt_update
  apt_install
fi

[[ "${WEFT_DEPS_DRY_RUN:-}" == 1 ]] && exit 0
hash -r
check_all
if [[ ${#missing[@]} -ne 0 ]]; then
  say "still missing after apt-get install: ${missing[*]}" >&2
  exit 1
fi
say "installed"
