#!/usr/bin/env bash
# scripts/bench.sh: benchmark real `rumor agent` processes on 127.0.0.1 and record the table.
#
# Builds once, then runs examples/bench_agents.rs (which starts N agents per size, measures
# convergence, steady-state traffic, CPU and RSS, SIGKILL detection and leave propagation, and
# kills every agent it started, also on Ctrl-C). Prints a markdown block with the date, the
# machine and the exact command, and writes it into docs/BENCHMARKS.md between the markers
# <!-- bench:LABEL:begin --> and <!-- bench:LABEL:end --> (added at the end if missing).
#
# Needs: cargo, getconf, Linux /proc. No sudo: every agent binds 127.0.0.1:PORT.
#
# Usage: scripts/bench.sh [--nodes 10,50,100] [--steady 30s] [--label lan]
#                         [--agent-flags "--probe-interval 200ms --probe-timeout 100ms"]
#                         [--base-port 17946] [--kills 3] [--no-write]
# --kills K SIGKILLs K agents one after another and averages their detection times.
# A full run at 100 agents takes a few minutes and loads 2 cores; pick N and --steady to fit.

set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

nodes=10,50,100
steady=30s
label=lan
agent_flags=""
base_port=17946
kills=3
write=1
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --steady) steady="$2"; shift 2 ;;
        --label) label="$2"; shift 2 ;;
        --agent-flags) agent_flags="$2"; shift 2 ;;
        --base-port) base_port="$2"; shift 2 ;;
        --kills) kills="$2"; shift 2 ;;
        --no-write) write=0; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command="scripts/bench.sh --nodes $nodes --steady $steady --kills $kills --label $label"
[ -n "$agent_flags" ] && command="$command --agent-flags \"$agent_flags\""

cargo build --release --bins --examples

table="$(mktemp)"
harness_pid=""
cleanup() {
    # The harness kills its agents when told to stop; wait so none outlives us.
    if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
        kill -TERM "$harness_pid" 2>/dev/null || true
        wait "$harness_pid" 2>/dev/null || true
    fi
    rm -f "$table"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

target/release/examples/bench_agents --nodes "$nodes" --steady "$steady" \
    --base-port "$base_port" --kills "$kills" --agent-flags "$agent_flags" >"$table" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""

cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
block="$(mktemp)"
{
    echo "<!-- bench:$label:begin -->"
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (${cpu_model:-unknown CPU}), Linux $(uname -r), loopback."
    echo "Command: \`$command\`"
    echo
    cat "$table"
    echo "<!-- bench:$label:end -->"
} >"$block"
cat "$block"

doc=docs/BENCHMARKS.md
if [ "$write" = 1 ]; then
    mkdir -p docs
    touch "$doc"
    if grep -q "<!-- bench:$label:begin -->" "$doc"; then
        awk -v begin="<!-- bench:$label:begin -->" -v end="<!-- bench:$label:end -->" -v file="$block" '
            $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip { print }
        ' "$doc" >"$doc.tmp"
        mv "$doc.tmp" "$doc"
    else
        { echo; cat "$block"; } >>"$doc"
    fi
    echo "bench.sh: wrote the $label block of $doc" >&2
fi
rm -f "$block"
