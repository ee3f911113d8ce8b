#!/usr/bin/env bash
# scripts/bench.sh: measure rumor and record the tables in docs/BENCHMARKS.md.
#
#   scripts/bench.sh [agents]  real `rumor agent` processes on 127.0.0.1, through
#                              benches/agents.rs: convergence, steady-state traffic, CPU,
#                              RSS, SIGKILL detection, leave propagation; kills every agent it
#                              started, also on Ctrl-C. The agents are the deployable build
#                              (scripts/build-dist.sh: LTO, statically linked).
#   scripts/bench.sh sim       the simulator's scenarios (`rumor sim ...`), tables and SVG plots
#                              in docs/.
#
# Each table is printed as a markdown block with the date, the machine and the exact command,
# and written into docs/BENCHMARKS.md between <!-- bench:LABEL:begin --> and
# <!-- bench:LABEL:end --> (added at the end if missing). Builds once, before anything runs.
#
# Needs: cargo, getconf, Linux /proc. No sudo: every agent binds 127.0.0.1:PORT.
#
# agents: [--nodes 10,50,100] [--steady 30s] [--kills 3] [--label lan] [--base-port 17946]
#         [--agent-flags "--probe-interval 200ms --probe-timeout 100ms"]
#   --kills K SIGKILLs one agent K times (restarting it in between) and averages. A full
#   run at 100 agents takes a few minutes and loads 2 cores; pick N and --steady to fit.
# sim:    [--nodes 10,100,1000,10000] [--huge 100000] (--huge: the dissemination and crash
#         tables' largest size, ~1 min and ~1 GiB for dissemination, ~11 min and ~3.2 GiB for
#         the crash rows at 0 and 5 % loss; --huge "" leaves it out)
#         [--only LABEL] reruns one table (sim-dissemination, sim-crash, sim-join, ...)
# both:   [--no-write] prints without touching docs/BENCHMARKS.md

set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

mode=agents
case "${1:-}" in
    agents|sim) mode="$1"; shift ;;
esac
nodes=""
steady=30s
label=lan
agent_flags=""
base_port=17946
kills=3
huge=100000
only=""
write=1
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --huge) huge="$2"; shift 2 ;;
        --steady) steady="$2"; shift 2 ;;
        --label) label="$2"; shift 2 ;;
        --agent-flags) agent_flags="$2"; shift 2 ;;
        --base-port) base_port="$2"; shift 2 ;;
        --kills) kills="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --no-write) write=0; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

scratch="$(mktemp -d)"
harness_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    # The harness kills its agents when told to stop; wait so none outlives us.
    if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
        kill -TERM "$harness_pid" 2>/dev/null || true
        wait "$harness_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One build of what runs here: the release `rumor` (for sim) and the agents benchmark. Cargo's
# JSON messages say where each executable landed: the benchmark's file name carries a hash,
# and CARGO_TARGET_DIR or a cargo config may move the whole target directory.
cargo build --release --bins --bench agents --message-format=json-render-diagnostics \
    >"$scratch/cargo.json"
# executable KIND NAME: the path of the executable cargo built for target NAME of kind KIND.
executable() {
    grep -F "\"kind\":[\"$1\"]" "$scratch/cargo.json" | grep -F "\"name\":\"$2\"" \
        | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}
rumor_bin="$(executable bin rumor)"
harness_bin="$(executable bench agents)"
if [ -z "$rumor_bin" ] || [ -z "$harness_bin" ]; then
    echo "bench.sh: cargo did not report the rumor binary and the agents benchmark" >&2
    exit 1
fi

cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- src Cargo.toml 2>/dev/null)" ]; then
    commit="$commit+uncommitted changes"
fi

# write_block LABEL COMMAND FILE: print the table in FILE as a block and put it in the doc.
write_block() {
    local block_label="$1" cmd="$2" body="$3" block="$scratch/block"
    {
        echo "<!-- bench:$block_label:begin -->"
        echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at $commit on $(nproc) cores (${cpu_model:-unknown CPU}), Linux $(uname -r)."
        echo "Command: \`$cmd\`"
        echo
        cat "$body"
        echo "<!-- bench:$block_label:end -->"
    } >"$block"
    cat "$block"
    [ "$write" = 1 ] || return 0
    local doc=docs/BENCHMARKS.md
    mkdir -p docs
    touch "$doc"
    if grep -q "<!-- bench:$block_label:begin -->" "$doc"; then
        awk -v begin="<!-- bench:$block_label:begin -->" -v end="<!-- bench:$block_label:end -->" \
            -v file="$block" '
            $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip { print }
        ' "$doc" >"$doc.tmp"
        mv "$doc.tmp" "$doc"
    else
        { echo; cat "$block"; } >>"$doc"
    fi
    echo "bench.sh: wrote the $block_label block of $doc" >&2
}

