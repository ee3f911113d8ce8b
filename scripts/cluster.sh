#!/usr/bin/env bash
# cluster.sh: start N `rumor agent` processes on 127.0.0.1, joined into one cluster, and stop
# them all gracefully on Ctrl-C (or when this script is terminated).
#
# Needs: bash 4+, cargo (builds target/release/rumor once, a no-op when it is current),
# setsid (util-linux). Each agent's JSON events go to RUN/nK.jsonl and its log to RUN/nK.log;
# RUN/nodes lists "name pid port" per agent (scripts/chaos.sh reads and updates it).
#
# Environment: RUMOR_PROFILE (timing profile, default local), RUMOR_BIN (use this binary, do
# not build), RUMOR_RUN_DIR (the run folder, default runs/cluster-<time>-<pid>).

# Exit on any failed command, on unset variables, and when any command of a pipe fails.
set -o errexit -o nounset -o pipefail

usage() {
    cat <<'EOF'
Usage: scripts/cluster.sh N [BASE_PORT]

Starts N rumor agents on 127.0.0.1, ports BASE_PORT .. BASE_PORT+N-1 (default 7946), the
first one a new cluster and the others joining it. Prints the PIDs, the run folder and how to
attach a dashboard, then waits. Ctrl-C makes every agent leave gracefully (SIGTERM, then
SIGKILL for any still running after 10 s) and nothing is left running.

Environment:
  RUMOR_PROFILE   timing profile: lan, wan, local (default) or test
  RUMOR_BIN       rumor binary to run (default: build and use target/release/rumor)
  RUMOR_RUN_DIR   run folder (default: runs/cluster-<date>-<pid>)

Example:
  scripts/cluster.sh 5            # then, in another terminal:
  scripts/chaos.sh runs/cluster-...
EOF
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
if [[ $# -lt 1 || $# -gt 2 ]]; then
    usage >&2
    exit 2
fi

N=$1
BASE_PORT=${2:-7946}
PROFILE=${RUMOR_PROFILE:-local}
# 1,000 is the largest cluster measured on one 2-core machine (docs/BENCHMARKS.md).
MAX_N=1000
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 1 || N > MAX_N)); then
    echo "cluster.sh: N must be a number from 1 to $MAX_N, got '$N'" >&2
    exit 2
fi
if ! [[ $BASE_PORT =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT + N - 1 > 65535)); then
    echo "cluster.sh: BASE_PORT must leave room for $N ports within 1024..65535, got '$BASE_PORT'" >&2
    exit 2
fi
# The kernel hands out ephemeral ports from this range to any program's outgoing sockets: one
# of them may hold a port we need by the time its agent starts. Said, not refused.
if read -r EPH_LO EPH_HI 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range &&
    ((BASE_PORT <= EPH_HI && BASE_PORT + N - 1 >= EPH_LO)); then
    echo "cluster.sh: note: ports $BASE_PORT..$((BASE_PORT + N - 1)) overlap the ephemeral range $EPH_LO..$EPH_HI; an agent whose port is taken says so in its log" >&2
fi
# Every agent is a process of ours: the per-user process limit must leave room for N.
PROC_LIMIT=$(ulimit -u)
if [[ $PROC_LIMIT != unlimited ]] && ((PROC_LIMIT < N + 64)); then
    echo "cluster.sh: ulimit -u is $PROC_LIMIT, too few processes for $N agents (raise it: ulimit -u $((N + 64)))" >&2
    exit 2
fi
command -v setsid >/dev/null || {
    echo "cluster.sh: needs setsid (util-linux)" >&2
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ -n ${RUMOR_BIN:-} ]]; then
    BIN=$RUMOR_BIN
else
    echo "cluster.sh: building target/release/rumor (a no-op when it is current) ..."
    cargo build --release --quiet -p rumor --bin rumor
    BIN=$ROOT/target/release/rumor
fi
[[ -x $BIN ]] || {
    echo "cluster.sh: $BIN is not an executable" >&2
    exit 1
}

