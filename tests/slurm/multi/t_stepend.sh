#!/bin/bash
# t_stepend.sh - Slurm ending a step across nodes never fails a task, as root
# and as the test user: a controller on the host (parade run --listen
# tls+tcp://0.0.0.0:0 --launch none, a host-only PARADE_HOME) gets its agents
# from a two-node step (srun -N2 -n2 --parade-workers=2
# --parade-controller=FILE sleep 300); that step is cancelled (scancel) while
# its agents run tasks; a second two-node step brings new agents, and the
# run completes with every row ok, none failed (the cancelled step's tasks
# were requeued). Nothing is left on any node.
. "$(dirname "$0")/lib.sh"

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	hh=$(host_home "$who")
	conn=$hh/sessions/se/connection
	marks=$d/marks
	mkdir -m 0777 "$marks"
	as_user "$who" env PARADE_HOME="$hh" timeout -k 5 120 "$PARADE" run \
		--listen tls+tcp://0.0.0.0:0 --launch none --name se --grid "$T/g12.csv" \
		-- "$T/gate.sh" "$marks" "$d/flag" '{x}' >"$d/se.csv" 2>"$d/se.err" &
	ppid=$!
	bg_track "$ppid"
	wait_for 10 test -s "$conn" || {
		show_file "$d/se.err"
		fail "$who: no connection file $conn 10 s after parade run started"
	}
	# the nodes read the file from a folder they all have
	cp "$conn" "$d/conn"
	[ "$who" = root ] || chown "$PSM_USER" "$d/conn"
	chmod 0600 "$d/conn"

	for step in a b; do
		as_user "$who" timeout -k 5 100 srun -Q -J "psm-$TEST_NAME-$who-$step-${T##*.}" -N2 -n2 \
			--parade-workers=2 --parade-controller="$d/conn" sleep 300 \
			>"$d/step-$step.out" 2>"$d/step-$step.err" &
		bg_track $!
		[ "$step" = b ] && break
		wait_for 30 marks "$marks" 2 || {
			show_file "$d/se.err"
			show_file "$d/step-a.err"
			fail "$who: the first step's agents do not run 2 tasks after 30 s"
		}
		wait_for 10 job_known "psm-$TEST_NAME-$who-a-${T##*.}" || fail "$who: no job psm-$TEST_NAME-$who-a-${T##*.}"
		job_id "psm-$TEST_NAME-$who-a-${T##*.}"
		as_user "$who" scancel "$JOB" || fail "$who: scancel $JOB failed"
		wait_job_end "$JOB" 20
		info "$who: step $JOB.0 cancelled while its agents ran $(find "$marks" -name 'm.*' | wc -l) tasks"
	done
	touch "$d/flag"
	wait_pid "$ppid" 60 || {
		show_file "$d/se.err" 40
		fail "$who: the host's controller did not finish within 60 s with the second step's agents"
	}
	[ "$RC" -eq 0 ] || {
		show_file "$d/se.err" 40
		show_file "$d/se.csv"
		fail "$who: the host's controller: exit status $RC after a step was cancelled, expected 0 (no row failed)"
	}
	check_rows "$d/se.csv" 12 "$(uid_of "$who")"
	scancel -n "psm-$TEST_NAME-$who-b-${T##*.}" 2>/dev/null
	assert_nodes_clean 10
	info "$who: every row ok after a two-node step was cancelled mid-run"
done
