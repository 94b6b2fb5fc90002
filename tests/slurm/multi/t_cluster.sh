#!/bin/bash
# t_cluster.sh - the multi-node test cluster is what the other tests take it
# for, as root and as the test user: srun -N3 -n3 hostname prints the three
# node names; a file in /tmp (and in the user's home) on one node is absent
# on the others and on the host, while the test's folder is shared; every
# node has the user's own empty home; sbatch -N2 runs its script on the
# first node and an inner srun on two nodes; scancel of a running two-node
# job leaves no process on any node.
. "$(dirname "$0")/lib.sh"

want=$(printf '%s\n' "${NODES[@]}" | sort | tr '\n' ' ')
[ "${#NODES[@]}" -ge 3 ] || fail "the cluster has ${#NODES[@]} nodes, the tests need 3"

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	# one task on each node
	got=$(as_user "$who" timeout 30 srun -Q -J "psm-$TEST_NAME-$who" -N3 -n3 hostname 2>"$d/srun.err" |
		sort | tr '\n' ' ')
	[ "$got" = "$want" ] || {
		show_file "$d/srun.err"
		fail "$who: srun -N3 -n3 hostname printed '$got', expected '$want'"
	}

	# /tmp and ~ are each node's own; $T is everybody's
	tag=psm-$TEST_NAME-$$-$who
	as_user "$who" timeout 30 srun -Q -J "psm-$TEST_NAME-$who" -N1 -w "${NODES[0]}" \
		sh -c "echo $tag >/tmp/$tag && echo $tag >\$HOME/$tag && echo $tag >$d/$tag" 2>"$d/srun.err" || {
		show_file "$d/srun.err"
		fail "$who: cannot write /tmp/$tag, ~/$tag and $d/$tag on ${NODES[0]}"
	}
	seen=$(as_user "$who" timeout 30 srun -Q -J "psm-$TEST_NAME-$who" -N3 -n3 \
		sh -c "echo \$(hostname):\$(cat /tmp/$tag \$HOME/$tag 2>/dev/null | wc -l):\$(cat $d/$tag | wc -l)" 2>"$d/srun.err" |
		sort | tr '\n' ' ')
	[ "$seen" = "${NODES[0]}:2:1 ${NODES[1]}:0:1 ${NODES[2]}:0:1 " ] || {
		show_file "$d/srun.err"
		fail "$who: node:files in /tmp and ~:files in $d: '$seen'; /tmp and ~ must be private to ${NODES[0]}, $d shared"
	}
	home=$(getent passwd "$who" | cut -d: -f6)
	[ ! -e "/tmp/$tag" ] && [ ! -e "$home/$tag" ] ||
		fail "$who: a file written to /tmp or ~ on ${NODES[0]} shows on the host"
	# the user's home on a node is the user's, and empty at first
	owner=$(on_node "${NODES[1]}" stat -c '%U %a' "$home") || fail "$who: no home $home on ${NODES[1]}"
	[ "$owner" = "$who 755" ] || [ "$who" = root ] ||
		fail "$who: home $home on ${NODES[1]}: owner and mode '$owner', expected '$who 755'"
	on_node "${NODES[0]}" rm -f "/tmp/$tag" "$home/$tag"

	# a batch script runs on the first node; its srun on two nodes
	name=psm-$TEST_NAME-$who-batch
	out=$(as_user "$who" sbatch --parsable -J "$name" -N2 -n2 -o "$d/batch-%j.out" \
		--wrap 'hostname; srun hostname | sort | tr "\n" " "; echo' 2>&1) || fail "$who: sbatch -N2: $out"
	job=$out
	wait_job_end "$job" 30
	[ "$JOB_STATE" = COMPLETED ] || [ "$JOB_STATE" = GONE ] || {
		show_file "$d/batch-$job.out"
		fail "$who: batch job $job ended $JOB_STATE"
	}
	got=$(tr '\n' '|' <"$d/batch-$job.out")
	[ "$got" = "${NODES[0]}|${NODES[0]} ${NODES[1]} |" ] || {
		show_file "$d/batch-$job.out"
		fail "$who: sbatch -N2: the script printed '$got', expected '${NODES[0]}|${NODES[0]} ${NODES[1]} |'"
	}
	assert_nodes_clean 8

	# scancel of a running two-node job: nothing is left on any node
	name=psm-$TEST_NAME-$who-cancel
	out=$(as_user "$who" sbatch --parsable -J "$name" -N2 -n2 -o /dev/null \
		--wrap "srun $T/long.sh" 2>&1) || fail "$who: sbatch -N2: $out"
	job=$out
	# both nodes run the step's task
	two_tasks() {
		[ "$(node_procs 2>/dev/null | awk -v t="$T/long.sh" '$4 == t { print $1 }' | sort -u | wc -l)" -eq 2 ]
	}
	wait_for 20 two_tasks || {
		node_procs >&2
		fail "$who: job $job ($(job_state "$job")) does not run long.sh on two nodes after 20 s"
	}
	as_user "$who" scancel "$job" || fail "$who: scancel $job failed"
	wait_job_end "$job" 20
	assert_nodes_clean 8
	info "$who: srun -N3 on 3 nodes, private /tmp and ~, sbatch -N2 and its inner srun, scancel leaves nothing"
done