RUN_DIR=${RUMOR_RUN_DIR:-$ROOT/runs/cluster-$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
: >"$RUN_DIR/nodes"
# What chaos.sh needs to restart a member the same way.
{
    printf 'BIN=%q\n' "$BIN"
    printf 'PROFILE=%q\n' "$PROFILE"
    printf 'BASE_PORT=%q\n' "$BASE_PORT"
    printf 'N=%q\n' "$N"
    printf 'CLUSTER_PID=%q\n' "$$"
} >"$RUN_DIR/cluster.env"

# True if PID is still the rumor agent named NAME (a PID can be reused after it exits).
is_agent() {
    local pid=$1 name=$2 cmdline
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *" agent "*"--name $name "* ]]
}

stopping=0
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    ((stopping)) && return
    stopping=1
    # Tells a running chaos.sh to restart nothing more.
    : >"$RUN_DIR/stopping"
    # RUN/nodes holds the agents this cluster runs now: the ones started here, and any that
    # chaos.sh restarted in their place.
    local -a live=()
    local name pid port
    while read -r name pid port; do
        if is_agent "$pid" "$name"; then
            live+=("$pid")
            kill -CONT "$pid" 2>/dev/null || true # a SIGSTOPped agent cannot leave
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done <"$RUN_DIR/nodes"
    echo
    echo "cluster.sh: ${#live[@]} agents leaving ..."
    local waited=0
    while ((waited < 100)); do
        local -a still=()
        for pid in "${live[@]}"; do
            kill -0 "$pid" 2>/dev/null && still+=("$pid")
        done
        ((${#still[@]} == 0)) && break
        sleep 0.1
        waited=$((waited + 1))
    done
    for pid in "${live[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "cluster.sh: agent $pid did not stop within 10 s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Reap the children started here (chaos.sh's are not ours to wait for).
    wait 2>/dev/null || true
    echo "cluster.sh: stopped; events and logs in $RUN_DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (at most 15 s) until agent NAME with PID has joined; false, with its log, if it exited.
wait_ready() {
    local name=$1 pid=$2 t
    for ((t = 0; t < 150; t++)); do
        grep -qE "started a new cluster|joined via" "$RUN_DIR/$name.log" 2>/dev/null && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "cluster.sh: $name exited at start:" >&2
            sed 's/^/    /' "$RUN_DIR/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "cluster.sh: $name has not joined after 15 s (see $RUN_DIR/$name.log)" >&2
}

declare -a started_pids=()
for ((i = 1; i <= N; i++)); do
    name=n$i
    port=$((BASE_PORT + i - 1))
    args=(agent --name "$name" --bind "127.0.0.1:$port" --profile "$PROFILE")
    if ((i > 1)); then
        args+=(--join "127.0.0.1:$BASE_PORT")
    fi
    # Its own session: a Ctrl-C here must reach only this script, which then sends each agent
    # exactly one SIGTERM (a second signal makes an agent skip its graceful leave).
    setsid "$BIN" "${args[@]}" </dev/null >"$RUN_DIR/$name.jsonl" 2>"$RUN_DIR/$name.log" &
    started_pids+=("$!")
    echo "$name $! $port" >>"$RUN_DIR/nodes"
    if ((i == 1)); then
        # The others join through n1: without it there is no cluster.
        wait_ready n1 "$!" || exit 1
    fi
done
# The others started all at once; now check that each one made it.
failed=0
for ((i = 2; i <= N; i++)); do
    wait_ready "n$i" "${started_pids[i - 1]}" || failed=$((failed + 1))
done
if ((failed > 0)); then
    echo "cluster.sh: $failed of $N agents did not start (ports in use?); the others keep running" >&2
fi

echo "cluster.sh: $N agents on 127.0.0.1:$BASE_PORT..$((BASE_PORT + N - 1)), profile $PROFILE"
echo "  run folder: $RUN_DIR"
while read -r name pid port; do
    if is_agent "$pid" "$name"; then
        echo "  $name  pid $pid  127.0.0.1:$port"
    else
        echo "  $name  (not running, see $RUN_DIR/$name.log)"
    fi
done <"$RUN_DIR/nodes"
echo "Attach a dashboard:"
echo "  cargo run --release -p rumor-tui -- --join 127.0.0.1:$BASE_PORT --bind 127.0.0.1:0 --profile $PROFILE --name dash"
echo "Inject faults:  scripts/chaos.sh $RUN_DIR"
echo "Ctrl-C stops every agent."

# Wait in short sleeps so that a signal is handled at once.
while true; do
    sleep 1 &
    wait $! || true
done
