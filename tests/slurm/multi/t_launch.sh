#!/bin/bash
# t_launch.sh - `parade run --launch slurm:N` from the host (the login node)
# across nodes, as root and as the test user, with a PARADE_HOME that only
# the host has (the nodes never see the session folder):
#  - slurm:3 spreads: one agent on each node, with the node's CPUs as slots
#    (the 4 each node claims, or fewer if the machine has fewer), every row
#    once, the agents of the table one per node (the first 3 x slots tasks
#    wait for each other); the job is over after the run and nothing is left
#    on any node;
#  - scancel of its job while its tasks run: the job is reported CANCELLED
#    and replaced ("submitting a job to replace it"), the tasks that ran are
#    requeued, the run completes with every row ok (none failed) on the
#    replacement job;
#  - the same with --slurm-retries 0: the run stops with exit status 2,
#    naming the job and its state, instead of waiting.
. "$(dirname "$0")/lib.sh"

# submitted ERR: the ids of the jobs parade run says it submitted, in order
submitted() { sed -n 's/^parade: submitted Slurm job \([0-9]*\):.*/\1/p' "$1" | tr '\n' ' '; }

# launch_bg WHO OUT ERR ARGS...: parade run ARGS from the host in the
# background (PPID_RUN), its session in WHO's host-only home.
launch_bg() {
	local who=$1 out=$2 err=$3
	shift 3
	as_user "$who" env PARADE_HOME="$(host_home "$who")" timeout -k 5 150 "$PARADE" run "$@" \
		>"$out" 2>"$err" &
	PPID_RUN=$!
	bg_track "$PPID_RUN"
}

# gated WHO LABEL ARGS...: parade run --launch ARGS over 12 gate.sh tasks in
# the background, and waits until 2 of them run; sets
# OUT, ERR, FLAG and JOB (the first job).
gated() {
	local who=$1 label=$2 d marks
	shift 2
	d=$(dir_of "$who")
	marks=$d/marks-$label
	mkdir -m 0777 "$marks"
	FLAG=$d/flag-$label
	OUT=$d/$label.csv
	ERR=$d/$label.err
	launch_bg "$who" "$OUT" "$ERR" "$@" --name "$label" --grid "$T/g12.csv" \
		-- "$T/gate.sh" "$marks" "$FLAG" '{x}'
	wait_for 40 marks "$marks" 2 || {
		show_file "$ERR" 40
		fail "$who: $label: no 2 tasks run 40 s after parade run $* started"
	}
	JOB=$(submitted "$ERR")
	JOB=${JOB%% *}
	[ -n "$JOB" ] || {
		show_file "$ERR"
		fail "$who: $label: no 'parade: submitted Slurm job J' line"
	}
}

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	uid=$(uid_of "$who")

	# slurm:3: one agent on each node, as many slots as the node's CPUs it
	# may use (the nodes claim PM_CPUS each; the machine under them may have
	# fewer, and the agent's affinity shows those)
	slots_want=$(nproc)
	[ "$PM_CPUS" -lt "$slots_want" ] && slots_want=$PM_CPUS
	bar=$(new_barrier "$who")
	rc=0
	as_user "$who" env PARADE_HOME="$(host_home "$who")" timeout -k 5 90 "$PARADE" run \
		--launch slurm:3 --name s3 --grid "$T/g36.csv" \
		-- "$T/barrier.sh" "$bar" $((3 * slots_want)) '{x}' \
		>"$d/s3.csv" 2>"$d/s3.err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$d/s3.err" 40
		fail "$who: parade run --launch slurm:3: exit status $rc, expected 0"
	}
	check_rows "$d/s3.csv" 36 "$uid"
	expect_joined "$d/s3.err" "pm1=1 pm2=1 pm3=1"
	expect_spread "$d/s3.csv" "pm1=1 pm2=1 pm3=1"
	slots=$(sed -n 's/^parade: agent .* joined from .*, \([0-9]*\) slot(s), .*/\1/p' "$d/s3.err" | sort -u | tr '\n' ' ')
	[ "$slots" = "$slots_want " ] || {
		show_file "$d/s3.err"
		fail "$who: --launch slurm:3 agents have '$slots' slots, expected the $slots_want CPUs of the node they may use"
	}
	job=$(submitted "$d/s3.err")
	job=${job%% *}
	wait_job_end "$job" 20
	assert_nodes_clean 8
	info "$who: --launch slurm:3: one agent of $slots_want slots on each node, 36 rows once"

	# scancel mid-run: replaced, requeued, every row ok
	gated "$who" c2 --launch slurm:2
	as_user "$who" scancel "$JOB" || fail "$who: scancel $JOB failed"
	wait_for 30 grep -q "^parade: warning: Slurm job $JOB ended CANCELLED.*submitting a job to replace it" "$ERR" || {
		show_file "$ERR" 40
		fail "$who: no 'Slurm job $JOB ended CANCELLED ...; submitting a job to replace it' within 30 s of scancel"
	}
	touch "$FLAG"
	wait_pid "$PPID_RUN" 90 || {
		show_file "$ERR" 40
		fail "$who: parade run did not finish within 90 s of its job $JOB being cancelled"
	}
	[ "$RC" -eq 0 ] || {
		show_file "$ERR" 40
		show_file "$OUT"
		fail "$who: parade run after scancel of its job: exit status $RC, expected 0"
	}
	check_rows "$OUT" 12 "$uid"
	jobs=$(submitted "$ERR")
	[ "$(echo "$jobs" | wc -w)" -eq 2 ] || {
		show_file "$ERR" 40
		fail "$who: jobs submitted: '$jobs', expected $JOB and one replacement"
	}
	wait_job_end "$(echo "$jobs" | cut -d' ' -f2)" 20
	assert_nodes_clean 8
	info "$who: job $JOB cancelled mid-run: replaced ($jobs), every row ok"

	# no replacement allowed: the run stops, naming the job's state
	gated "$who" c0 --launch slurm:2 --slurm-retries 0
	t0=$(now_ms)
	as_user "$who" scancel "$JOB" || fail "$who: scancel $JOB failed"
	wait_pid "$PPID_RUN" 40 || {
		show_file "$ERR" 40
		fail "$who: --slurm-retries 0: parade run still runs 40 s after its job $JOB was cancelled"
	}
	[ "$RC" -eq 2 ] || {
		show_file "$ERR" 40
		fail "$who: --slurm-retries 0: exit status $RC after its job was cancelled, expected 2"
	}
	grep -q "^parade: .*Slurm job $JOB ended CANCELLED.*giving up" "$ERR" || {
		show_file "$ERR" 40
		fail "$who: --slurm-retries 0: no 'Slurm job $JOB ended CANCELLED ... giving up' message"
	}
	! grep -q ',failed,' "$OUT" || {
		show_file "$OUT"
		fail "$who: --slurm-retries 0: rows recorded failed"
	}
	assert_nodes_clean 8
	info "$who: --slurm-retries 0: exit 2 $(($(now_ms) - t0)) ms after scancel, naming CANCELLED"
done
