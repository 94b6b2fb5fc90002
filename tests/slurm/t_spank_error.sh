#!/bin/bash
# t_spank_error.sh - agents that cannot start on the node (the test user's
# PARADE_HOME cannot be created): the step still runs, the node reports the
# problem once on stderr, and parade run in task 0 gives up at once with
# status 2 and the plugin's message (PARADE_SPANK_ERROR) instead of
# waiting for agents that never come. Nothing is left.
. "$(dirname "$0")/lib.sh"

# a folder the test user cannot write into
mkdir -p "$T/r/locked"
bad=$T/r/locked/ph
name=psl-$TEST_NAME-$PSL_USER
t0=$(now_ms)
rc=0
as_user "$PSL_USER" env PARADE_HOME="$bad" timeout -k 5 60 srun -Q -J "$name" -n1 --parade-workers=2 \
	"$PARADE" run --grid "$T/g3.csv" -- "$T/cmd.sh" '{x}' >"$T/out.csv" 2>"$T/err.txt" || rc=$?
ms=$(($(now_ms) - t0))
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	show_file "$T/err.txt"
	fail "srun --parade-workers=2 parade run with an unusable PARADE_HOME did not end within 60 s"
fi
[ "$rc" -eq 2 ] || {
	show_file "$T/err.txt"
	fail "srun --parade-workers=2 parade run with an unusable PARADE_HOME: exit status $rc, expected 2"
}
[ "$ms" -lt 15000 ] || fail "parade run took $ms ms to give up (it waited for the agents?)"
job_id "$name"
want="parade: error: the Slurm plugin could not start this step's agents: "
line=$(grep -F "$want" "$T/err.txt")
[ "$(echo "$line" | grep -c .)" -eq 1 ] || {
	show_file "$T/err.txt"
	fail "expected one line '$want...' from parade run"
}
echo "$line" | grep -qF "cannot create $bad: Permission denied" || {
	show_file "$T/err.txt"
	fail "parade run's message does not name the problem (cannot create $bad: Permission denied)"
}
# the node's own report, once (from task 0), in the step's stderr
n=$(grep -E '^slurmstepd[^:]*: error: parade: ' "$T/err.txt" | grep -cF "cannot create $bad")
[ "$n" -eq 1 ] || {
	show_file "$T/err.txt"
	fail "$n 'slurmstepd...: error: parade: ...' lines about $bad on stderr, expected 1"
}
[ ! -e "$bad" ] || fail "$bad was created"
assert_job_clean "$JOB" 5
info "job $JOB: parade run gave up after $ms ms with the plugin's message"
