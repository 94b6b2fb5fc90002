#!/bin/bash
# t_launch.sh - parade submits its own agents from outside any job:
#  - `parade run --launch slurm:4` reports "submitted Slurm job J", runs
#    the 20 tasks on J's 4 agents, and when it ends J is over (cancelled)
#    with nothing left;
#  - `--dry-run` prints the sbatch script (#SBATCH --ntasks=4) and submits
#    nothing;
#  - `--launch slurm:2 --partition nosuch` fails with status 2 and sbatch's
#    own message, submits nothing and leaves no session;
#  - `parade launch slurm -n 2 --connect FILE` gives a running `parade run
#    --listen ... --launch none` 2 agents in a job that ends by itself when
#    the run is over.
# As root.
. "$(dirname "$0")/lib.sh"

ph=$(home_of root)

# --launch slurm:4
rc=0
as_user root timeout -k 5 60 "$PARADE" run --launch slurm:4 --name L1 --grid "$T/g20.csv" \
	-- "$T/cmd.sh" '{x}' >"$T/l1.csv" 2>"$T/l1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/l1.err"
	fail "parade run --launch slurm:4: exit status $rc, expected 0"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 4 agent(s).*/\1/p' "$T/l1.err")
[ -n "$JOB" ] || {
	show_file "$T/l1.err"
	fail "parade run --launch slurm:4 did not report 'submitted Slurm job J: 4 agent(s)'"
}
[ "$(job_ids parade-L1)" = "$JOB" ] ||
	fail "the job named parade-L1 is '$(job_ids parade-L1)', parade reported $JOB"
check_table "$T/l1.csv" 20 "$JOB" 0 0 4
check_joined "$T/l1.err" "$JOB" 0 4
wait_job_end "$JOB" 15
case $JOB_STATE in
CANCELLED | COMPLETED | GONE) ;;
*) fail "job $JOB ended $JOB_STATE after parade run, expected CANCELLED or COMPLETED" ;;
esac
assert_job_clean "$JOB" 5
[ ! -e "$ph/sessions/L1" ] || fail "session L1 is still there after the run"
info "--launch slurm:4: job $JOB, 20 ok rows on its 4 agents, job $JOB_STATE after the run"

# --dry-run
rc=0
as_user root timeout -k 5 30 "$PARADE" run --launch slurm:4 --dry-run --name D1 --grid "$T/g20.csv" \
	-- "$T/cmd.sh" '{x}' >"$T/d1.out" 2>"$T/d1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/d1.err"
	fail "parade run --launch slurm:4 --dry-run: exit status $rc, expected 0"
}
for want in '#!/bin/sh' '#SBATCH --ntasks=4' '#SBATCH --job-name=parade-D1'; do
	grep -qxF -- "$want" "$T/d1.out" || {
		show_file "$T/d1.out"
		fail "--dry-run: no line '$want' in the script"
	}
done
grep -q "^exec srun .*'$AGENT' --connect '$ph/sessions/D1/connection'" "$T/d1.out" || {
	show_file "$T/d1.out"
	fail "--dry-run: the script does not run $AGENT with the session's connection file"
}
! grep -q 'submitted' "$T/d1.err" || fail "--dry-run: $(grep submitted "$T/d1.err")"
sleep 0.5
[ -z "$(job_ids parade-D1)" ] || fail "--dry-run submitted job $(job_ids parade-D1)"
info "--dry-run: printed the script, submitted nothing"

# a partition that does not exist
rc=0
as_user root timeout -k 5 30 "$PARADE" run --launch slurm:2 --partition nosuch --name P1 \
	--grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$T/p1.out" 2>"$T/p1.err" || rc=$?
[ "$rc" -eq 2 ] || {
	show_file "$T/p1.err"
	fail "--launch slurm:2 --partition nosuch: exit status $rc, expected 2"
}
grep -qi 'sbatch.*invalid partition' "$T/p1.err" || {
	show_file "$T/p1.err"
	fail "--partition nosuch: sbatch's message (invalid partition) is not shown"
}
[ -z "$(job_ids parade-P1)" ] || fail "--partition nosuch: job $(job_ids parade-P1) exists"
[ ! -e "$ph/sessions/P1" ] || fail "--partition nosuch: session P1 left behind"
info "--partition nosuch: status 2, $(grep -i -m1 'invalid partition' "$T/p1.err")"

# parade launch slurm for a running controller
as_user root timeout -k 5 60 "$PARADE" run --listen tls+tcp://0.0.0.0:0 --launch none --name X1 \
	--grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$T/x1.csv" 2>"$T/x1.err" &
ppid=$!
conn=$ph/sessions/X1/connection
wait_for 10 test -s "$conn" || {
	show_file "$T/x1.err"
	fail "no connection file $conn 10 s after parade run --listen started"
}
rc=0
out=$(as_user root timeout -k 5 30 "$PARADE" launch slurm -n 2 --connect "$conn" 2>"$T/launch.err") || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/launch.err"
	fail "parade launch slurm -n 2: exit status $rc"
}
case $out in
'' | *[!0-9]*) fail "parade launch slurm printed '$out', expected a job id" ;;
esac
JOB=$out
wait_pid "$ppid" 40 || {
	show_file "$T/x1.err"
	fail "parade run did not finish within 40 s with the agents of job $JOB"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/x1.err"
	fail "parade run with the agents of parade launch: exit status $RC"
}
TABLE_AGENTS=
check_table "$T/x1.csv" 20 "$JOB" 0 0 2
check_joined "$T/x1.err" "$JOB" 0 2
# the agents leave when the controller says goodbye: the job ends by itself
wait_job_end "$JOB" 15
[ "$JOB_STATE" = COMPLETED ] || fail "job $JOB of parade launch ended $JOB_STATE, expected COMPLETED"
assert_job_clean "$JOB" 5
info "parade launch slurm: job $JOB's 2 agents ran the 20 tasks, then the job completed"
