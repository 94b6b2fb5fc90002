#!/bin/bash
# t_stale.sh - a stale connection file of the same session name (left by
# an earlier cluster whose job ids started again) must not catch any of the
# step's agents. Three batch jobs (8 agents each) are submitted held, a
# connection file of a dead controller is planted at each one's
# $PARADE_HOME/sessions/slurm-J.batch/connection, the jobs are released
# together, and each job's parade run must be joined by all 8 of its agents
# and run its 16 tasks. An agent that read the stale file never joins (it
# keeps trying the dead endpoint). As the test user.
#
# Three jobs and 8 agents each: when the stale file is removed too late
# (racing with the agents' start) only some agents are caught, so more
# agents make this test catch it more often.
. "$(dirname "$0")/lib.sh"

who=$PSL_USER
d=$(dir_of "$who")
ph=$(home_of "$who")
NJOBS=3
NAGENTS=8
grid "$T/g16.csv" 16

jobs=()
for i in $(seq 1 $NJOBS); do
	rc=0
	# tasks of 1 s: the run lasts long enough for every healthy agent to join
	out=$(as_user "$who" sbatch --parsable --hold -J "psl-$TEST_NAME-$who-$i" -n1 -c1 \
		--parade-workers=$NAGENTS -o "$d/job-%j.out" \
		--wrap "$PARADE run --grid $T/g16.csv -o $d/table-\$SLURM_JOB_ID.csv -- $T/cmd.sh '{x}' 1 2>$d/run-\$SLURM_JOB_ID.err" \
		2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "sbatch --hold: exit status $rc: $out"
	case $out in
	'' | *[!0-9]*) fail "sbatch printed '$out', expected a job id" ;;
	esac
	jobs+=("$out")

	# a controller that is gone: nothing listens on its socket or its port
	stale=$ph/sessions/slurm-$out.batch
	secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	as_user "$who" sh -c "umask 077 && mkdir -p '$stale' && cat >'$stale/connection'" <<EOF
version=1
session=slurm-$out.batch
endpoint=tls+tcp://127.0.0.1:1
local=ipc://$stale/agents.sock
psk_identity=parade
secret=$secret
EOF
	[ -s "$stale/connection" ] || fail "could not plant $stale/connection"
done
scontrol release "${jobs[@]}" || fail "scontrol release ${jobs[*]} failed"

for job in "${jobs[@]}"; do
	wait_job_end "$job" 60
	[ "$JOB_STATE" = COMPLETED ] || {
		show_file "$d/job-$job.out"
		show_file "$d/run-$job.err"
		fail "job $job with a stale connection file ended $JOB_STATE, expected COMPLETED"
	}
	TABLE_AGENTS=
	check_table "$d/table-$job.csv" 16 "$job" batch "$(uid_of "$who")" -
	n=$(grep -cE "^parade: agent [^ ]+ joined from .*, slurm job $job step batch\)\$" "$d/run-$job.err")
	[ "$n" -eq $NAGENTS ] || {
		show_file "$d/run-$job.err"
		fail "job $job: only $n of its $NAGENTS agents joined its parade run (the others" \
			"went for the stale connection file planted before the job started?)"
	}
	check_joined "$d/run-$job.err" "$job" batch $NAGENTS
	assert_job_clean "$job" 5
done
info "jobs ${jobs[*]}: the stale connection files caught none of their agents"
