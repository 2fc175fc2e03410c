#!/usr/bin/env bash
# bench/wakeup.sh — does CPU work that runs beside a server on its core delay the server's
# wake-ups on this machine, whatever that work's scheduling priority?
#
# Runs a 2-node nats-server cluster on one core (CPU 0), each node in its own session as
# natsbench's compare.sh starts them, and natsbench's cluster request/reply
# (`reqrep --size 16 --msgs 5000`, responder on A, requester on B) on another core (CPU 1):
#
#   quiet     nothing else on CPU 0
#   idle      a busy loop on CPU 0 under SCHED_IDLE (chrt -i 0, the lowest priority Linux has),
#             in a session of its own (a neighbour)
#   idle-inA  the same loop started in node A's session (as a server's own background thread)
#   nice19    a busy loop at nice 19, in a session of its own
#
# On a scheduler that lets a woken thread preempt a SCHED_IDLE one, `idle` stays near `quiet`.
# Where it does not, any background CPU on a server's core (V8's compiler threads, a garbage
# collector's helpers, a neighbour) turns into request latency of up to a scheduler tick. That is
# what limits our `cluster_reqrep` p99 under natsbench's 500-request warm-up: see bench/README.md,
# "Request/reply rows with natsbench's 500-request warm-up". nats-server is used on both nodes so
# that the result is about the machine, not about our server.
#
# usage: bench/wakeup.sh [ROUNDS]   (default 3; prints the median p50/p99 per mode)
# Needs nats-server, taskset, chrt, jq and natsbench (built by natsbench's build.sh on first use;
# natsbench's folder is looked up as `npm run bench:natsbench` does).
set -euo pipefail

rounds=${1:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=''
for d in "${NATSBENCH_DIR:-}" "$repo/../shared/natsbench" /work/shared/natsbench; do
	if [[ -n $d && -f $d/compare.sh ]]; then dir=$d; break; fi
done
[[ -n $dir ]] || { echo "natsbench not found (set NATSBENCH_DIR)" >&2; exit 2; }
nb=${NATSBENCH_HOME:-$HOME/.cache/natsbench}/bin/natsbench
[[ -x $nb ]] || "$dir/build.sh" >&2
[[ $(nproc) -ge 2 ]] || { echo "needs 2 CPUs (servers on CPU 0, client on CPU 1)" >&2; exit 2; }
for c in nats-server taskset chrt jq; do command -v "$c" >/dev/null || { echo "$c not found" >&2; exit 2; }; done

tmp=$(mktemp -d)
stop() { # every process this run started, by the PIDs their sessions wrote
	local f
	for f in "$tmp"/*.pid; do
		[[ -e $f ]] || continue
		kill -TERM "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}
trap 'stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

loop='while :; do :; done'

# session NAME SCRIPT: runs the bash SCRIPT in a new session, its PID in $tmp/NAME.pid
session() {
	setsid bash -c "echo \$\$ >'$tmp/$1.pid'; $2" >/dev/null 2>&1 </dev/null &
}

ready() { # ready PORT: until the server answers PING (10 s)
	local i
	for i in $(seq 20); do
		"$nb" ping --url "nats://127.0.0.1:$1" --timeout 0.5s >/dev/null 2>&1 && return 0
	done
	echo "server on port $1 did not start" >&2
	return 1
}

one() { # one MODE -> "p50 p99"
	local mode=$1 pa ca pb cb inA='' out
	read -r pa ca pb cb < <("$nb" freeport -n 4)
	[[ $mode != idle-inA ]] || inA="taskset -c 0 chrt -i 0 sh -c '$loop' & echo \$! >'$tmp/loop.pid';"
	session a "$inA exec taskset -c 0 nats-server -a 127.0.0.1 -p $pa -n A --cluster_name wakeup -cluster nats://127.0.0.1:$ca -routes nats://127.0.0.1:$cb"
	session b "exec taskset -c 0 nats-server -a 127.0.0.1 -p $pb -n B --cluster_name wakeup -cluster nats://127.0.0.1:$cb -routes nats://127.0.0.1:$ca"
	case $mode in
	idle) session loop "exec taskset -c 0 chrt -i 0 sh -c '$loop'" ;;
	nice19) session loop "exec taskset -c 0 nice -n 19 sh -c '$loop'" ;;
	esac
	ready "$pa"
	ready "$pb"
	out=$(taskset -c 1 "$nb" reqrep --size 16 --msgs 5000 --timeout 60s \
		--urls "nats://127.0.0.1:$pa,nats://127.0.0.1:$pb")
	stop
	echo "$out" | jq -r '"\(.lat_p50_us) \(.lat_p99_us)"'
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

echo "nats-server cluster on CPU 0, natsbench reqrep on CPU 1, $rounds rounds; kernel $(uname -r)"
printf '%-8s %10s %10s   %s\n' mode "p50 us" "p99 us" "p99 per round"
for mode in quiet idle idle-inA nice19; do
	p50s=()
	p99s=()
	for _ in $(seq "$rounds"); do
		read -r a b < <(one "$mode")
		p50s+=("$a")
		p99s+=("$b")
	done
	printf '%-8s %10s %10s   %s\n' "$mode" "$(printf '%s\n' "${p50s[@]}" | median)" \
		"$(printf '%s\n' "${p99s[@]}" | median)" "${p99s[*]}"
done
