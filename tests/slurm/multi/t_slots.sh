#!/bin/bash
# t_slots.sh - a Slurm agent's default slots are the CPUs Slurm gave it, as
# root and as the test user: `srun -N2 -n2 -c2 --parade-workers=2 parade
# run` has one agent on each node, each says it has 2 slots, and two tasks
# ran at once on one agent (the tasks write their start and end times: a
# task started on an agent before another task of that agent ended).
. "$(dirname "$0")/lib.sh"

cat >"$T/stamp.sh" <<'EOF'
#!/bin/sh
a=$(date +%s%N)
sleep 0.5
b=$(date +%s%N)
echo "x=$1 node=$(hostname) $a $b"
EOF
chmod 0755 "$T/stamp.sh"
grid "$T/g8.csv" 8

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	rc=0
	as_user "$who" timeout -k 5 60 srun -Q -J "psm-$TEST_NAME-$who" -N2 -n2 -c2 --parade-workers=2 \
		"$PARADE" run --grid "$T/g8.csv" -- "$T/stamp.sh" '{x}' >"$d/out.csv" 2>"$d/err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$d/err"
		fail "$who: srun -N2 -n2 -c2 --parade-workers=2 parade run: exit status $rc, expected 0"
	}
	expect_joined "$d/err" "${NODES[0]}=1 ${NODES[1]}=1"
	slots=$(sed -n 's/^parade: agent .* joined from .*, \([0-9]*\) slot(s), .*/\1/p' "$d/err" | sort -u | tr '\n' ' ')
	[ "$slots" = "2 " ] || {
		show_file "$d/err"
		fail "$who: the agents of a -c2 step have '$slots' slots, expected 2 each"
	}
	# per agent, sort its tasks by start: an overlap is a start before the
	# previous task's end
	overlap=$(tail -n +2 "$d/out.csv" | awk -F, '$2 == "ok" { split($6, w, " "); print $5, w[3], w[4] }' |
		sort -k1,1 -k2,2n | awk '$1 == agent && $2 < end { n++ } { agent = $1; end = $3 } END { print n + 0 }')
	[ "$overlap" -gt 0 ] || {
		show_file "$d/out.csv"
		fail "$who: no two tasks ran at once on one agent (2 slots each should allow it)"
	}
	assert_nodes_clean 8
	info "$who: 2 agents (one per node) with 2 slots; $overlap tasks started while another ran on their agent"
done
