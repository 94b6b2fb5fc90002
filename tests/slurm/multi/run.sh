#!/bin/bash
# run.sh - the multi-node Slurm end-to-end suite: starts a throwaway
# three-node cluster (scripts/slurm/mcluster.sh: one slurmd per network, UTS
# and mount namespace, private /tmp, /root and /home on every node) whose
# plugstack loads the freshly built spank/parade.so, runs every
# tests/slurm/multi/t_*.sh against it, one after the other (each as root and
# as the non-root user parade-test), prints PASS or FAIL (with the reason)
# per test, and stops the cluster on any exit.
#
# Exit status 0 only if every test ran and passed; 1 otherwise, including
# when the suite cannot run at all (no plugin, no cluster): it never skips
# silently. Not root: SKIP (77), a failure under PARADE_TEST_STRICT=1.
#
# `make check` sets top_srcdir and top_builddir (absolute paths); by hand
# they default to this script's ../../.. and the current directory:
#   cd BUILD && sudo /path/to/src/tests/slurm/multi/run.sh [t_name ...]
# The cluster has fixed addresses and ports (mcluster.sh's PM_* knobs,
# default 10.240.0.0/24, ports 7137/7138), so two runs on one machine take
# turns: a run waits for /tmp/parade-mcluster-NET.lock (say, the plain and
# the sanitizer build's `make check` started side by side).
# PSM_TEST_TIMEOUT caps each test (default 180 s). PSM_KEEP=1 keeps the
# cluster and the logs (and prints where they are).
#
# Everything lives in one folder /tmp/psm-run.XXXXXX ($W), bind-mounted into
# every node at the same path (the jobs' working folder): the binaries
# ($W/bin, world-readable), the plugstack line, the cluster ($W/c), the logs
# and the tests' own folders ($W/t/<test>.XXXXXX, exported as PSM_TMP).

set -u
export LC_ALL=C
prog=tests/slurm/multi/run.sh

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir

die() {
	echo "FAIL: $prog: $*"
	echo "# mslurm: the multi-node Slurm suite did NOT run; this is a failure, not a skip"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $prog: needs root: it starts a throwaway three-node Slurm cluster" \
		"(network, UTS and mount namespaces; munged, slurmctld and slurmd as root, with" \
		"parade.so in its plugstack) and runs jobs as root and as the test user" \
		"parade-test. Run 'make check' (or this script) as root."
	echo "# mslurm: the multi-node Slurm suite did NOT run"
	[ "${PARADE_TEST_STRICT:-0}" = 1 ] && exit 1
	exit 77
fi

limit=${PSM_TEST_TIMEOUT:-180}
mcluster=$top_srcdir/scripts/slurm/mcluster.sh
[ -f "$mcluster" ] || die "$mcluster not found"
for t in ip nsenter unshare flock; do
	command -v $t >/dev/null 2>&1 || die "$t not found (iproute2, util-linux)"
done

declare -A src=(
	[parade]=$top_builddir/controller/parade
	[parade-agent]=$top_builddir/agent/parade-agent
	[parade.so]=$top_builddir/spank/parade.so
)
for f in "${!src[@]}"; do
	[ -f "${src[$f]}" ] || die "${src[$f]} is missing (build it first; top_builddir=$top_builddir)"
done
if command -v nm >/dev/null 2>&1; then
	syms=$(nm -D --defined-only "${src[parade.so]}" 2>/dev/null | awk '{ print $NF }')
	for s in plugin_name plugin_type plugin_version slurm_spank_init; do
		echo "$syms" | grep -qx "$s" ||
			die "${src[parade.so]} does not export $s: Slurm cannot load it"
	done
fi

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do
		t=${t##*/}
		t=${t%.sh}
		tests+=("$here/$t.sh")
	done
else
	tests=("$here"/t_*.sh)
fi
[ -e "${tests[0]}" ] || die "no tests found in $here"

# one cluster at a time on these addresses and ports
lock=/tmp/parade-mcluster-${PM_NET:-10.240.0}.lock
exec 9>>"$lock" || die "cannot open $lock"
if ! flock -n 9; then
	echo "# mslurm: another multi-node suite holds $lock; waiting for it (up to 30 min)"
	flock -w 1800 9 || die "$lock still held after 30 min"
fi

W=$(mktemp -d /tmp/psm-run.XXXXXX) || die "mktemp -d failed"
case $W in
/tmp/psm-run.??????) ;;
*) die "unexpected temp folder '$W'" ;;
esac
chmod 0755 "$W"
mkdir -p "$W/bin" "$W/logs" "$W/t"
chmod 0755 "$W/bin" "$W/t"
cluster=$W/c
cluster_up=0
running=

