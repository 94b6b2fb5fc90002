#!/bin/bash
# t_launch_timelimit.sh - `parade run --launch slurm:1 --time 1` whose job
# hits its time limit while its agent runs tasks: parade notices ("Slurm
# job J ended TIMEOUT"), the running tasks are requeued, a job replaces J,
# and the run completes with every row ok (none failed). The tasks wait
# until the test has seen J end, so J always ends mid-run. Slurm's limits
# have minute granularity and slurmctld checks them every 30 s: 60-90 s,
# so run.sh runs this alongside the other tests. Before, nothing replaced
# J and the controller waited forever. As root.
# psl: background
. "$(dirname "$0")/lib.sh"

cat >"$T/gate.sh" <<'EOF'
#!/bin/sh
while [ ! -e "$1/go" ]; do sleep 0.2; done
echo "x=$2 job=${SLURM_JOB_ID:-none} step=${SLURM_STEP_ID:-none} uid=$(id -u)"
EOF
chmod 0755 "$T/gate.sh"
grid "$T/g4.csv" 4

as_user root timeout -k 5 200 "$PARADE" run --launch slurm:1 --cpus 2 --slots 2 --time 1 \
	--name LTL --grid "$T/g4.csv" -- "$T/gate.sh" "$T" '{x}' >"$T/tl.csv" 2>"$T/tl.err" &
ppid=$!
timed_out() { grep -q "^parade: warning: Slurm job [0-9]* ended TIMEOUT" "$T/tl.err"; }
wait_for 160 timed_out || {
	show_file "$T/tl.err" 40
	fail "no 'Slurm job J ended TIMEOUT' warning within 160 s of a run with --time 1"
}
: >"$T/go"
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/tl.err" | head -n 1)
info "job $JOB hit its time limit: $(grep -m1 'ended TIMEOUT' "$T/tl.err")"
wait_pid "$ppid" 60 || {
	show_file "$T/tl.err" 40
	kill "$ppid" 2>/dev/null
	fail "parade run did not finish within 60 s after job $JOB's time limit"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/tl.err" 40
	show_file "$T/tl.csv"
	fail "parade run: exit status $RC after its job's time limit, expected 0 (every row ok)"
}
grep -q "^parade: warning: Slurm job $JOB ended TIMEOUT.*submitting a job to replace it" "$T/tl.err" || {
	show_file "$T/tl.err" 40
	fail "job $JOB's time limit was not followed by a replacement"
}
K=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/tl.err" | sed -n 2p)
[ -n "$K" ] || fail "no replacement job"
check_table "$T/tl.csv" 4 "$K" 0 0 1
wait_job_end "$JOB" 15
[ "$JOB_STATE" = TIMEOUT ] || [ "$JOB_STATE" = GONE ] || fail "job $JOB ended $JOB_STATE, expected TIMEOUT"
assert_job_clean "$JOB" 5
assert_job_clean "$K" 10
info "job $JOB timed out mid-run; job $K ran the 4 tasks, all ok"
