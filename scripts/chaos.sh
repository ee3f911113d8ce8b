#!/usr/bin/env bash
# chaos.sh: crash (SIGKILL), pause (SIGSTOP/SIGCONT), make leave (SIGTERM) and restart random
# members of a running scripts/cluster.sh cluster, on a schedule, for a bounded time.
#
# Needs: bash 4+, setsid (util-linux), a cluster.sh run folder (cluster.env, nodes). Restarted
# agents append to the same RUN/nK.jsonl and RUN/nK.log, and replace their PID in RUN/nodes,
# so that cluster.sh still stops them on Ctrl-C.

# Exit on any failed command, on unset variables, and when any command of a pipe fails.
set -o errexit -o nounset -o pipefail

usage() {
    cat <<'EOF'
Usage: scripts/chaos.sh [options] RUN_FOLDER

Every INTERVAL seconds, picks a random live member of the cluster.sh cluster in RUN_FOLDER and
either crashes it (SIGKILL; restarted with the same name DOWN seconds later), pauses it
(SIGSTOP, then SIGCONT PAUSE seconds later) or makes it leave (SIGTERM; restarted later). At
most a quarter of the members are disturbed at once. Stops after DURATION seconds: paused
members are resumed and down members restarted, so the cluster is whole again. Each action is
printed and appended to RUN_FOLDER/chaos.log.

Options:
  -d, --duration SECONDS   how long to run (default 60, at most 86400)
  -i, --interval SECONDS   time between two faults (default 5)
  -p, --pause SECONDS      how long a pause lasts (default 3)
  -D, --down SECONDS       how long a crashed or departed member stays down (default 5)
  -s, --seed N             seed for the random choices, to replay a schedule (default: random)
  -h, --help               this help
EOF
}

DURATION=60
INTERVAL=5
PAUSE=3
DOWN=5
SEED=$((RANDOM * 32768 + RANDOM))
RUN_DIR=
while (($#)); do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    -d | --duration) DURATION=${2:?--duration needs a value} && shift ;;
    -i | --interval) INTERVAL=${2:?--interval needs a value} && shift ;;
    -p | --pause) PAUSE=${2:?--pause needs a value} && shift ;;
    -D | --down) DOWN=${2:?--down needs a value} && shift ;;
    -s | --seed) SEED=${2:?--seed needs a value} && shift ;;
    -*)
        echo "chaos.sh: unknown option $1" >&2
        usage >&2
        exit 2
        ;;
    *)
        [[ -z $RUN_DIR ]] || {
            echo "chaos.sh: one RUN_FOLDER only" >&2
            exit 2
        }
        RUN_DIR=$1
        ;;
    esac
    shift
done
[[ -n $RUN_DIR ]] || {
    usage >&2
    exit 2
}
for pair in "duration:$DURATION:1:86400" "interval:$INTERVAL:1:3600" "pause:$PAUSE:1:3600" \
    "down:$DOWN:1:3600" "seed:$SEED:0:4294967295"; do
    IFS=: read -r what value low high <<<"$pair"
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < low || value > high)); then
        echo "chaos.sh: --$what must be a whole number from $low to $high, got '$value'" >&2
        exit 2
    fi
done
[[ -f $RUN_DIR/cluster.env && -f $RUN_DIR/nodes ]] || {
    echo "chaos.sh: $RUN_DIR is not a cluster.sh run folder (no cluster.env or nodes)" >&2
    exit 2
}
command -v setsid >/dev/null || {
    echo "chaos.sh: needs setsid (util-linux)" >&2
    exit 1
}

BIN='' PROFILE='' CLUSTER_PID=''
# shellcheck source=/dev/null # written by cluster.sh: BIN, PROFILE, BASE_PORT, N, CLUSTER_PID
source "$RUN_DIR/cluster.env"
kill -0 "$CLUSTER_PID" 2>/dev/null || {
    echo "chaos.sh: the cluster.sh of $RUN_DIR (pid $CLUSTER_PID) is not running" >&2
    exit 1
}
RANDOM=$((SEED % 32768))

# The cluster as this script sees it; index = position in RUN/nodes.
declare -a NAMES=() PIDS=() PORTS=()
declare -A STATE=()   # name -> up | paused | down
declare -A DUE=()     # name -> second (of $SECONDS) when its pause or downtime ends
declare -a STARTED=() # PIDs started here
while read -r name pid port; do
    NAMES+=("$name")
    PIDS+=("$pid")
    PORTS+=("$port")
    STATE[$name]=up
