#!/bin/bash
# t_env.sh - the job's environment reaches the tasks on every node, as root
# and as the test user: with MYVAR=x exported and a folder with a program of
# its own put first in PATH before `srun -N2 -n2 --parade-workers=2 parade
# run`, every task (one on each node) prints x and finds the program; and
# no task sees parade's secrets: `env` run as a task shows no PARADE_SECRET*
# nor PARADE_STEP_KEY variable.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/mybin"
printf '#!/bin/sh\necho mytool-here\n' >"$T/mybin/mytool"
chmod 0755 "$T/mybin" "$T/mybin/mytool"

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	bar=$(new_barrier "$who")
	rc=0
	as_user "$who" env MYVAR=x PATH="$T/mybin:$PSM_BIN:/usr/bin:/bin" \
		timeout -k 5 60 srun -Q -J "psm-$TEST_NAME-$who" -N2 -n2 --parade-workers=2 \
		"$PARADE" run --grid "$T/g12.csv" \
		--shell "$T/barrier.sh $bar 2 {x} >/dev/null; echo \"\$(hostname) \$MYVAR \$(mytool)\"; env | sed -n 's/^\\(PARADE_SECRET[^=]*\\|PARADE_STEP_KEY[^=]*\\)=.*/\\1/p'" \
		>"$d/out.csv" 2>"$d/err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$d/err"
		show_file "$d/out.csv"
		fail "$who: srun -N2 parade run: exit status $rc, expected 0"
	}
	n=$(($(wc -l <"$d/out.csv") - 1))
	[ "$n" -eq 12 ] || {
		show_file "$d/out.csv"
		fail "$who: $n rows, expected 12"
	}
	bad=$(tail -n +2 "$d/out.csv" | awk -F, '
		$2 != "ok" { print "row " NR - 1 ": status " $2 ": " $0; exit }
		{ split($6, w, " ") }
		w[2] != "x" { print "row " NR - 1 ": MYVAR is \"" w[2] "\", expected x: " $0; exit }
		w[3] != "mytool-here" { print "row " NR - 1 ": mytool not found on PATH: " $0; exit }
		$6 != w[1] " x mytool-here" { print "row " NR - 1 ": parade variables in the task: " $0; exit }')
	[ -z "$bad" ] || {
		show_file "$d/out.csv"
		fail "$who: $bad"
	}
	nodes=$(tail -n +2 "$d/out.csv" | cut -d, -f6 | cut -d' ' -f1 | sort -u | tr '\n' ' ')
	[ "$nodes" = "${NODES[0]} ${NODES[1]} " ] || {
		show_file "$d/out.csv"
		fail "$who: the tasks ran on '$nodes', expected '${NODES[0]} ${NODES[1]} '"
	}
	assert_nodes_clean 8
	info "$who: MYVAR and PATH reached the tasks on ${NODES[0]} and ${NODES[1]}, no parade secret did"
done
