#!/bin/bash
# t_srun.sh - srun --parade-workers=4 parade run: task 0's controller takes
# the step's session and its 4 agents (which report job and step) run all
# 20 tasks, as the job's user; nothing is left when srun returns. As root
# and as the test user.
. "$(dirname "$0")/lib.sh"

for who in root "$PSL_USER"; do
	name=psl-$TEST_NAME-$who
	out=$T/out-$who.csv
	err=$T/err-$who.txt
	ph=$(home_of "$who")
	rc=0
	as_user "$who" timeout -k 5 60 srun -Q -J "$name" -n1 -c4 --parade-workers=4 \
		"$PARADE" run --grid "$T/g20.csv" -- "$T/cmd.sh" {x} >"$out" 2>"$err" || rc=$?
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
	owners=$(stat -c %u "$ph/sessions/slurm-$JOB.0"/agent-*.log | sort -u | tr '\n' ' ')
	[ "$owners" = "$(uid_of "$who") " ] || fail "$who: agent logs owned by uid $owners, expected $(uid_of "$who")"
	[ ! -e "$ph/sessions/slurm-$JOB.0/connection" ] ||
		fail "$who: the step's connection file (with its secret) is still there after the run"

	assert_job_clean "$JOB" 5
done
info "root and $PSL_USER: 20 ok rows on 4 agents of the step each, nothing left"
