#!/bin/bash
# t_srun.sh - srun --parade-workers=4 parade run: task 0's controller takes
# the step's session and its 4 agents (which report job and step) run all
# 20 tasks, as the job's user and with the job's environment (PSL_JOB_ONLY
# reaches them; no secret of parade's does: cmd.sh); nothing is
# left when srun returns. PARADE_HOME does not exist beforehand: it is
# created, private and the user's, and so are the agents' logs. Then a step
# that never starts a controller (srun --parade-workers=3 sleep 0.5) ends
# on time, its waiting agents with it. As root and as the test user.
. "$(dirname "$0")/lib.sh"

for who in root "$PSL_USER"; do
	name=psl-$TEST_NAME-$who
	out=$T/out-$who.csv
	err=$T/err-$who.txt
	ph=$(home_of "$who")
	rmdir "$ph" || fail "cannot remove $ph"
	rc=0
	as_user "$who" env PSL_JOB_ONLY=1 timeout -k 5 60 srun -Q -J "$name" -n1 -c4 --parade-workers=4 \
		"$PARADE" run --grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$out" 2>"$err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		show_file "$err"
		fail "$who: srun --parade-workers=4 parade run: exit status $rc, expected 0"
	fi
	job_id "$name"
	info "$who: job $JOB done"

	grep -qxF "parade: using the 4 agents Slurm started for this step (session slurm-$JOB.0)" "$err" || {
		show_file "$err"
		fail "$who: parade run did not report using the 4 agents of session slurm-$JOB.0"
	}
	check_table "$out" 20 "$JOB" 0 "$(uid_of "$who")" 4
	check_joined "$err" "$JOB" 0 4

	# the agents' logs, one per agent, are the user's
	logs=$(find "$ph/sessions/slurm-$JOB.0" -maxdepth 1 -name 'agent-*.log' 2>/dev/null | wc -l)
	[ "$logs" -eq 4 ] || fail "$who: $logs agent logs in $ph/sessions/slurm-$JOB.0, expected 4"
	for f in "$ph" "$ph/sessions" "$ph/sessions/slurm-$JOB.0" "$ph/sessions/slurm-$JOB.0"/agent-*.log; do
		v=$(stat -c '%u %a' "$f")
		case $f in
		*.log) want="$(uid_of "$who") 600" ;;
		*) want="$(uid_of "$who") 700" ;;
		esac
		[ "$v" = "$want" ] || fail "$who: $f has owner and mode '$v', expected '$want'"
	done
	[ ! -e "$ph/sessions/slurm-$JOB.0/connection" ] ||
		fail "$who: the step's connection file (with its secret) was written"
	assert_job_clean "$JOB" 5

	# the job's environment reaches the tasks, as it would an ordinary task
	name=psl-$TEST_NAME-$who-env
	rc=0
	echo x | as_user "$who" env PSL_JOB_ONLY=from-the-job timeout -k 5 60 srun -Q -J "$name" -n1 \
		--parade-workers=1 "$PARADE" run --shell 'echo "job_env=$PSL_JOB_ONLY"' \
		>"$T/env-$who.csv" 2>"$T/env-$who.err" || rc=$?
	[ "$rc" -eq 0 ] && grep -q ',job_env=from-the-job,' "$T/env-$who.csv" || {
		show_file "$T/env-$who.err"
		show_file "$T/env-$who.csv"
		fail "$who: the job's environment did not reach the task (exit status $rc)"
	}
	job_id "$name"

	assert_job_clean "$JOB" 5

	# agents waiting for a controller that never comes end with the step
	name=psl-$TEST_NAME-$who-idle
	t0=$(now_ms)
	rc=0
	as_user "$who" timeout -k 5 30 srun -Q -J "$name" -n1 --parade-workers=3 sleep 0.5 \
		>"$T/idle-$who.out" 2>"$T/idle-$who.err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$T/idle-$who.err"
		fail "$who: srun --parade-workers=3 sleep 0.5: exit status $rc"
	}
	[ $(($(now_ms) - t0)) -lt 10000 ] ||
		fail "$who: srun --parade-workers=3 sleep 0.5 took $(($(now_ms) - t0)) ms (waiting for its agents?)"
	job_id "$name"
	logs=$(find "$ph/sessions/slurm-$JOB.0" -maxdepth 1 -name 'agent-*.log' 2>/dev/null | wc -l)
	[ "$logs" -eq 3 ] || fail "$who: $logs agent logs for the idle step $JOB.0, expected 3 (did its agents start?)"
	assert_job_clean "$JOB" 5
done
info "root and $PSL_USER: 20 ok rows on 4 agents of the step each; idle agents end with their step"
