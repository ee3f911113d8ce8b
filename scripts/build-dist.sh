#!/usr/bin/env bash
# build-dist.sh: builds the deployable `rumor` and `rumor-tui` binaries: the `dist` profile (fat
# LTO, one codegen unit) and statically linked against glibc, so a running agent maps nothing
# but itself. The agent is built without the simulator (`rumor sim` is a development tool:
# `cargo run --release -- sim`), which keeps 0.3 MB of text out of every agent's memory.
# Prints the paths. Needs: cargo, and glibc's static libraries (libc6-dev).
#
# Static linking goes through an explicit --target so that RUSTFLAGS reach only the binaries,
# not the proc-macros that cargo builds for the host (those cannot be static).

# Exit on any failed command, on unset variables, and when any command of a pipe fails.
set -o errexit -o nounset -o pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "Usage: scripts/build-dist.sh   (no arguments; prints the paths of the two binaries)"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# Two builds, so that the agent's feature list applies to it alone and rumor-tui keeps its
# own defaults.
export RUSTFLAGS="-C target-feature=+crt-static"
cargo build --quiet --profile dist --target "$TRIPLE" -p rumor --bin rumor \
    --no-default-features --features cli,encryption
cargo build --quiet --profile dist --target "$TRIPLE" -p rumor-tui --bin rumor-tui
# Where cargo put them: CARGO_TARGET_DIR or a cargo config may move the target directory.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "$TARGET_DIR/$TRIPLE/dist/rumor"
echo "$TARGET_DIR/$TRIPLE/dist/rumor-tui"
