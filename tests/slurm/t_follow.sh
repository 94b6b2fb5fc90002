#!/bin/bash
# t_follow.sh - every task of a --parade-workers step runs the same
# `parade run`: task 0 is the controller and prints the one table, the
# other tasks follow it (no table, no agents of their own) and exit with
# its status, so srun does too: 0 for a clean run, 1 when a task fails. A
# short run does not leave a follower that had not joined yet waiting. As
# root and as the test user.
. "$(dirname "$0")/lib.sh"

for who in root "$PSL_USER"; do
	name=psl-$TEST_NAME-$who
	rc=0
	as_user "$who" timeout -k 5 60 srun -Q -J "$name" -n3 -c1 --parade-workers=2 \
		"$PARADE" run --grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' 0.05 \
		>"$T/ok-$who.csv" 2>"$T/ok-$who.err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$T/ok-$who.err"
		fail "$who: srun -n3 --parade-workers=2 parade run: exit status $rc, expected 0"
	}
	job_id "$name"
	# one table: one header, 20 rows on the step's 2 agents
	check_table "$T/ok-$who.csv" 20 "$JOB" 0 "$(uid_of "$who")" 2
	n=$(grep -c "following the run of task 0" "$T/ok-$who.err" || true)
	[ "$n" -eq 2 ] || {
		show_file "$T/ok-$who.err"
		fail "$who: $n tasks said they follow task 0, expected 2"
	}
	assert_job_clean "$JOB" 5

	# a failing task: every task exits 1 (srun reports each), quickly
	name=psl-$TEST_NAME-$who-fail
	rc=0
	as_user "$who" timeout -k 5 60 srun -Q -J "$name" -n3 -c1 --parade-workers=2 \
		"$PARADE" run --grid "$T/g3.csv" -- sh -c 'test {x} != 2' \
		>"$T/bad-$who.csv" 2>"$T/bad-$who.err" || rc=$?
	[ "$rc" -eq 1 ] || {
		show_file "$T/bad-$who.err"
		fail "$who: a run with a failing task: srun exit status $rc, expected 1"
	}
	# the two followers learnt the status, and no task ended otherwise
	n=$(grep -c "the controller's run ended with exit status 1" "$T/bad-$who.err" || true)
	[ "$n" -eq 2 ] && ! grep -qE "Exited with exit code [02-9]|Killed|exit code [0-9]{2}" "$T/bad-$who.err" || {
		show_file "$T/bad-$who.err"
		fail "$who: $n of the 2 followers exited with the run's status 1"
	}
	[ "$(grep -c '^x,' "$T/bad-$who.csv")" -eq 1 ] || {
		show_file "$T/bad-$who.csv"
		fail "$who: not exactly one table header on stdout"
	}
	job_id "$name"
	assert_job_clean "$JOB" 5
done
info "root and $PSL_USER: one table from task 0, the other tasks follow and exit with its status"
