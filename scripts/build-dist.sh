#!/usr/bin/env bash
# build-dist.sh: builds the deployable `rumor` and `rumor-tui` binaries: the `dist` profile (fat
# LTO, one codegen unit) and statically linked, so a running agent maps nothing but itself.
# musl by default (installing its Rust target with rustup; without it, glibc statically, said on
# stderr); RUMOR_DIST_LIBC=glibc links glibc statically. musl makes an agent small: static glibc
# brings ~0.9 MB of its own (the NSS and dlopen machinery behind getaddrinfo, printf, scanf,
# locale tables), all of it resident, and malloc arenas: 1,000 agents take 2.0 MiB VmRSS each
# with musl against 3.2 MiB with glibc, for a little more CPU (0.034 % of a core against 0.024 %);
# they converged in 1.1-3.8 s in five runs at 1,000 (docs/BENCHMARKS.md).
# The agent is built without the simulator (`rumor sim` is a development tool: `cargo run
# --release -- sim`). Prints the paths. Needs: cargo, and glibc's static libraries (libc6-dev)
# or, for musl, rustup.

# Exit on any failed command, on unset variables, and when any command of a pipe fails.
set -o errexit -o nounset -o pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "Usage: scripts/build-dist.sh   (no arguments; prints the paths of the two binaries)"
    echo "Environment: RUMOR_DIST_LIBC=musl (default; falls back to glibc) or glibc"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HOST=$(rustc -vV | sed -n 's/^host: //p')
TRIPLE=$HOST
libc=${RUMOR_DIST_LIBC:-musl}
case "$libc" in
    musl | glibc) ;;
    *) echo "build-dist.sh: RUMOR_DIST_LIBC must be musl or glibc, not '$libc'" >&2; exit 2 ;;
esac
if [[ $libc == musl && $HOST == *-linux-gnu ]]; then
    MUSL=${HOST%-gnu}-musl
    if rustup target list --installed 2>/dev/null | grep -qx "$MUSL" \
        || rustup target add "$MUSL" >&2; then
        TRIPLE=$MUSL
    else
        echo "build-dist.sh: cannot install the $MUSL target; linking glibc statically" >&2
    fi
fi
# Static linking goes through an explicit --target so that RUSTFLAGS reach only the binaries,
# not the proc-macros that cargo builds for the host (those cannot be static). musl targets
# link statically by default.
if [[ $TRIPLE == "$HOST" ]]; then
    export RUSTFLAGS="-C target-feature=+crt-static"
fi
# Two builds, so that the agent's feature list applies to it alone and rumor-tui keeps its
# own defaults.
cargo build --quiet --profile dist --target "$TRIPLE" -p rumor --bin rumor \
    --no-default-features --features cli,encryption
cargo build --quiet --profile dist --target "$TRIPLE" -p rumor-tui --bin rumor-tui
# Where cargo put them: CARGO_TARGET_DIR or a cargo config may move the target directory.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "$TARGET_DIR/$TRIPLE/dist/rumor"
echo "$TARGET_DIR/$TRIPLE/dist/rumor-tui"
