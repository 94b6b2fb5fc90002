#!/bin/bash
# t_cpus.sh - parade run's default number of local agents is one per CPU
# the process may use (lib/cpus.h), not one per online core: a CPU affinity
# of one CPU, a cgroup CPU quota of one CPU (a real cgroup: v2 cpu.max, or
# v1 cpu.cfs_quota_us where the cpu controller is on v1; root only) and a
# Slurm allocation of one CPU (SLURM_CPUS_ON_NODE, SLURM_CPUS_PER_TASK) each
# start exactly one agent. Counted twice: the -v line "started N local
# agent(s)" and the distinct agents in the rows of tasks that overlap.
. "$(dirname "$0")/lib.sh"

online=$(getconf _NPROCESSORS_ONLN)
seq 1 6 >"$T/in6"

# agents_of ERR OUT: how many agents the run started (its -v line) and
# how many distinct agents ran its rows, as "STARTED ROWAGENTS"
agents_of() {
	local started rows
	started=$(sed -n 's/^parade: debug: started \([0-9]*\) local agent(s).*/\1/p' "$1" | head -n 1)
	rows=$(tail -n +2 "$2" | cut -d, -f5 | sort -u | wc -l)
	echo "${started:-none} $rows"
}

# one_agent WHAT WHY: the last run (out, err in $T) started one agent, its
# rows all ran on it, and the -v line says WHY limited it
one_agent() {
	expect_rc 0 "$1" "$T/err"
	[ "$(tail -n +2 "$T/out" | cut -d, -f2 | sort -u)" = ok ] || {
		show_file "$T/out"
		fail "$1: not every row ok"
	}
	[ "$(tail -n +2 "$T/out" | wc -l)" -eq 6 ] || fail "$1: $(($(wc -l <"$T/out") - 1)) rows, expected 6"
	got=$(agents_of "$T/err" "$T/out")
	[ "$got" = "1 1" ] || {
		show_file "$T/err"
		fail "$1: started and row agents '$got', expected '1 1'"
	}
	grep -q "^parade: debug: local agents, one per CPU this process may use: 1 CPU ($2" "$T/err" || {
		show_file "$T/err"
		fail "$1: no -v line naming $2"
	}
}

# 0. unrestricted, for comparison: with two CPUs or more, six overlapping
# tasks run on more than one agent (so the checks below can fail)
if [ "$online" -ge 2 ]; then
	prun "$T/out" "$T/err" -v -- sleep 0.3 <"$T/in6"
	expect_rc 0 "unrestricted run" "$T/err"
	read -r started rows <<<"$(agents_of "$T/err" "$T/out")"
	if [ "$started" = none ] || [ "$started" -lt 2 ] || [ "$rows" -lt 2 ]; then
		info "unrestricted: $started agent(s) started, $rows ran rows (this runner is itself limited?)"
	fi
else
	info "one CPU online: the runs below cannot start fewer agents than the default would"
fi

# 1. taskset -c 0: one agent
if command -v taskset >/dev/null 2>&1; then
	RC=0
	timeout -k 5 60 taskset -c 0 "$PARADE" run -v -- sleep 0.3 <"$T/in6" >"$T/out" 2>"$T/err" || RC=$?
	one_agent "taskset -c 0" "CPU affinity"
else
	echo "SKIP: $TEST_NAME: part: no taskset here, the affinity case did not run" >&2
fi

# 2. inside a Slurm job of one CPU on this node, and a step's task of one
# CPU (the node has more); a bad value is named and ignored
RC=0
SLURM_JOB_ID=7 SLURM_CPUS_ON_NODE=1 timeout -k 5 60 "$PARADE" run -v -- sleep 0.3 \
	<"$T/in6" >"$T/out" 2>"$T/err" || RC=$?
one_agent "SLURM_CPUS_ON_NODE=1" "SLURM_CPUS_ON_NODE"
RC=0
SLURM_JOB_ID=7 SLURM_STEP_ID=0 SLURM_CPUS_PER_TASK=1 SLURM_CPUS_ON_NODE=16 \
	timeout -k 5 60 "$PARADE" run -v -- sleep 0.3 <"$T/in6" >"$T/out" 2>"$T/err" || RC=$?
one_agent "SLURM_CPUS_PER_TASK=1" "SLURM_CPUS_PER_TASK"
RC=0
SLURM_JOB_ID=7 SLURM_CPUS_ON_NODE='1;x' timeout -k 5 60 "$PARADE" run -v -- true \
	<"$T/in6" >"$T/out" 2>"$T/err" || RC=$?
expect_rc 0 "SLURM_CPUS_ON_NODE='1;x'" "$T/err"
grep -q "^parade: warning: SLURM_CPUS_ON_NODE '1;x' is not a number of CPUs (1 to [0-9]*): ignored" "$T/err" || {
	show_file "$T/err"
	fail "SLURM_CPUS_ON_NODE='1;x': no warning naming it"
}

# 3. a real cgroup with a quota of one CPU (100 ms per 100 ms)
cg=
cg_remove() {
	local p i
	[ -n "$cg" ] && [ -d "$cg" ] || return 0
	# only this test's own processes were moved there
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	for i in $(seq 1 50); do
		rmdir "$cg" 2>/dev/null && break
		sleep 0.1
	done
	[ -d "$cg" ] && echo "# $TEST_NAME: could not remove the cgroup $cg" >&2
	cg=
}
trap 'rc_=$?; cg_remove; (exit $rc_); cleanup' EXIT

# a cgroup2 mount point whose root has the cpu controller (enabled for
# children, or enabled now); else a v1 hierarchy with cpu
cg_setup() {
	local dir v2 v1
	[ "$(id -u)" -eq 0 ] || return 1
	v2=$(awk '$(NF-2) == "cgroup2" { print $5; exit }' FS=' ' /proc/self/mountinfo)
	if [ -n "$v2" ] && grep -qw cpu "$v2/cgroup.controllers" 2>/dev/null; then
		grep -qw cpu "$v2/cgroup.subtree_control" || echo +cpu >"$v2/cgroup.subtree_control" 2>/dev/null
		if grep -qw cpu "$v2/cgroup.subtree_control"; then
			dir=$v2/pe2e-cpus-$$
			mkdir "$dir" 2>/dev/null || return 1
			cg=$dir
			echo "100000 100000" >"$dir/cpu.max" || return 1
			CG_KIND="cgroup cpu.max"
			return 0
		fi
	fi
	v1=$(awk '$(NF-2) == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
	if [ -n "$v1" ]; then
		dir=$v1/pe2e-cpus-$$
		mkdir "$dir" 2>/dev/null || return 1
		cg=$dir
		echo 100000 >"$dir/cpu.cfs_period_us" && echo 100000 >"$dir/cpu.cfs_quota_us" || return 1
		CG_KIND="cgroup cpu.cfs_quota_us"
		return 0
	fi
	return 1
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $TEST_NAME: part: not root, the cgroup case did not run (it makes a real cgroup)" >&2
elif ! cg_setup; then
	cg_remove
	echo "SKIP: $TEST_NAME: part: no writable cgroup with the cpu controller (v2 or v1) here," \
		"the cgroup case did not run" >&2
else
	RC=0
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 99
		exec timeout -k 5 60 "$PARADE" run -v -- sleep 0.3 <"$T/in6" >"$T/out" 2>"$T/err"
	) || RC=$?
	[ "$RC" = 99 ] && fail "cannot move a shell into $cg"
	one_agent "a cgroup of one CPU ($cg)" "$CG_KIND"
	cg_remove
fi
exit 0
