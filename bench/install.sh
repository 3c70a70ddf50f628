#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing:
# with apt-get as root (an `apt-get update` first if the install fails),
# else only say which are missing.  Used by `make peers`, `make
# bench-clients` and bench/realclients.sh.  Exits non-zero only when an
# install was tried and failed.
#
# usage: bench/install.sh PACKAGE...
missing=()
for p in "$@"; do
    dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "# apt-get install -y ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${missing[@]}" ||
        { apt-get update && apt-get install -y "${missing[@]}"; }
else
    echo "# not installed: ${missing[*]} (run as root to install them)" >&2
fi
