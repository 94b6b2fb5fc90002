#!/bin/bash
# t_coproc.sh - `parade run --launch slurm:1 --cpus 1 --handler coproc:CMD`:
# the job's agent keeps the coprocess and every row comes back through
# it; and the same in a --parade-workers step, whose agents get the
# command from the controller. As root.
. "$(dirname "$0")/lib.sh"

cp "$top_srcdir/examples/coproc/loop.sh" "$T/loop.sh"
chmod 0755 "$T/loop.sh"
rc=0
as_user root timeout -k 5 60 "$PARADE" run --launch slurm:1 --cpus 1 --name C1 --grid "$T/g20.csv" \
	--handler coproc:"$T/loop.sh" -- '{x}' >"$T/c1.csv" 2>"$T/c1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/c1.err"
	fail "parade run --launch slurm:1 --handler coproc: exit status $rc, expected 0"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/c1.err")
[ -n "$JOB" ] || fail "no 'submitted Slurm job' line"
bad=$(tail -n +2 "$T/c1.csv" | awk -F, '
	$1 != NR || $2 != "ok" || $6 != "sh: " NR { print "row " NR ": " $0; exit }
	END { if (NR != 20) print NR " rows, expected 20" }')
[ -z "$bad" ] || {
	show_file "$T/c1.csv"
	fail "$bad"
}
wait_job_end "$JOB" 15
assert_job_clean "$JOB" 5
info "20 rows through a coprocess kept by the agent of job $JOB"

# a step whose agents the plugin started (--parade-workers): the
# controller hands its coprocess command to them in WELCOME, so they run
# the rows through it too
rc=0
as_user root timeout -k 5 60 srun -Q -J psl-$TEST_NAME-step -n1 -c2 --parade-workers=1 \
	"$PARADE" run --grid "$T/g20.csv" --handler coproc:"$T/loop.sh" -- '{x}' \
	>"$T/c2.csv" 2>"$T/c2.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/c2.err"
	fail "srun --parade-workers=1 parade run --handler coproc: exit status $rc, expected 0"
}
bad=$(tail -n +2 "$T/c2.csv" | awk -F, '
	$1 != NR || $2 != "ok" || $6 != "sh: " NR { print "row " NR ": " $0; exit }
	END { if (NR != 20) print NR " rows, expected 20" }')
[ -z "$bad" ] || {
	show_file "$T/c2.csv"
	fail "--parade-workers step with --handler coproc: $bad"
}
job_id "psl-$TEST_NAME-step"
wait_job_end "$JOB" 15
assert_job_clean "$JOB" 5
info "a --parade-workers step runs --handler coproc: rows through the coprocess (job $JOB)"
