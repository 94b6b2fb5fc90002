#!/bin/bash
# t_launch_fail.sh - `parade run --launch slurm:N` whose jobs cannot work
# stops with status 2 and the job's state and reason; it never waits
# forever (each run here is under a 60 s timeout):
#  - the agent's path does not exist on the node (PARADE_AGENT): srun fails
#    at launch while the job runs; with --slurm-retries 1 a second job is
#    tried, then the run gives up: "Slurm job K lost its agents' step
#    (srun exited N: ... execve ...) while the job was RUNNING; job
#    cancelled; giving up: 2 job(s) ended ...", exit 2, both jobs over;
#  - slurm:2 on this one-node cluster: the job pends with reason
#    PartitionNodeLimit, which waiting does not change: the run gives up at
#    once (no replacement: one like it cannot start either), exit 2.
# Before, both waited forever ("no agent connected for 30 s; still
# waiting"). As root.
. "$(dirname "$0")/lib.sh"

# an agent the node does not have
rc=0
as_user root env PARADE_AGENT=/nonexistent/parade-agent timeout -k 5 60 "$PARADE" run \
	--launch slurm:1 --cpus 1 --slurm-retries 1 --name LF1 --grid "$T/g3.csv" \
	-- "$T/cmd.sh" '{x}' >"$T/f1.csv" 2>"$T/f1.err" || rc=$?
[ "$rc" -eq 2 ] || {
	show_file "$T/f1.err" 40
	fail "an agent path missing on the node: exit status $rc, expected 2 (124: it waited on)"
}
jobs=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/f1.err" | tr '\n' ' ')
set -- $jobs
[ $# -eq 2 ] || {
	show_file "$T/f1.err" 40
	fail "--slurm-retries 1: expected 2 jobs submitted, got '$jobs'"
}
grep -q "^parade: warning: Slurm job $1 lost its agents' step (srun exited [0-9]*: .*/nonexistent/parade-agent.*) while the job was RUNNING; job cancelled; submitting a job to replace it" "$T/f1.err" || {
	show_file "$T/f1.err" 40
	fail "no warning naming job $1, srun's exit and the missing agent"
}
grep -q "^parade: error: Slurm job $2 lost its agents' step (srun exited [0-9]*: .*/nonexistent/parade-agent.*) while the job was RUNNING; job cancelled; giving up: 2 job(s) ended before they were asked to (--slurm-retries 1)\$" "$T/f1.err" || {
	show_file "$T/f1.err" 40
	fail "no error naming job $2, srun's exit, the missing agent and the limit"
}
! grep -q 'still waiting' "$T/f1.err" || fail "the run waited for agents that cannot come"
for j in "$1" "$2"; do
	wait_job_end "$j" 15
	case $JOB_STATE in
	CANCELLED | GONE) ;;
	*) fail "job $j ended $JOB_STATE, expected CANCELLED" ;;
	esac
	assert_job_clean "$j" 5
done
info "missing agent: $(grep -m1 'giving up' "$T/f1.err")"

# a job that can never start
rc=0
as_user root timeout -k 5 60 "$PARADE" run --launch slurm:2 --cpus 1 --name LF2 \
	--grid "$T/g3.csv" -- "$T/cmd.sh" '{x}' >"$T/f2.csv" 2>"$T/f2.err" || rc=$?
[ "$rc" -eq 2 ] || {
	show_file "$T/f2.err" 40
	fail "slurm:2 on one node: exit status $rc, expected 2 (124: it waited on)"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 2 node(s).*/\1/p' "$T/f2.err" | tr '\n' ' ')
case $JOB in
'' | *' '?*) show_file "$T/f2.err"; fail "slurm:2 on one node: expected one job, got '$JOB'" ;;
esac
JOB=${JOB% }
grep -q "^parade: error: Slurm job $JOB cannot start: it is PENDING (reason PartitionNodeLimit), which waiting does not change; job cancelled; giving up" "$T/f2.err" || {
	show_file "$T/f2.err" 40
	fail "no error naming job $JOB, PENDING and PartitionNodeLimit"
}
wait_job_end "$JOB" 15
assert_job_clean "$JOB" 5
info "never starts: $(grep -m1 'giving up' "$T/f2.err")"
