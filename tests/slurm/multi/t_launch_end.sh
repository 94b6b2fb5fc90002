#!/bin/bash
# t_launch_end.sh - `parade run --launch slurm:2` from the host survives its
# job's time limit, the death of one of its nodes and of a node's slurmd, as
# root and as the test user (a host-only PARADE_HOME):
#  - its job hits its time limit while tasks run (root sets the job's end to
#    now: Slurm ends it TIMEOUT at its next time-limit pass, within 30 s):
#    parade reports it ("Slurm job J ended TIMEOUT") and replaces it, and the
#    run completes with every row ok, none failed;
#  - one node of its job dies (its slurmd, slurmstepd, agent and tasks get
#    SIGKILL): the run either completes with every row ok on other jobs or
#    nodes, or stops with exit 2 naming the job's state; no row is failed
#    either way, and nothing is left on any node;
#  - only the slurmd of a node of its job dies (its stepd, agent and tasks
#    run on; as root only): once Slurm marks the node down, parade warns
#    what happened to the job, and the run completes or stops as above; once
#    the slurmd is back, nothing is left on any node.
. "$(dirname "$0")/lib.sh"

submitted() { sed -n 's/^parade: submitted Slurm job \([0-9]*\):.*/\1/p' "$1" | tr '\n' ' '; }

# gated WHO LABEL ARGS...: see t_launch.sh
gated() {
	local who=$1 label=$2 d marks
	shift 2
	d=$(dir_of "$who")
	marks=$d/marks-$label
	mkdir -m 0777 "$marks"
	FLAG=$d/flag-$label
	OUT=$d/$label.csv
	ERR=$d/$label.err
	as_user "$who" env PARADE_HOME="$(host_home "$who")" timeout -k 5 150 "$PARADE" run "$@" \
		--name "$label" --grid "$T/g12.csv" -- "$T/gate.sh" "$marks" "$FLAG" '{x}' \
		>"$OUT" 2>"$ERR" &
	PPID_RUN=$!
	bg_track "$PPID_RUN"
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
	uid=$(uid_of "$who")

	# the time limit
	gated "$who" tl --launch slurm:2
	scontrol update JobId="$JOB" EndTime=now || fail "cannot set job $JOB's end time"
	wait_for 45 grep -q "^parade: warning: Slurm job $JOB ended TIMEOUT.*submitting a job to replace it" "$ERR" || {
		show_file "$ERR" 40
		fail "$who: no 'Slurm job $JOB ended TIMEOUT ...; submitting a job to replace it' within 45 s (job $(job_state "$JOB"))"
	}
	touch "$FLAG"
	wait_pid "$PPID_RUN" 90 || {
		show_file "$ERR" 40
		fail "$who: parade run did not finish within 90 s of its job $JOB timing out"
	}
	[ "$RC" -eq 0 ] || {
		show_file "$ERR" 40
		show_file "$OUT"
		fail "$who: parade run after its job's time limit: exit status $RC, expected 0"
	}
	check_rows "$OUT" 12 "$uid"
	jobs=$(submitted "$ERR")
	wait_job_end "$(echo "$jobs" | awk '{ print $NF }')" 20
	assert_nodes_clean 8
	info "$who: job $JOB timed out mid-run: replaced ($jobs), every row ok"

	# a node of the job dies
	gated "$who" nf --launch slurm:2
	node=$(scontrol show hostnames "$(squeue -h -j "$JOB" -o %N)" | tail -n 1)
	[ -n "$node" ] || fail "$who: no node for job $JOB"
	crash_node "$node"
	# the nodes that live on let the tasks end
	wait_for 45 grep -q "^parade: .*Slurm job $JOB " "$ERR"
	touch "$FLAG"
	wait_pid "$PPID_RUN" 100 || {
		show_file "$ERR" 40
		fail "$who: parade run did not finish within 100 s of node $node of its job $JOB dying"
	}
	case $RC in
	0) check_rows "$OUT" 12 "$uid" ;;
	2)
		grep -q "^parade: .*Slurm job [0-9]* .*\(NODE_FAIL\|FAILED\|CANCELLED\|lost\)" "$ERR" || {
			show_file "$ERR" 40
			fail "$who: node $node died: exit status 2 without naming a job's state"
		}
		;;
	*)
		show_file "$ERR" 40
		fail "$who: node $node of job $JOB died: exit status $RC, expected 0 or 2"
		;;
	esac
	! grep -q ',failed,' "$OUT" || {
		show_file "$OUT"
		fail "$who: node $node died: rows recorded failed"
	}
	revive_node "$node"
	assert_nodes_clean 8
	info "$who: node $node of job $JOB died mid-run: exit $RC, no row failed"

	# only the slurmd of a node of the job dies; its agent and tasks run on
	# until Slurm marks the node down and ends the job (as root only: the
	# user makes no difference to slurmd, and the wait for "down" is long)
	[ "$who" = root ] || continue
	gated "$who" sd --launch slurm:2
	node=$(scontrol show hostnames "$(squeue -h -j "$JOB" -o %N)" | tail -n 1)
	kill_slurmd "$node"
	node_down() { case $(sinfo -h -N -n "$node" -o %t) in down*) return 0 ;; esac; return 1; }
	wait_for 60 node_down || fail "$who: $node is $(sinfo -h -N -n "$node" -o %t) 60 s after its slurmd died"
	wait_for 30 grep -q "^parade: warning: .*Slurm job $JOB " "$ERR" || {
		show_file "$ERR" 40
		fail "$who: parade said nothing of job $JOB 30 s after its node $node went down (job $(job_state "$JOB"))"
	}
	touch "$FLAG"
	wait_pid "$PPID_RUN" 100 || {
		show_file "$ERR" 40
		fail "$who: parade run did not finish within 100 s of the slurmd of $node dying"
	}
	case $RC in
	0) check_rows "$OUT" 12 "$uid" ;;
	2)
		grep -q "^parade: .*Slurm job [0-9]* .*\(NODE_FAIL\|FAILED\|CANCELLED\|lost\)" "$ERR" || {
			show_file "$ERR" 40
			fail "$who: the slurmd of $node died: exit status 2 without naming a job's state"
		}
		;;
	*)
		show_file "$ERR" 40
		fail "$who: the slurmd of $node (job $JOB) died: exit status $RC, expected 0 or 2"
		;;
	esac
	! grep -q ',failed,' "$OUT" || {
		show_file "$OUT"
		fail "$who: the slurmd of $node died: rows recorded failed"
	}
	revive_node "$node"
	assert_nodes_clean 15
	info "$who: the slurmd of $node (job $JOB) died mid-run: exit $RC, no row failed; $(grep -m1 "^parade: warning: .*Slurm job $JOB " "$ERR" | cut -c1-160)"
done
