#!/bin/bash
# t_controller.sh - agents for a controller outside Slurm: `parade run
# --listen tls+tcp://0.0.0.0:0 --launch none` runs on the "login node"; an
# `srun --parade-workers=2 --parade-controller=FILE sleep 60` step brings 2
# agents that join it and run all its tasks (they report their job and
# step). Then the step is cancelled and nothing is left. The same with
# PARADE_CONNECT=FILE instead of the option. The option as root, the
# variable as the test user.
. "$(dirname "$0")/lib.sh"

# one WHO HOW: HOW is opt or env
one() {
	local who=$1 how=$2 ph sess conn name out err srun_err ppid spid logs
	ph=$(home_of "$who")
	sess=ext-$how
	conn=$ph/sessions/$sess/connection
	name=psl-$TEST_NAME-$who-$how
	out=$T/out-$how.csv
	err=$T/err-$how.txt
	srun_err=$T/srun-$how.txt

	as_user "$who" timeout -k 5 60 "$PARADE" run --listen tls+tcp://0.0.0.0:0 --launch none \
		--name "$sess" --keep-session --grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$out" 2>"$err" &
	ppid=$!
	wait_for 10 test -s "$conn" || {
		show_file "$err"
		fail "$who ($how): no connection file $conn 10 s after parade run started"
	}
	grep -q '^endpoint=tls+tcp://' "$conn" ||
		fail "$who ($how): the connection file has no tls+tcp endpoint: $(grep endpoint "$conn")"

	if [ "$how" = opt ]; then
		as_user "$who" timeout -k 5 90 srun -Q -J "$name" -n1 --parade-workers=2 \
			--parade-controller="$conn" sleep 60 >"$T/srun-$how.out" 2>"$srun_err" &
	else
		as_user "$who" env PARADE_CONNECT="$conn" timeout -k 5 90 srun -Q -J "$name" -n1 \
			--parade-workers=2 sleep 60 >"$T/srun-$how.out" 2>"$srun_err" &
	fi
	spid=$!

	wait_pid "$ppid" 40 || {
		show_file "$err"
		show_file "$srun_err"
		fail "$who ($how): the external parade run did not finish within 40 s with the step's agents"
	}
	[ "$RC" -eq 0 ] || {
		show_file "$err"
		fail "$who ($how): the external parade run: exit status $RC, expected 0"
	}
	job_id "$name"
	[ "$(job_state "$JOB")" = RUNNING ] ||
		fail "$who ($how): job $JOB is $(job_state "$JOB") after the run, expected RUNNING (sleep 60)"
	TABLE_AGENTS=
	check_table "$out" 20 "$JOB" 0 "$(uid_of "$who")" 2
	check_joined "$err" "$JOB" 0 2
	logs=$(find "$ph/sessions/slurm-$JOB.0-agents" -maxdepth 1 -name 'agent-*.log' 2>/dev/null | wc -l)
	[ "$logs" -eq 2 ] || fail "$who ($how): $logs agent logs in $ph/sessions/slurm-$JOB.0-agents, expected 2"
	[ ! -e "$ph/sessions/slurm-$JOB.0" ] ||
		fail "$who ($how): the step got a session of its own (slurm-$JOB.0) although it has a controller"
	info "$who ($how): job $JOB's 2 agents ran the external run's 20 tasks"

	as_user "$who" scancel "$JOB" || fail "$who ($how): scancel $JOB failed"
	wait_pid "$spid" 15 || fail "$who ($how): srun still runs 15 s after scancel $JOB"
	assert_job_clean "$JOB" 5
}

one root opt
one "$PSL_USER" env
