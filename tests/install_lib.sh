# Sourced by install_check.sh and outside/run.sh: install a weft build into
# a temporary prefix.  Needs `fail` and `step` from the caller.
#
#   weft_install <build-dir> <cmake> <config> <tmp> [<package>]
# sets prefix, pcdir (its pkgconfig dir) and libdir.  <package> (default
# weft) is the name the build installs under: weft-tsan for a TSan build.
# Every build goes into the same prefix, as into /usr/local.
weft_install() {
  local build=$1 cmake=$2 config=$3 tmp=$4 package=${5:-weft}
  prefix=$tmp/prefix
  step "install $build -> $prefix"
  "$cmake" --install "$build" --prefix "$prefix" ${config:+--config "$config"} >"$tmp/install.log" \
    || { cat "$tmp/install.log"; fail "cmake --install failed"; }
  local pc
  pc=$(find "$prefix" -name "$package.pc" -path '*/pkgconfig/*' | head -n 1)
  [[ -n "$pc" ]] || fail "$package.pc not installed"
  pcdir=$(dirname "$pc")
  libdir=$(dirname "$pcdir")
}