# A run that was killed (say, by a CI timeout) left its cluster running:
# with the lock held, a cluster of these prefixes can only be such a one.
owner=/run/parade-mcluster.${PM_NS_PREFIX:-psm-}${PM_IF_PREFIX:-psm}
if read -r old 2>/dev/null <"$owner" && [ -d "$old" ]; then
	echo "# mslurm: a killed run left its cluster in $old: stopping it"
	"$mcluster" stop "$old" --rm >"$W/logs/stale.log" 2>&1 || {
		sed 's/^/  /' "$W/logs/stale.log"
		die "cannot stop the cluster a killed run left in $old"
	}
	case $old in
	/tmp/psm-run.??????/c) rm -rf -- "${old%/c}" ;;
	esac
fi

. "$top_srcdir/tests/proc.sh"


# sweep: kills (and reports) whatever of the tests is still running.
sweep() {
	local p
	marked
	[ ${#PIDS[@]} -gt 0 ] || return 0
	for p in "${PIDS[@]}"; do
		echo "FAIL: $prog: process left behind by the suite: $p $(cmdline_of "$p")"
	done
	kill -KILL "${PIDS[@]}" 2>/dev/null
	return 1
}

# stop_test: ends the running test (TERM: its trap cleans up), KILL to its
# group after 20 s.
# shellcheck disable=SC2317 # called by finish, the EXIT trap
stop_test() {
	local end
	[ -n "$running" ] || return 0
	kill -TERM "$running" 2>/dev/null
	end=$((SECONDS + 20))
	while is_alive "$running"; do
		if [ "$SECONDS" -ge "$end" ]; then
			kill -KILL -- "-$running" 2>/dev/null
			break
		fi
		sleep 0.2
	done
	running=
}

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	trap '' INT TERM HUP
	stop_test
	if [ "$cluster_up" -eq 1 ]; then
		if [ -n "${PSM_KEEP:-}" ]; then
			echo "# mslurm: PSM_KEEP set: cluster still runs in $cluster (stop: $mcluster stop $cluster --rm)"
		elif ! "$mcluster" stop "$cluster" >"$W/logs/stop.log" 2>&1; then
			echo "FAIL: $prog: the test cluster could not be stopped:"
			sed 's/^/  /' "$W/logs/stop.log"
			rc=1
		elif grep -q 'warning: left on' "$W/logs/stop.log"; then
			echo "FAIL: $prog: processes were left on the nodes when the cluster stopped:"
			grep 'warning: left on' "$W/logs/stop.log" | sed 's/^/  /'
			rc=1
		fi
	fi
	[ -n "${PSM_KEEP:-}" ] || sweep || rc=1
	if [ -n "${PSM_KEEP:-}" ]; then
		echo "# mslurm: logs kept in $W/logs"
	else
		case $W in
		/tmp/psm-run.??????) rm -rf -- "$W" ;;
		esac
	fi
	exit "$rc"
}
trap finish EXIT
trap 'echo "FAIL: $prog: interrupted by a signal: stopping the tests and the cluster"; exit 1' INT TERM HUP

# ---- setup ----

cp "${src[parade]}" "${src[parade-agent]}" "${src[parade.so]}" "$W/bin/" ||
	die "cannot copy the binaries to $W/bin"
