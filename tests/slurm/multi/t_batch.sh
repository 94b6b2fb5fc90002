#!/bin/bash
# t_batch.sh - a batch job uses all its nodes, as root and as the test user,
# with the default node-local PARADE_HOME: `sbatch -N2 --ntasks-per-node=2
# --parade-workers=4 job.sh` whose script runs two `parade run` one after
# the other: both tables are complete (every row once), both runs had the
# 4 agents, 2 on each node (the first 4 tasks of each run wait for each
# other, so each 1-slot agent runs one), and nothing is left on any node
# after the job.
. "$(dirname "$0")/lib.sh"

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	b1=$(new_barrier "$who")
	b2=$(new_barrier "$who")
	cat >"$d/job.sh" <<EOF
#!/bin/sh
"$PARADE" run --grid "$T/g36.csv" -- "$T/barrier.sh" "$b1" 4 '{x}' >"$d/run1.csv" 2>"$d/run1.err" || exit \$?
"$PARADE" run --grid "$T/g36.csv" -- "$T/barrier.sh" "$b2" 4 '{x}' >"$d/run2.csv" 2>"$d/run2.err"
EOF
	chmod 0755 "$d/job.sh"
	name=psm-$TEST_NAME-$who
	out=$(as_user "$who" sbatch --parsable -J "$name" -N2 --ntasks-per-node=2 --parade-workers=4 \
		-o "$d/job-%j.out" "$d/job.sh" 2>&1) || fail "$who: sbatch: $out"
	job=$out
	wait_job_end "$job" 90
	[ "$JOB_STATE" = COMPLETED ] || [ "$JOB_STATE" = GONE ] || {
		show_file "$d/job-$job.out"
		show_file "$d/run1.err"
		show_file "$d/run2.err"
		fail "$who: batch job $job ended $JOB_STATE, expected COMPLETED"
	}
	for r in run1 run2; do
		check_rows "$d/$r.csv" 36 "$(uid_of "$who")"
		expect_joined "$d/$r.err" "pm1=2 pm2=2"
		expect_spread "$d/$r.csv" "pm1=2 pm2=2"
	done
	# the second run had the same agents as the first
	a1=$(cut -d, -f5 "$d/run1.csv" | tail -n +2 | sort -u | tr '\n' ' ')
	a2=$(cut -d, -f5 "$d/run2.csv" | tail -n +2 | sort -u | tr '\n' ' ')
	[ "$a1" = "$a2" ] || fail "$who: the two runs of job $job had different agents: '$a1' and '$a2'"
	assert_nodes_clean 8
	info "$who: job $job: two runs one after the other, each on the job's 4 agents (2 per node)"
done
