#!/bin/bash
# t_spread.sh - one command spans the allocation, as root and as the test
# user, with the default node-local PARADE_HOME (~/.parade, each node's own):
#  - srun -N3 -n3 --parade-workers=6 parade run --grid ... (every task runs
#    the same command): exit 0, one table on stdout with every row exactly
#    once (task 0 prints it, the others print nothing), 6 agents joined, 2 on
#    each node, and the table's agent column names 2 agents on each node
#    (the first 6 tasks wait for each other, so each 1-slot agent runs one);
#  - the same with -N1 -n1 (2 agents on the first node);
#  - salloc -N3 -n3, then srun -N3 -n3 --parade-workers=6 inside it;
#  - a run with a failing task: srun's exit status is 1 and every task of
#    the step exited 1 (task 0's controller and the two that waited for it).
# After each, no process is left on any node.
. "$(dirname "$0")/lib.sh"

# spread WHO LABEL WANT SRUN-ARGS...: srun SRUN-ARGS parade run over 36
# barrier tasks (barrier of N = the agents WANT names) must succeed with
# every row once and the agents per node WANT.
spread() {
	local who=$1 label=$2 want=$3 n bar out err rc
	shift 3
	n=$(echo "$want" | tr ' ' '\n' | awk -F= '{ s += $2 } END { print s }')
	bar=$(new_barrier "$who")
	out=$(dir_of "$who")/$label.csv
	err=$(dir_of "$who")/$label.err
	rc=0
	as_user "$who" timeout -k 5 90 "$@" "$PARADE" run --grid "$T/g36.csv" \
		-- "$T/barrier.sh" "$bar" "$n" '{x}' >"$out" 2>"$err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$err" 40
		show_file "$out" 40
		fail "$who: $label: $*: exit status $rc, expected 0"
	}
	check_rows "$out" 36 "$(uid_of "$who")"
	expect_joined "$err" "$want"
	expect_spread "$out" "$want"
	assert_nodes_clean 8
	info "$who: $label: 36 rows once, agents $want"
}

for who in root "$PSM_USER"; do
	spread "$who" n3 "pm1=2 pm2=2 pm3=2" \
		srun -Q -J "psm-$TEST_NAME-$who" -N3 -n3 --parade-workers=6
	spread "$who" n1 "pm1=2" \
		srun -Q -J "psm-$TEST_NAME-$who" -N1 -n1 --parade-workers=2
	spread "$who" salloc "pm1=2 pm2=2 pm3=2" \
		salloc -Q -J "psm-$TEST_NAME-$who" -N3 -n3 \
		srun -Q -N3 -n3 --parade-workers=6

	# a task fails: the run's status 1 is every task's
	err=$(dir_of "$who")/fail.err
	rc=0
	as_user "$who" timeout -k 5 90 srun -J "psm-$TEST_NAME-$who" -N3 -n3 --parade-workers=3 \
		"$PARADE" run --grid "$T/g3.csv" --shell 'test {x} -ne 2' \
		>"$(dir_of "$who")/fail.csv" 2>"$err" || rc=$?
	[ "$rc" -eq 1 ] || {
		show_file "$err" 40
		fail "$who: a run with a failing task: srun exit status $rc, expected 1"
	}
	for task in 0 1 2; do
		grep -q "task $task: Exited with exit code 1\$" "$err" || {
			show_file "$err" 40
			fail "$who: a run with a failing task: task $task of the step did not exit 1"
		}
	done
	n=$(grep -c ',failed,' "$(dir_of "$who")/fail.csv")
	[ "$n" -eq 1 ] || {
		show_file "$(dir_of "$who")/fail.csv"
		fail "$who: a run with a failing task: $n rows failed in the one table, expected 1"
	}
	assert_nodes_clean 8
	info "$who: a failing task: srun exit 1, every task exited 1"
done