chmod 0755 "$W"/bin/*
echo "required $W/bin/parade.so agent=$W/bin/parade-agent max_workers=64 port_range=47000-47999" \
	>"$W/plugstack.conf"
chmod 0644 "$W/plugstack.conf"

"$top_srcdir/scripts/slurm/cluster.sh" ensure-user parade-test >"$W/logs/user.log" 2>&1 || {
	sed 's/^/  /' "$W/logs/user.log"
	die "cannot create the test user parade-test"
}

# The daemons get a session of their own, so that a Ctrl-C meant for the
# suite does not kill them before the jobs are cancelled.
t0=$SECONDS
cluster_up=1
if ! setsid -w "$mcluster" start "$cluster" --plugstack "$W/plugstack.conf" --share "$W" \
	--user parade-test </dev/null >"$W/logs/start.log" 2>&1; then
	sed 's/^/  /' "$W/logs/start.log"
	die "the test cluster did not start (see above)"
fi
[ -f "$cluster/env.sh" ] || die "the cluster started but wrote no $cluster/env.sh"
# shellcheck disable=SC1091
. "$cluster/env.sh"
export SLURM_CONF PM_DIR PM_NODES PM_CPUS PM_HOST
export PSM_BIN=$W/bin PSM_TMP=$W/t PSM_USER=parade-test PSM_MCLUSTER=$mcluster
echo "# mslurm: top_srcdir=$top_srcdir top_builddir=$top_builddir"
echo "# mslurm: cluster up in $((SECONDS - t0))s ($cluster, nodes $PM_NODES, $PM_CPUS CPUs each)"

# ---- the tests, one at a time: each one checks that no process is left
# on any node, which a test running beside it would upset ----

npass=0
nfail=0
failed=()
suite_start=$SECONDS
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$W/logs/$name.log
	if [ ! -f "$t" ]; then
		echo "FAIL $name: no such test"
		nfail=$((nfail + 1))
		failed+=("$name")
		continue
	fi
	start=$SECONDS
	timeout -k 10 "$limit" bash "$t" </dev/null >"$log" 2>&1 &
	running=$!
	rc=0
	wait "$running" || rc=$?
	running=
	secs=$((SECONDS - start))
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (${secs}s)"
		grep "^# $name: " "$log" | sed 's/^/  /'
		npass=$((npass + 1))
		continue
	fi
	nfail=$((nfail + 1))
	failed+=("$name")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		reason="timed out after ${limit}s"
	else
		reason=$(grep -m 1 '^FAIL: ' "$log" | sed 's/^FAIL: [^:]*: //')
		[ -n "$reason" ] || reason="exit status $rc (no FAIL line)"
	fi
	echo "FAIL $name (${secs}s): $reason"
	echo "  --- log of $name:"
	tail -n 60 "$log" | sed 's/^/  /'
	# a test that timed out had no chance to clean the nodes: do it here,
	# so that the next test starts on idle nodes
	"$mcluster" procs "$cluster" >"$W/logs/$name.procs" 2>&1 || {
		echo "  --- left on the nodes after $name (killed now):"
		sed 's/^/  /' "$W/logs/$name.procs"
		SLURM_CONF=$SLURM_CONF scancel --user=root >/dev/null 2>&1
		SLURM_CONF=$SLURM_CONF scancel --user=parade-test >/dev/null 2>&1
		sleep 2
		for node in $PM_NODES; do
			"$mcluster" procs "$cluster" "$node" >/dev/null 2>&1 && continue
			"$mcluster" crash "$cluster" "$node" >/dev/null 2>&1
			"$mcluster" revive "$cluster" "$node" >/dev/null 2>&1
		done
	}
done

if ! sweep; then
	nfail=$((nfail + 1))
	failed+=("leftovers")
fi

echo "# mslurm: $npass passed, $nfail failed in $((SECONDS - suite_start))s${failed[*]:+ (failed: ${failed[*]})}"
[ "$nfail" -eq 0 ] || exit 1
exit 0
