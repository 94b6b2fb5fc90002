#!/bin/bash
# selftest.sh - checks scripts/slurm/cluster.sh end to end: starts a cluster
# in a fresh temporary folder, runs srun, sbatch and a non-root srun, stops
# it (a trap stops it on failure too) and checks that no daemon of that
# folder is left. Exit 0 only if everything passed; 77 (skip) if not root.
#   selftest.sh [-k]     -k: keep the state folder (for a look at the logs)
set -u
here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/cluster.sh
user=${PARADE_TEST_USER:-parade-test}
keep=0
[ "${1:-}" = -k ] && keep=1

if [ "$(id -u)" -ne 0 ]; then
	echo "selftest.sh: SKIP: needs root" >&2
	exit 77
fi

t_start=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t_start) / 1000000)); }
failures=0
pass() { echo "ok   $(ms) ms  $*"; }
fail() {
	echo "FAIL $(ms) ms  $*"
	failures=$((failures + 1))
}

dir=$(mktemp -d /tmp/parade-slurm.XXXXXX) || exit 1
# shellcheck disable=SC2317,SC2329 # called by the trap
cleanup() {
	if [ -n "$dir" ]; then
		if [ "$keep" -eq 1 ]; then
			"$cluster" stop "$dir" >/dev/null 2>&1
			echo "selftest.sh: kept $dir"
		else
			"$cluster" stop "$dir" --rm >/dev/null 2>&1
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# leftovers DIR: prints live (non-zombie) processes whose command line
# mentions DIR, whose working folder is in DIR or that hold a file in DIR
# open (the last two catch slurmstepd too).
leftovers() {
	local pids pid stat state
	pids=$({
		grep -laF -- "$1/" /proc/[0-9]*/cmdline
		find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$1" -o -lname "$1/*" \) -print
		find /proc/[0-9]*/fd -maxdepth 1 -lname "$1/*" -print
	} 2>/dev/null | cut -d/ -f3 | sort -un)
	for pid in $pids; do
		[ "$pid" = $$ ] && continue
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue # the grep, find
		state=${stat##*) }
		state=${state%% *}
		case $state in Z | X | x) continue ;; esac
		echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
}

if ! "$cluster" start "$dir"; then
	fail "cluster.sh start"
	exit 1
fi
pass "cluster.sh start"
# shellcheck disable=SC1091
. "$dir/env.sh"
cd / || exit 1

out=$(timeout 30 srun -Q -n1 hostname 2>&1)
if [ "$out" = "$(hostname)" ]; then
	pass "srun -n1 hostname"
else
	fail "srun -n1 hostname: got '$out'"
fi

if out=$(timeout 30 srun -Q -n4 -c1 true 2>&1); then
	pass "srun -n4 -c1 true"
else
	fail "srun -n4 -c1 true: $out"
fi

# shellcheck disable=SC2016 # expanded by the task's shell
if out=$(timeout 30 srun -Q -n4 -c1 sh -c 'echo "$SLURM_PROCID"' 2>&1) &&
	[ "$(echo "$out" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]; then
	pass "srun -n4 ranks"
else
	fail "srun -n4 ranks: got '$out'"
fi

if "$cluster" ensure-user "$user"; then
	uid=$(id -u "$user")
	if out=$(timeout 30 runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" \
		srun -Q -n1 true 2>&1); then
		pass "srun -n1 true as $user"
	else
		fail "srun -n1 true as $user: $out"
	fi
	out=$(timeout 30 runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" \
		srun -Q -n1 id -u 2>&1)
	if [ "$out" = "$uid" ]; then
		pass "srun task runs as $user (uid $uid)"
	else
		fail "srun id -u as $user: got '$out'"
	fi
else
	fail "cluster.sh ensure-user $user"
fi

# the cluster reads plugstack.conf.d: a required plugin that is missing
# must make srun fail, and removing it must make srun work again
echo "required /nonexistent/parade-selftest.so" >"$PARADE_SLURM_PLUGSTACK_DIR/x.conf"
if timeout 30 srun -Q -n1 true >/dev/null 2>&1; then
	fail "plugstack.conf.d is not read"
else
	rm -f "$PARADE_SLURM_PLUGSTACK_DIR/x.conf"
	if timeout 30 srun -Q -n1 true >/dev/null 2>&1; then
		pass "plugstack.conf.d is read"
	else
		fail "srun fails after removing the plugstack.conf.d entry"
	fi
fi
rm -f "$PARADE_SLURM_PLUGSTACK_DIR/x.conf"

# a batch job starts within ~1 s (slurmctld's background tick)
job=$(sbatch --parsable -n1 -o "$dir/log/batch-%j.out" --wrap 'sleep 1; echo done' 2>&1)
case $job in
'' | *[!0-9]*) fail "sbatch: $job" ;;
*)
	state=
	deadline=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt $deadline ]; do
		info=$(scontrol show job "$job" 2>/dev/null)
		state=$(echo "$info" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
		case $state in
		PENDING | RUNNING | COMPLETING | CONFIGURING | '') sleep 0.1 ;;
		*) break ;;
		esac
	done
	code=$(echo "$info" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p')
	if [ "$state" = COMPLETED ] && [ "$code" = 0:0 ] &&
		[ "$(cat "$dir/log/batch-$job.out" 2>/dev/null)" = "done" ]; then
		pass "sbatch --wrap 'sleep 1' (job $job $state)"
	else
		fail "sbatch job $job: state '$state' exit '$code'"
	fi
	;;
esac

# a running job must not keep stop from stopping
sbatch -Q -n1 -o /dev/null --wrap 'sleep 300' >/dev/null 2>&1
timeout 30 srun -Q -n1 sleep 300 >/dev/null 2>&1 &
srun_pid=$!
for _ in $(seq 50); do
	[ "$(squeue -h -t R 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.1
done

if "$cluster" stop "$dir"; then
	pass "cluster.sh stop"
else
	fail "cluster.sh stop"
fi
wait "$srun_pid" 2>/dev/null
left=$(leftovers "$dir")
if [ -z "$left" ]; then
	pass "no process of $dir left"
else
	fail "processes left over:"
	echo "$left"
fi
if "$cluster" stop "$dir" 2>/dev/null; then
	pass "cluster.sh stop again"
else
	fail "cluster.sh stop again"
fi
if [ $keep -eq 0 ]; then
	if "$cluster" stop "$dir" --rm 2>/dev/null && [ ! -e "$dir" ]; then
		pass "cluster.sh stop --rm"
		dir=
	else
		fail "cluster.sh stop --rm"
	fi
fi

if [ $failures -eq 0 ]; then
	echo "selftest.sh: all passed in $(ms) ms"
	exit 0
fi
echo "selftest.sh: $failures check(s) FAILED"
exit 1