# sim_table LABEL ARGS...: run `rumor sim ARGS` and record its table.
sim_table() {
    local block_label="$1"
    shift
    if [ -n "$only" ] && [ "$only" != "$block_label" ]; then
        return 0
    fi
    "$rumor_bin" sim "$@" >"$scratch/table"
    write_block "$block_label" "rumor sim $*" "$scratch/table"
}

if [ "$mode" = sim ]; then
    nodes="${nodes:-10,100,1000,10000}"
    largest="${nodes##*,}"
    small="${nodes%,*}"
    # Issue 15: the two tables that reach 100,000 members.
    with_huge="$nodes${huge:+,$huge}"
    sim_table sim-dissemination dissemination --nodes "$with_huge" --runs 3 --plot docs/dissemination.svg
    sim_table sim-dissemination-tail dissemination --nodes 60 --loss 0,0.1,0.2 --runs 1000 --summary
    sim_table sim-crash crash --nodes "$with_huge" --loss 0,0.05 --plot docs/crash.svg
    sim_table sim-crash-lossy crash --nodes "$small" --loss 0.2 --runs 3
    sim_table sim-crash-small crash --nodes 20,50 --loss 0 --runs 30
    sim_table sim-join join --nodes 10,50,100,1000 --plot docs/join.svg
    sim_table sim-load load --nodes "$nodes" --plot docs/load.svg
    sim_table sim-false-positives false-positives --nodes 10,50,100 --plot docs/false-positives.svg
    sim_table sim-false-positives-1000 false-positives --nodes 1000 --loss 0,0.1,0.2 --duration 2m
    sim_table sim-scale false-positives --nodes "$largest" --loss 0 --duration 10m
    sim_table sim-events events --nodes "$small" --loss 0,0.1,0.2 --plot docs/user-events.svg
    sim_table sim-events-scale events --nodes "$largest" --loss 0 --duration 10s
    # Issue 12: the evidence rule against Lifeguard's (N = 20 and 50 whatever --nodes says).
    sim_table sim-tradeoff tradeoff --nodes 50,20 --loss 0.1,0.2,0.3,0.4 --runs 10 \
        --confirmed-mult 1,2,3,4 --probe-timeout 500ms,250ms --plot docs/tradeoff.svg
    sim_table sim-crash-rules crash --nodes 20,50 --loss 0 --runs 30 --rules lifeguard,evidence --summary
    sim_table sim-crash-rules-fast crash --nodes 20,50 --loss 0 --runs 30 --rules lifeguard,evidence \
        --summary --probe-interval 200ms --probe-timeout 100ms
    sim_table sim-crash-rules-lossy crash --nodes 20,50 --loss 0.1,0.2,0.3 --runs 10 \
        --rules lifeguard,evidence --summary
    sim_table sim-false-positives-rules false-positives --nodes 50 --loss 0.1,0.2,0.3 --runs 3 \
        --rules lifeguard,evidence
    sim_table sim-suspicions-20 false-positives --nodes 20 --loss 0.2 --duration 60s --runs 10 \
        --rules lifeguard,evidence
    sim_table sim-flaky flaky --nodes 20,50 --runs 20 --rules lifeguard,evidence --summary
    exit 0
fi

nodes="${nodes:-10,50,100}"
command="scripts/bench.sh agents --nodes $nodes --steady $steady --kills $kills --label $label"
[ -n "$agent_flags" ] && command="$command --agent-flags \"$agent_flags\""
# All of build-dist.sh's output, then its first line: `| head -n 1` can exit before the
# second line is written, and pipefail turns that SIGPIPE into the whole script's exit (141).
dist_paths="$(scripts/build-dist.sh)"
agent_bin="${dist_paths%%$'\n'*}"
"$harness_bin" --nodes "$nodes" --steady "$steady" --binary "$agent_bin" \
    --base-port "$base_port" --kills "$kills" --agent-flags "$agent_flags" >"$scratch/table" &
harness_pid=$!
# A size that fails is a row of the table too: record it, then report the failure.
status=0
wait "$harness_pid" || status=$?
harness_pid=""
write_block "$label" "$command" "$scratch/table"
exit "$status"