done <"$RUN_DIR/nodes"
((${#NAMES[@]} > 0)) || {
    echo "chaos.sh: no members in $RUN_DIR/nodes" >&2
    exit 1
}
MAX_DISTURBED=$((${#NAMES[@]} / 4))
((MAX_DISTURBED >= 1)) || MAX_DISTURBED=1

say() {
    local line
    line="$(date +%H:%M:%S) $*"
    echo "$line"
    echo "$line" >>"$RUN_DIR/chaos.log"
}

# True if PID is still the rumor agent named NAME (a PID can be reused after it exits).
is_agent() {
    local pid=$1 name=$2 cmdline
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *" agent "*"--name $name "* ]]
}

# Rewrites RUN/nodes with the current PIDs, atomically, for cluster.sh's cleanup.
save_nodes() {
    local i tmp=$RUN_DIR/nodes.tmp.$$
    : >"$tmp"
    for i in "${!NAMES[@]}"; do
        echo "${NAMES[$i]} ${PIDS[$i]} ${PORTS[$i]}" >>"$tmp"
    done
    mv "$tmp" "$RUN_DIR/nodes"
}

disturbed() {
    local n=0 name
    for name in "${NAMES[@]}"; do
        [[ ${STATE[$name]} == up ]] || n=$((n + 1))
    done
    echo "$n"
}

restart() {
    local i=$1 name=${NAMES[$1]} j
    local -a args=(agent --name "$name" --bind "127.0.0.1:${PORTS[$i]}" --profile "$PROFILE")
    # Join through every member that is up, so that a restart works whoever is down.
    for j in "${!NAMES[@]}"; do
        [[ $j != "$i" && ${STATE[${NAMES[$j]}]} == up ]] && args+=(--join "127.0.0.1:${PORTS[$j]}")
    done
    setsid "$BIN" "${args[@]}" </dev/null >>"$RUN_DIR/$name.jsonl" 2>>"$RUN_DIR/$name.log" &
    PIDS[i]=$!
    STARTED+=("$!")
    STATE[$name]=up
    save_nodes
    say "restart $name (pid ${PIDS[$i]})"
}

resume() {
    local i=$1 name=${NAMES[$1]}
    kill -CONT "${PIDS[$i]}" 2>/dev/null || true
    STATE[$name]=up
    say "resume  $name (SIGCONT pid ${PIDS[$i]})"
}

# Ends every fault whose time has come (or every fault, with "all").
heal() {
    local i name
    for i in "${!NAMES[@]}"; do
        name=${NAMES[$i]}
        [[ ${STATE[$name]} == up ]] && continue
        if [[ ${1:-} == all ]] || ((SECONDS >= DUE[$name])); then
            case ${STATE[$name]} in
            paused) resume "$i" ;;
            down) restart "$i" ;;
            esac
        fi
    done
}

disturb() {
    local -a candidates=()
    local i name
    for i in "${!NAMES[@]}"; do
        name=${NAMES[$i]}
        [[ ${STATE[$name]} == up ]] && is_agent "${PIDS[$i]}" "$name" && candidates+=("$i")
    done
    if ((${#candidates[@]} == 0)); then
        say "no live member to disturb"
        return
    fi
    if (($(disturbed) >= MAX_DISTURBED)); then
        say "skip: $MAX_DISTURBED of ${#NAMES[@]} members already disturbed"
        return
    fi
    i=${candidates[RANDOM % ${#candidates[@]}]}
    name=${NAMES[$i]}
    case $((RANDOM % 3)) in
    0)
        kill -KILL "${PIDS[$i]}" 2>/dev/null || true
        STATE[$name]=down
        DUE[$name]=$((SECONDS + DOWN))
        say "crash   $name (SIGKILL pid ${PIDS[$i]}; back in ${DOWN}s)"
        ;;
    1)
        kill -STOP "${PIDS[$i]}" 2>/dev/null || true
        STATE[$name]=paused
        DUE[$name]=$((SECONDS + PAUSE))
        say "pause   $name (SIGSTOP pid ${PIDS[$i]} for ${PAUSE}s)"
        ;;
    2)
        kill -TERM "${PIDS[$i]}" 2>/dev/null || true
        STATE[$name]=down
        DUE[$name]=$((SECONDS + DOWN))
        say "leave   $name (SIGTERM pid ${PIDS[$i]}; back in ${DOWN}s)"
        ;;
    esac
}

# True once cluster.sh has exited or begun stopping its agents.
cluster_gone() {
    ! kill -0 "$CLUSTER_PID" 2>/dev/null || [[ -e $RUN_DIR/stopping ]]
}

finish() {
    local status=$? i pid
    trap - EXIT INT TERM
    if ! cluster_gone; then
        # Nothing stays frozen or missing: resume and restart whatever is still disturbed.
        heal all
    else
        # cluster.sh is stopping, and would not see agents started from now on; those started
        # here earlier may have been missed too. Stop them, and unfreeze the paused ones so
        # that they can act on cluster.sh's SIGTERM.
        for i in "${!NAMES[@]}"; do
            [[ ${STATE[${NAMES[$i]}]} == paused ]] && resume "$i"
        done
        for pid in "${STARTED[@]}"; do
            kill -TERM "$pid" 2>/dev/null || true
        done
        say "cluster.sh is stopping: sent SIGTERM to the ${#STARTED[@]} agents restarted here"
    fi
    say "chaos done"
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "chaos on ${#NAMES[@]} members for ${DURATION}s, a fault every ${INTERVAL}s, seed $SEED"
end=$((SECONDS + DURATION))
next=$((SECONDS + 1))
while ((SECONDS < end)); do
    heal
    if ((SECONDS >= next)); then
        disturb
        next=$((SECONDS + INTERVAL))
    fi
    if cluster_gone; then
        say "cluster.sh is stopping: ending chaos"
        break
    fi
    sleep 0.2
done
