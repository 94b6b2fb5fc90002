#!/bin/bash
# run.sh - the Slurm end-to-end suite: starts a throwaway single-node Slurm
# cluster (scripts/slurm/cluster.sh) whose plugstack loads the freshly built
# spank/parade.so, runs every tests/slurm/t_*.sh against it (as root and as
# the non-root user parade-test), prints PASS or FAIL (with the reason) per
# test, and stops the cluster (also on failure or interruption).
#
# Exit status 0 only if every test ran and passed; 1 otherwise, including
# when the suite cannot run at all (not root, no plugin, no cluster): it
# never skips silently.
#
# `make check` sets top_srcdir and top_builddir (absolute paths); by hand
# they default to this script's ../.. and the current directory:
#   cd BUILD && sudo /path/to/src/tests/slurm/run.sh [t_name ...]
# SLURM_TEST_TIMEOUT caps each test (default 120 s). A test whose file has
# a line "# psl: background" (a slow one, such as waiting for a job's time
# limit) starts first and runs alongside the others; its result comes last.
# PSL_KEEP=1 keeps the cluster and the logs (and prints where they are).
#
# Everything lives in one folder /tmp/psl-run.XXXXXX ($W): the binaries
# ($W/bin, world-readable: the build tree may not be reachable by the test
# user), the plugstack line, the cluster ($W/c), the logs and the tests'
# own folders ($W/t/<test>.XXXXXX, exported as PSL_TMP).

set -u
export LC_ALL=C
prog=tests/slurm/run.sh

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir

die() {
	echo "FAIL: $prog: $*"
	echo "# slurm: the Slurm suite did NOT run; this is a failure, not a skip"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	# a skip (77), which make check reports as SKIP, never as PASS; the
	# README's test command runs as root and sets PARADE_TEST_STRICT=1, so
	# there it is a failure
	echo "SKIP: $prog: needs root: it starts a throwaway Slurm cluster (munged," \
		"slurmctld, slurmd as root, with parade.so in its plugstack) and runs jobs as" \
		"root and as the test user parade-test. Run 'make check' (or this script) as root."
	echo "# slurm: the Slurm suite did NOT run"
	[ "${PARADE_TEST_STRICT:-0}" = 1 ] && exit 1
	exit 77
fi

limit=${SLURM_TEST_TIMEOUT:-120}
bg_limit=$((limit + 120))
cluster_sh=$top_srcdir/scripts/slurm/cluster.sh
[ -f "$cluster_sh" ] || die "$cluster_sh not found"

declare -A src=(
	[parade]=$top_builddir/controller/parade
	[parade-agent]=$top_builddir/agent/parade-agent
	[parade.so]=$top_builddir/spank/parade.so
)
for f in "${!src[@]}"; do
	[ -f "${src[$f]}" ] || die "${src[$f]} is missing (build it first; top_builddir=$top_builddir)"
done

# slurmd refuses a plugin without these symbols ("Plugin name/type/version
# symbol missing") and the cluster would not start: say why up front
if command -v nm >/dev/null 2>&1; then
	syms=$(nm -D --defined-only "${src[parade.so]}" 2>/dev/null | awk '{ print $NF }')
	for s in plugin_name plugin_type plugin_version slurm_spank_init; do
		echo "$syms" | grep -qx "$s" ||
			die "${src[parade.so]} does not export $s (hidden by -fvisibility=hidden or the version script?): Slurm cannot load it"
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

# The cluster's munge socket path must stay short: keep $W short.
W=$(mktemp -d /tmp/psl-run.XXXXXX) || die "mktemp -d failed"
case $W in
/tmp/psl-run.??????) ;;
*) die "unexpected temp folder '$W'" ;;
esac
chmod 0755 "$W"
mkdir -p "$W/bin" "$W/logs" "$W/t"
chmod 0755 "$W/bin" "$W/t"
cluster=$W/c
cluster_up=0

# ---- processes ----

. "$top_srcdir/tests/proc.sh"


# Tests run as `timeout ... bash t.sh` (timeout leads its own process
# group); running[] holds those timeout pids.
running=()

