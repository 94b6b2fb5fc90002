#!/bin/bash
# t_cancel.sh - scancel of a running job whose step has busy agents: a batch
# job (sbatch --parade-workers=2, the script runs parade run over long
# tasks), as root and as the test user (who cancels it), and a step of an
# srun --parade-workers=2 in the background (root). Within a few seconds
# of scancel nothing of the job is left: no agent, no task, no parade run.
. "$(dirname "$0")/lib.sh"

# busy JOB: 2 agents of JOB and 2 of their long.sh tasks run
busy() {
	[ "$(count_agents "$1")" -eq 2 ] && [ "$(count_tasks "$1")" -eq 2 ]
}

wait_busy() {
	local who=$1 job=$2 log=$3
	wait_for 20 busy "$job" || {
		show_file "$log"
		fail "$who: job $job ($(job_state "$job")) does not have 2 agents running 2 tasks" \
			"after 20 s: $(count_agents "$job") agents, $(count_tasks "$job") tasks"
	}
}

for who in root "$PSL_USER"; do
	d=$(dir_of "$who")
	name=psl-$TEST_NAME-$who-batch
	rc=0
	out=$(as_user "$who" sbatch --parsable -J "$name" -n1 -c2 --parade-workers=2 \
		-o "$d/job-%j.out" --wrap "$PARADE run --grid $T/g20.csv -- $T/long.sh {x}" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "$who: sbatch: exit status $rc: $out"
	JOB=$out
	wait_busy "$who" "$JOB" "$d/job-$JOB.out"
	t0=$(now_ms)
	as_user "$who" scancel "$JOB" || fail "$who: scancel $JOB failed"
	assert_job_clean "$JOB" 5
	info "$who: batch job $JOB: agents and tasks gone $(($(now_ms) - t0)) ms after scancel"
	wait_job_end "$JOB" 10
	[ "$JOB_STATE" = CANCELLED ] || fail "$who: job $JOB ended $JOB_STATE, expected CANCELLED"
done

name=psl-$TEST_NAME-root-srun
as_user root timeout -k 5 60 srun -Q -J "$name" -n1 -c2 --parade-workers=2 \
	"$PARADE" run --grid "$T/g20.csv" -- "$T/long.sh" '{x}' >"$T/srun.out" 2>"$T/srun.err" &
spid=$!
wait_for 10 job_known "$name" || fail "srun: no job $name after 10 s"
job_id "$name"
wait_busy root "$JOB" "$T/srun.err"
t0=$(now_ms)
scancel "$JOB" || fail "scancel $JOB failed"
assert_job_clean "$JOB" 5
info "srun job $JOB: agents and tasks gone $(($(now_ms) - t0)) ms after scancel"
wait_pid "$spid" 10 || fail "srun still runs 10 s after scancel $JOB"
[ "$RC" -ne 0 ] || fail "srun of cancelled job $JOB exited 0"
