#!/bin/bash
# t_step_end.sh - Slurm ending a step never fails a task: a controller
# outside Slurm (parade run --launch none --listen tls+tcp://0.0.0.0:0) gets
# its agents from `srun --parade-workers=2 --parade-controller=FILE sleep
# 300`; while both run a task, scancel ends that job (slurmstepd signals
# every process of the step at once: agents and tasks). The tasks that
# ran are requeued (lost), and once the agents of a second step join,
# every row ends ok, the run exits 0. As root.
. "$(dirname "$0")/lib.sh"

ph=$(home_of root)
conn=$ph/sessions/ext-end/connection
cat >"$T/slow.sh" <<'EOS'
#!/bin/bash
# a task that is its own process while it sleeps (argv[0] keeps $T)
[ "$2" = sleep ] && exec -a "$0" sleep 3
"$0" "$1" sleep || exit
echo "x=$1"
EOS
chmod 0755 "$T/slow.sh"
grid "$T/g6.csv" 6

as_user root timeout -k 5 100 "$PARADE" run --listen tls+tcp://0.0.0.0:0 --launch none \
	--name ext-end --keep-session --grid "$T/g6.csv" -- "$T/slow.sh" '{x}' \
	>"$T/out.csv" 2>"$T/err" &
ppid=$!
wait_for 10 test -s "$conn" || {
	show_file "$T/err"
	fail "no connection file $conn 10 s after parade run started"
}

name1=psl-$TEST_NAME-root-1
as_user root timeout -k 5 90 srun -Q -J "$name1" -n1 --parade-workers=2 \
	--parade-controller="$conn" sleep 300 >"$T/srun1.out" 2>"$T/srun1.err" &
s1=$!
wait_for 10 job_known "$name1" || fail "no job $name1 after 10 s"
job_id "$name1"
job1=$JOB
# both agents of the step run a task (the sleep of slow.sh)
running() {
	find_procs "$job1" "$T/slow.sh"
	[ ${#PIDS[@]} -ge 2 ]
}
wait_for 20 running || {
	show_file "$T/err"
	fail "job $job1's agents do not run 2 tasks after 20 s"
}
scancel "$job1" || fail "scancel $job1 failed"
assert_job_clean "$job1" 10
wait_pid "$s1" 15 || fail "srun of job $job1 still runs 15 s after scancel"
info "job $job1 cancelled while its 2 agents ran tasks"

name2=psl-$TEST_NAME-root-2
as_user root timeout -k 5 90 srun -Q -J "$name2" -n1 --parade-workers=2 \
	--parade-controller="$conn" sleep 300 >"$T/srun2.out" 2>"$T/srun2.err" &
s2=$!
wait_pid "$ppid" 60 || {
	show_file "$T/err"
	fail "parade run did not finish within 60 s of the second step"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/out.csv"
	show_file "$T/err"
	fail "parade run: exit status $RC, expected 0 (no task may fail when Slurm ends its step)"
}
bad=$(tail -n +2 "$T/out.csv" | awk -F, '$2 != "ok" || $6 != "x=" NR { print "row " NR ": " $0; exit }')
[ -z "$bad" ] || {
	show_file "$T/out.csv"
	fail "$bad"
}
[ "$(($(wc -l <"$T/out.csv") - 1))" -eq 6 ] || fail "$(($(wc -l <"$T/out.csv") - 1)) rows, expected 6"
grep -q "lost" "$T/err" || {
	show_file "$T/err"
	fail "the controller did not report the first step's agents' tasks as lost"
}
info "controller: $(grep -m1 lost "$T/err")"
job_id "$name2"
scancel "$JOB" || fail "scancel $JOB failed"
assert_job_clean "$JOB" 10
wait_pid "$s2" 15 || fail "srun of job $JOB still runs 15 s after scancel"
info "every row ok after the step was cancelled mid-task"
