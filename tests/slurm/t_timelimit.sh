#!/bin/bash
# t_timelimit.sh - a batch job with busy agents hits its time limit
# (sbatch --time=1, the test user): when Slurm ends it (TIMEOUT), its
# agents, their tasks and parade run are gone within a few seconds. Slurm's
# limits have minute granularity and slurmctld checks them every 30 s, so
# this takes 60-90 s: run.sh runs it alongside the other tests.
# psl: background
. "$(dirname "$0")/lib.sh"

who=$PSL_USER
d=$(dir_of "$who")
name=psl-$TEST_NAME-$who
rc=0
out=$(as_user "$who" sbatch --parsable -J "$name" --time=1 -n1 -c2 --parade-workers=2 \
	-o "$d/job-%j.out" --wrap "$PARADE run --grid $T/g20.csv -- $T/long.sh {x}" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "sbatch: exit status $rc: $out"
JOB=$out
t_submit=$(now_ms)

busy() {
	[ "$(count_agents "$1")" -eq 2 ] && [ "$(count_tasks "$1")" -eq 2 ]
}
wait_for 20 busy "$JOB" || {
	show_file "$d/job-$JOB.out"
	fail "job $JOB ($(job_state "$JOB")) does not have 2 agents running 2 tasks after 20 s:" \
		"$(count_agents "$JOB") agents, $(count_tasks "$JOB") tasks"
}
info "job $JOB runs 2 agents with 2 tasks; waiting for its 1-minute limit"

# busy until the limit: nothing ends it early
while [ "$(job_state "$JOB")" = RUNNING ]; do
	[ $(($(now_ms) - t_submit)) -lt 150000 ] ||
		fail "job $JOB still RUNNING 150 s after it was submitted with --time=1"
	if ! busy "$JOB"; then
		# at the limit Slurm kills the step while the job still reads
		# RUNNING for a moment: only an earlier loss is a failure
		[ $(($(now_ms) - t_submit)) -ge 55000 ] && break
		fail "job $JOB lost its agents or tasks before its time limit:" \
			"$(count_agents "$JOB") agents, $(count_tasks "$JOB") tasks"
	fi
	sleep 0.5
done
t_end=$(now_ms)
info "job $JOB left RUNNING after $(((t_end - t_submit) / 1000)) s ($(job_state "$JOB"))"
[ $((t_end - t_submit)) -ge 55000 ] ||
	fail "job $JOB stopped running after $(((t_end - t_submit) / 1000)) s, before its 1-minute limit"
assert_job_clean "$JOB" 8
info "job $JOB: agents and tasks gone $(($(now_ms) - t_end)) ms after it left RUNNING"
wait_job_end "$JOB" 20
[ "$JOB_STATE" = TIMEOUT ] || {
	show_file "$d/job-$JOB.out"
	fail "job $JOB ended $JOB_STATE, expected TIMEOUT"
}
