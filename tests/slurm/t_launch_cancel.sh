#!/bin/bash
# t_launch_cancel.sh - `parade run --launch slurm:1` survives its job being
# cancelled (scancel) while its agent runs tasks, as the test user: parade
# notices at once ("Slurm job J ended CANCELLED"), the tasks that were
# running are requeued, a job replaces J ("submitted Slurm job K"), and the
# run completes with every row ok (none failed), rows from J or K only.
# Before, nothing replaced J: the controller waited forever with no agent.
# --slurm-retries 0 then shows the other side: the same cancel ends the run
# with status 2 and the job's state, within the test's time limit.
. "$(dirname "$0")/lib.sh"

who=$PSL_USER
uid=$(uid_of "$who")
ph=$(home_of "$who")

# started_tasks FILE N: the controller's log shows the agent joined, and N
# tasks of the grid have started (their marks exist)
marks() { [ "$(find "$T/marks" -name 'm.*' | wc -l)" -ge "$1" ]; }
cat >"$T/mark.sh" <<'EOF'
#!/bin/sh
: >"$1/m.$2.$$"
sleep "$3"
echo "x=$2 job=${SLURM_JOB_ID:-none} step=${SLURM_STEP_ID:-none} uid=$(id -u)"
EOF
chmod 0755 "$T/mark.sh"
mkdir -m 0777 "$T/marks"

as_user "$who" timeout -k 5 100 "$PARADE" run --launch slurm:1 --cpus 2 --slots 2 --name LC1 \
	--grid "$T/g20.csv" -- "$T/mark.sh" "$T/marks" '{x}' 1 >"$T/c1.csv" 2>"$T/c1.err" &
ppid=$!
wait_for 30 marks 2 || {
	show_file "$T/c1.err"
	fail "no task started within 30 s of parade run --launch slurm:1"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/c1.err" | head -n 1)
[ -n "$JOB" ] || fail "no 'submitted Slurm job' line"
# cancelled while two tasks run
scancel "$JOB"
info "cancelled job $JOB while its agent ran tasks"
wait_pid "$ppid" 90 || {
	show_file "$T/c1.err" 40
	kill "$ppid" 2>/dev/null
	fail "parade run did not finish within 90 s of its job $JOB being cancelled"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/c1.err" 40
	show_file "$T/c1.csv"
	fail "parade run: exit status $RC after its job was cancelled, expected 0 (every row ok)"
}
grep -q "^parade: warning: Slurm job $JOB ended CANCELLED.*submitting a job to replace it" "$T/c1.err" || {
	show_file "$T/c1.err" 40
	fail "no 'Slurm job $JOB ended CANCELLED ... submitting a job to replace it' warning"
}
grep -q "^parade: warning: agent .* lost .*requeued" "$T/c1.err" || {
	show_file "$T/c1.err" 40
	fail "the cancelled job's agent was not reported lost with its tasks requeued"
}
K=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/c1.err" | sed -n 2p)
[ -n "$K" ] && [ "$K" != "$JOB" ] || {
	show_file "$T/c1.err" 40
	fail "no replacement job was submitted"
}
bad=$(tail -n +2 "$T/c1.csv" | awk -F, -v j="$JOB" -v k="$K" -v uid="$uid" '
	$2 != "ok" { print "row " NR ": status " $2 ": " $7; exit }
	$6 != "x=" $1 " job=" j " step=0 uid=" uid && $6 != "x=" $1 " job=" k " step=0 uid=" uid {
		print "row " NR ": " $6; exit }')
[ -z "$bad" ] || {
	show_file "$T/c1.csv"
	fail "$bad"
}
[ "$(($(wc -l <"$T/c1.csv") - 1))" -eq 20 ] || fail "not 20 rows"
wait_job_end "$K" 15
assert_job_clean "$JOB" 5
assert_job_clean "$K" 5
info "job $JOB cancelled mid-run: tasks requeued, job $K replaced it, 20 rows ok"

# the same with no replacement allowed: the run ends, naming the state
rm -f "$T"/marks/m.*
rc=0
as_user "$who" timeout -k 5 60 "$PARADE" run --launch slurm:1 --cpus 2 --slots 2 --slurm-retries 0 \
	--name LC2 --grid "$T/g20.csv" -- "$T/mark.sh" "$T/marks" '{x}' 5 >"$T/c2.csv" 2>"$T/c2.err" &
ppid=$!
wait_for 30 marks 2 || {
	show_file "$T/c2.err"
	fail "C2: no task started within 30 s"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/c2.err")
scancel "$JOB"
wait_pid "$ppid" 50 || {
	show_file "$T/c2.err" 40
	kill "$ppid" 2>/dev/null
	fail "--slurm-retries 0: parade run still waits 50 s after its only job was cancelled"
}
[ "$RC" -eq 2 ] || {
	show_file "$T/c2.err" 40
	fail "--slurm-retries 0: exit status $RC after the job was cancelled, expected 2"
}
grep -q "^parade: error: Slurm job $JOB ended CANCELLED.*giving up" "$T/c2.err" || {
	show_file "$T/c2.err" 40
	fail "--slurm-retries 0: no 'Slurm job $JOB ended CANCELLED ... giving up' error"
}
[ "$(sed -n 's/^parade: submitted Slurm job \([0-9]*\).*/\1/p' "$T/c2.err" | wc -l)" -eq 1 ] ||
	fail "--slurm-retries 0: a replacement job was submitted"
assert_job_clean "$JOB" 5
info "--slurm-retries 0: $(grep -m1 'giving up' "$T/c2.err")"
