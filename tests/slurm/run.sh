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
	echo "FAIL: $prog: must run as root: it starts a throwaway Slurm cluster (munged," \
		"slurmctld, slurmd as root, with parade.so in its plugstack) and runs jobs as" \
		"root and as the test user parade-test. Run 'make check' (or this script) as root."
	echo "# slurm: the Slurm suite did NOT run; this is a failure, not a skip"
	exit 1
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

# The temp folder holds the binaries (parade-test must be able to run them:
# the build tree may not be reachable by others), the cluster and the logs.
# The cluster's munge socket path must stay short.
W=$(mktemp -d /tmp/psl-run.XXXXXX) || die "mktemp -d failed"
case $W in
/tmp/psl-run.??????) ;;
*) die "unexpected temp folder '$W'" ;;
esac
chmod 0755 "$W"
mkdir -p "$W/bin" "$W/logs"
chmod 0755 "$W/bin"
cluster=$W/c
cluster_up=0

stop_cluster() {
	local rc=$?
	trap - EXIT INT TERM HUP
	# background tests still running (interrupted suite)
	for pid in "${bg_pids[@]:-}"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	if [ "$cluster_up" -eq 1 ] || [ -d "$cluster" ]; then
		if [ -n "${PSL_KEEP:-}" ]; then
			echo "# slurm: PSL_KEEP set: cluster still runs in $cluster (stop: $cluster_sh stop $cluster --rm)"
		elif ! "$cluster_sh" stop "$cluster" --rm >"$W/logs/stop.log" 2>&1; then
			echo "FAIL: $prog: the test cluster could not be stopped:"
			sed 's/^/  /' "$W/logs/stop.log"
			rc=1
		fi
	fi
	if [ -n "${PSL_KEEP:-}" ]; then
		echo "# slurm: logs kept in $W/logs"
	else
		case $W in
		/tmp/psl-run.??????) rm -rf -- "$W" ;;
		esac
	fi
	exit "$rc"
}
bg_pids=()
trap stop_cluster EXIT
trap 'echo "FAIL: $prog: interrupted"; exit 1' INT TERM HUP

cp "${src[parade]}" "${src[parade-agent]}" "${src[parade.so]}" "$W/bin/" || die "cannot copy the binaries to $W/bin"
if [ -f "$top_builddir/examples/gamma/gamma-sim" ]; then
	cp "$top_builddir/examples/gamma/gamma-sim" "$W/bin/" || die "cannot copy gamma-sim"
fi
chmod 0755 "$W"/bin/*
export PSL_BIN=$W/bin
export PSL_USER=parade-test
export PSL_MAX_WORKERS=64

echo "required $W/bin/parade.so agent=$W/bin/parade-agent max_workers=$PSL_MAX_WORKERS port_range=47000-47999" \
	>"$W/plugstack.conf"
chmod 0644 "$W/plugstack.conf"

"$cluster_sh" ensure-user "$PSL_USER" >"$W/logs/user.log" 2>&1 || {
	sed 's/^/  /' "$W/logs/user.log"
	die "cannot create the test user $PSL_USER"
}

t0=$SECONDS
cluster_up=1
if ! "$cluster_sh" start "$cluster" --plugstack "$W/plugstack.conf" >"$W/logs/start.log" 2>&1; then
	sed 's/^/  /' "$W/logs/start.log"
	die "the test cluster did not start (see above)"
fi
[ -f "$cluster/env.sh" ] || die "the cluster started but wrote no $cluster/env.sh"
# shellcheck disable=SC1091
. "$cluster/env.sh"
export SLURM_CONF
echo "# slurm: top_srcdir=$top_srcdir top_builddir=$top_builddir"
echo "# slurm: cluster up in $((SECONDS - t0))s ($cluster, node $PARADE_SLURM_NODE)"

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

fg_tests=()
bg_names=()
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
	rc=0
	timeout -k 10 "$limit" bash "$t" </dev/null >"$log" 2>&1 || rc=$?
	report "$name" "$rc" $((SECONDS - start)) "$log" "$limit"
done

for i in "${!bg_names[@]}"; do
	name=${bg_names[$i]}
	rc=0
	wait "${bg_pids[$i]}" || rc=$?
	bg_pids[$i]=
	report "$name" "$rc" $((SECONDS - ${bg_start[$name]})) "$W/logs/$name.log" "$bg_limit"
done

# nothing of the suite may outlive it: no process runs from its binaries
left=()
for d in /proc/[0-9]*; do
	mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
	[ ${#a[@]} -gt 0 ] || continue
	case "${a[0]}" in
	"$PSL_BIN"/*) left+=("${d#/proc/} ${a[*]}") ;;
	esac
done
if [ ${#left[@]} -gt 0 ]; then
	for l in "${left[@]}"; do
		echo "FAIL: $prog: process left behind by the suite: $l"
		kill -9 "${l%% *}" 2>/dev/null
	done
	nfail=$((nfail + 1))
	failed+=("leftovers")
fi

echo "# slurm: $npass passed, $nfail failed in $((SECONDS - suite_start))s${failed[*]:+ (failed: ${failed[*]})}"
[ "$nfail" -eq 0 ] || exit 1
exit 0
