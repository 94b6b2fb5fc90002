#!/bin/bash
# t_session.sh - a submitted session whose agents come from sbatch jobs:
#  - `parade submit --launch slurm:1 --cpus 1` returns at once; `parade
#    status` shows the job id and its state, and the agent's Slurm job;
#  - `parade scale NAME 2` submits a second job of 1 node (one agent: on
#    this one-node cluster a job of more nodes cannot start);
#  - `parade collect --wait` gives every row once, all ok, and afterwards
#    both jobs are over with nothing left.
# As root.
. "$(dirname "$0")/lib.sh"

grid "$T/g40.csv" 40
rc=0
as_user root timeout -k 5 30 "$PARADE" submit --launch slurm:1 --cpus 1 --name S1 --grid "$T/g40.csv" \
	-- "$T/cmd.sh" '{x}' 0.3 >"$T/s1.out" 2>"$T/s1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/s1.err"
	fail "parade submit --launch slurm:1: exit status $rc, expected 0"
}
[ "$(cat "$T/s1.out")" = S1 ] || fail "submit printed '$(cat "$T/s1.out")', expected S1"
job_id parade-S1
JOB1=$JOB

# the launcher's state: the job and its queue state, and the agent in it
has_agent() {
	as_user root timeout 10 "$PARADE" status S1 --json --agents >"$T/st.json" 2>&1 &&
		grep -q "\"slurm_job\":\"$JOB1\"" "$T/st.json"
}
wait_for 30 has_agent || {
	show_file "$T/st.json"
	fail "status never showed an agent of job $JOB1"
}
grep -q "\"launcher\":{\"kind\":\"slurm\",\"target\":1,.*\"jobs\":\[{\"id\":\"$JOB1\",\"state\":\"RUNNING\",\"reason\":\"\",\"nodes\":1,\"ended\":false}\]" "$T/st.json" || {
	show_file "$T/st.json"
	fail "status does not show job $JOB1 RUNNING as the launcher's state"
}
as_user root timeout 10 "$PARADE" status S1 >"$T/st.txt" 2>&1
grep -q "Slurm job $JOB1: RUNNING" "$T/st.txt" || {
	show_file "$T/st.txt"
	fail "status (text) does not show job $JOB1"
}

# scale up: one more job, of one node
rc=0
as_user root timeout 30 "$PARADE" scale S1 2 >"$T/scale.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/scale.out"
	fail "parade scale S1 2: exit status $rc"
}
JOBS=$(job_ids parade-S1)
set -- $JOBS
[ $# -eq 2 ] || fail "after scale 2, jobs named parade-S1: '$JOBS', expected two"
JOB2=$2
two() {
	as_user root timeout 10 "$PARADE" status S1 --json >"$T/st2.json" 2>&1 &&
		grep -q '"agents":2,' "$T/st2.json"
}
wait_for 30 two || {
	show_file "$T/st2.json"
	fail "2 agents never connected after scale 2"
}

rc=0
as_user root timeout -k 5 90 "$PARADE" collect S1 --wait >"$T/s1.csv" 2>"$T/c.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/c.err"
	fail "parade collect S1 --wait: exit status $rc"
}
bad=$(tail -n +2 "$T/s1.csv" | awk -F, -v j1="$JOB1" -v j2="$JOB2" '
	$1 != NR { print "row " NR " has x=" $1; exit }
	$2 != "ok" { print "row " NR ": status " $2 ", error: " $7; exit }
	$6 != "x=" NR " job=" j1 " step=0 uid=0" && $6 != "x=" NR " job=" j2 " step=0 uid=0" {
		print "row " NR ": stdout " $6; exit }
	END { if (NR != 40) print NR " rows, expected 40" }')
[ -z "$bad" ] || {
	show_file "$T/s1.csv"
	fail "$bad"
}
grep -q "job=$JOB2" "$T/s1.csv" || fail "no task ran in the second job $JOB2"
for j in "$JOB1" "$JOB2"; do
	wait_job_end "$j" 20
	assert_job_clean "$j" 5
done
info "submit with slurm:1, status shows job $JOB1 RUNNING, scale 2 added job $JOB2, 40 rows ok"