# stop_tests: ends the running tests: TERM to each (timeout passes it on to
# the test, whose trap cleans up once its current command ends), TERM to
# what the tests started (so that command ends now), then KILL to what is
# left after 20 s.
# shellcheck disable=SC2317 # called by finish, the EXIT trap
stop_tests() {
	local pid end live
	[ ${#running[@]} -gt 0 ] || return 0
	for pid in "${running[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	marked
	[ ${#PIDS[@]} -gt 0 ] && kill -TERM "${PIDS[@]}" 2>/dev/null
	end=$((SECONDS + 20))
	while :; do
		live=()
		for pid in "${running[@]}"; do
			is_alive "$pid" && live+=("$pid")
		done
		[ ${#live[@]} -eq 0 ] && break
		if [ "$SECONDS" -ge "$end" ]; then
			for pid in "${live[@]}"; do
				kill -KILL -- "-$pid" 2>/dev/null
			done
			break
		fi
		sleep 0.2
	done
	running=()
}

# sweep: kills (and reports) whatever of the tests is still running.
sweep() {
	local p
	marked
	[ ${#PIDS[@]} -gt 0 ] || return 0
	for p in "${PIDS[@]}"; do
		echo "FAIL: $prog: process left behind by the suite: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
	kill -KILL "${PIDS[@]}" 2>/dev/null
	return 1
}

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	trap '' INT TERM HUP
	stop_tests
	if [ "$cluster_up" -eq 1 ]; then
		if [ -n "${PSL_KEEP:-}" ]; then
			echo "# slurm: PSL_KEEP set: cluster still runs in $cluster (stop: $cluster_sh stop $cluster --rm)"
		elif ! "$cluster_sh" stop "$cluster" >"$W/logs/stop.log" 2>&1; then
			echo "FAIL: $prog: the test cluster could not be stopped:"
			sed 's/^/  /' "$W/logs/stop.log"
			rc=1
		fi
	fi
	[ -n "${PSL_KEEP:-}" ] || sweep || rc=1
	if [ -n "${PSL_KEEP:-}" ]; then
		echo "# slurm: logs kept in $W/logs"
	else
		case $W in
		/tmp/psl-run.??????) rm -rf -- "$W" ;;
		esac
	fi
	exit "$rc"
}
trap finish EXIT
# a signal interrupts `wait` at once (the tests run in the background)
trap 'echo "FAIL: $prog: interrupted by a signal: stopping the tests and the cluster"; exit 1' INT TERM HUP

# ---- setup ----

cp "${src[parade]}" "${src[parade-agent]}" "${src[parade.so]}" "$W/bin/" || die "cannot copy the binaries to $W/bin"
if [ -f "$top_builddir/examples/gamma/gamma-sim" ]; then
	cp "$top_builddir/examples/gamma/gamma-sim" "$W/bin/" || die "cannot copy gamma-sim"
fi
chmod 0755 "$W"/bin/*

echo "required $W/bin/parade.so agent=$W/bin/parade-agent max_workers=64 port_range=25000-25999" \
	>"$W/plugstack.conf"
chmod 0644 "$W/plugstack.conf"

"$cluster_sh" ensure-user parade-test >"$W/logs/user.log" 2>&1 || {
	sed 's/^/  /' "$W/logs/user.log"
	die "cannot create the test user parade-test"
}

# The daemons get a session of their own, so that a Ctrl-C meant for the
# suite does not kill them before the jobs are cancelled.
t0=$SECONDS
cluster_up=1
if ! setsid -w "$cluster_sh" start "$cluster" --plugstack "$W/plugstack.conf" \
	</dev/null >"$W/logs/start.log" 2>&1; then
	sed 's/^/  /' "$W/logs/start.log"
	die "the test cluster did not start (see above)"
fi
[ -f "$cluster/env.sh" ] || die "the cluster started but wrote no $cluster/env.sh"
# shellcheck disable=SC1091
. "$cluster/env.sh"
export SLURM_CONF
export PSL_BIN=$W/bin PSL_TMP=$W/t PSL_USER=parade-test PSL_MAX_WORKERS=64
echo "# slurm: top_srcdir=$top_srcdir top_builddir=$top_builddir"
echo "# slurm: cluster up in $((SECONDS - t0))s ($cluster, node $PARADE_SLURM_NODE)"

# ---- the tests ----

npass=0
nfail=0
failed=()
suite_start=$SECONDS

# report NAME RC SECS LOG LIMIT
report() {
	local name=$1 rc=$2 secs=$3 log=$4 lim=$5 reason
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (${secs}s)"
		npass=$((npass + 1))
		return
	fi
	nfail=$((nfail + 1))
	failed+=("$name")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		reason="timed out after ${lim}s"
	else
		reason=$(grep -m 1 '^FAIL: ' "$log" | sed 's/^FAIL: [^:]*: //')
		[ -n "$reason" ] || reason="exit status $rc (no FAIL line)"
	fi
	echo "FAIL $name (${secs}s): $reason"
	echo "  --- log of $name:"
	tail -n 60 "$log" | sed 's/^/  /'
}

is_background() { grep -q '^# psl: background' "$1" 2>/dev/null; }

# drop PID from running[]
forget() {
	local p keep=()
	for p in "${running[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	running=("${keep[@]}")
}

fg_tests=()
bg_names=()
bg_pids=()
declare -A bg_start
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ ! -f "$t" ]; then
		echo "FAIL $name: no such test"
		nfail=$((nfail + 1))
		failed+=("$name")
		continue
	fi
	if is_background "$t"; then
		timeout -k 10 "$bg_limit" bash "$t" </dev/null >"$W/logs/$name.log" 2>&1 &
		running+=($!)
		bg_pids+=($!)
		bg_names+=("$name")
		bg_start[$name]=$SECONDS
		echo "# slurm: $name runs in the background"
	else
		fg_tests+=("$t")
	fi
done

for t in "${fg_tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$W/logs/$name.log
	start=$SECONDS
	timeout -k 10 "$limit" bash "$t" </dev/null >"$log" 2>&1 &
	pid=$!
	running+=("$pid")
	rc=0
	wait "$pid" || rc=$?
	forget "$pid"
	report "$name" "$rc" $((SECONDS - start)) "$log" "$limit"
done

for i in "${!bg_names[@]}"; do
	name=${bg_names[$i]}
	rc=0
	wait "${bg_pids[$i]}" || rc=$?
	forget "${bg_pids[$i]}"
	report "$name" "$rc" $((SECONDS - ${bg_start[$name]})) "$W/logs/$name.log" "$bg_limit"
done

# nothing of the tests may outlive them
if ! sweep; then
	nfail=$((nfail + 1))
	failed+=("leftovers")
fi

echo "# slurm: $npass passed, $nfail failed in $((SECONDS - suite_start))s${failed[*]:+ (failed: ${failed[*]})}"
[ "$nfail" -eq 0 ] || exit 1
exit 0
