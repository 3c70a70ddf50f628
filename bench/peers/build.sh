# shellcheck shell=bash
# build.sh — build the Go and Tokio peers (sourced by bench/peers/run.sh and
# bench/realclients.sh, not run; see README.md).
#
# Appends "go:<dir>" and "tokio:<dir>" (where the built programs are) to the
# array `peers` and a line per failed build to the array `failed`.  A peer
# whose toolchain is missing is skipped with a message.
#
# Environment: GO (default /usr/bin/go, else go on PATH), CARGO and RUSTC
# (default Debian's /usr/bin/cargo and /usr/bin/rustc, else those on PATH),
# CARGO_BUILD_JOBS (default 1), PEERS_BUILD (the Go binaries, default
# bench/peers/build).

peers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers_build=${PEERS_BUILD:-$peers_dir/build}

pick() { # pick VAR default-path fallback-command
    local v=${!1:-}
    if [ -n "$v" ]; then echo "$v"
    elif [ -x "$2" ]; then echo "$2"
    else command -v "$3" 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------- Go
go_bin=$(pick GO /usr/bin/go go)
if [ -z "$go_bin" ]; then
    echo "# skipping the Go peers: no go toolchain (apt-get install golang-go)"
else
    echo "# building the Go peers: $("$go_bin" version)"
    mkdir -p "$peers_build/go"
    # Standard library only: no module download, caches under /tmp.
    if (cd "$peers_dir/go" &&
        GOCACHE=${GOCACHE:-/tmp/weft-peers-go/cache} GOPATH=${GOPATH:-/tmp/weft-peers-go/path} \
            GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local \
            "$go_bin" build -o "$peers_build/go/" ./...); then
        peers+=("go:$peers_build/go")
    else
        echo "# FAILED: building the Go peers"
        failed+=("go (build)")
    fi
fi

# ---------------------------------------------------------------- Tokio
cargo_bin=$(pick CARGO /usr/bin/cargo cargo)
rustc_bin=$(pick RUSTC /usr/bin/rustc rustc)
if [ -z "$cargo_bin" ] || [ -z "$rustc_bin" ]; then
    echo "# skipping the Tokio peers: no cargo/rustc (apt-get install cargo rustc librust-tokio-dev)"
elif ! compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null; then
    echo "# skipping the Tokio peers: no Tokio sources in /usr/share/cargo/registry" \
        "(apt-get install librust-tokio-dev)"
else
    echo "# building the Tokio peers: $("$rustc_bin" --version), $("$cargo_bin" --version)"
    # Offline, from Debian's crate sources (tokio/.cargo/config.toml).  The
    # git-ignored Cargo.lock is made afresh from them: one written by a newer
    # cargo (rustup's: lock format 4) cannot be read by Debian's.
    rm -f "$peers_dir/tokio/Cargo.lock"
    if (cd "$peers_dir/tokio" &&
        RUSTC="$rustc_bin" CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} \
            "$cargo_bin" build --release --offline --quiet); then
        tokio_version=$(grep -A1 '^name = "tokio"$' "$peers_dir/tokio/Cargo.lock" 2>/dev/null |
            sed -n 's/^version = "\(.*\)"$/\1/p')
        echo "# tokio ${tokio_version:-?}"
        peers+=("tokio:$peers_dir/tokio/target/release")
    else
        echo "# FAILED: building the Tokio peers"
        failed+=("tokio (build)")
    fi
fi
