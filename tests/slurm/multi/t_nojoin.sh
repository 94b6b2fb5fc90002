#!/bin/bash
# t_nojoin.sh - a node whose agents never join is named, as root and as the
# test user; `srun -N3 -n3 --parade-workers=3 parade run` still ends (no
# hang) with every row once, run by the other two nodes' agents:
#  - on the last node the agent program cannot be run (/dev/null is
#    bind-mounted over it in that node's mount namespace only): a 'parade:'
#    message names the node at once (the plugin's, through slurmstepd);
#  - on the last node the agents start but never dial the controller (over
#    the agent program, in that node only, a script that sleeps unless it is
#    asked to --follow, which it hands to a copy of the real program): after
#    PARADE_JOIN_GRACE=5 s the controller's stderr names the node, in a run
#    that lasts longer than that (12 tasks of 1 s on 2 agents).
. "$(dirname "$0")/lib.sh"

bad=${NODES[2]}
hidden=0
# shellcheck disable=SC2329,SC2317 # called by lib.sh's cleanup
test_cleanup() {
	[ "$hidden" -eq 0 ] || on_node "$bad" umount "$AGENT" || return 1
	hidden=0
}

# nojoin WHO LABEL TASK-SECONDS WANT-WORDS: the run, which must name $bad
# in a 'parade:' line that also has WANT-WORDS
nojoin() {
	local who=$1 label=$2 secs=$3 words=$4 d rc
	d=$(dir_of "$who")
	rc=0
	as_user "$who" env PARADE_JOIN_GRACE=5 timeout -k 5 120 srun -Q -J "psm-$TEST_NAME-$who" \
		-N3 -n3 --parade-workers=3 "$PARADE" run --grid "$T/g12.csv" \
		-- "$T/cmd.sh" '{x}' "$secs" >"$d/$label.csv" 2>"$d/$label.err" || rc=$?
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || {
		show_file "$d/$label.err" 40
		fail "$who: $label: srun -N3 parade run with no agent of $bad joining did not end within 120 s"
	}
	grep -q "parade: .*$words.*\\b$bad\\b" "$d/$label.err" || {
		show_file "$d/$label.err" 40
		fail "$who: $label: no 'parade: ...$words... $bad' line on stderr (exit status $rc)"
	}
	check_rows "$d/$label.csv" 12 "$(uid_of "$who")"
	expect_joined "$d/$label.err" "${NODES[0]}=1 ${NODES[1]}=1"
	assert_nodes_clean 8
	info "$who: $label: exit status $rc; $(grep "parade: .*$words.*\\b$bad\\b" "$d/$label.err" | head -n 1)"
}

on_node "$bad" mount --bind /dev/null "$AGENT" || fail "cannot hide $AGENT on $bad"
hidden=1
on_node "$bad" test -s "$AGENT" && fail "$AGENT still has content on $bad"
[ -s "$AGENT" ] || fail "$AGENT is hidden on the host too"
for who in root "$PSM_USER"; do
	nojoin "$who" nostart 0.2 ""
done
test_cleanup || fail "cannot undo the mount on $bad"

# the agents of the last node hang before they dial; its follower works
cp "$AGENT" "$T/real-agent"
cat >"$T/hung-agent" <<EOF
#!/bin/sh
case " \$* " in
*" --follow "*) exec "$T/real-agent" "\$@" ;;
esac
exec sleep 300
EOF
chmod 0755 "$T/real-agent" "$T/hung-agent"
on_node "$bad" mount --bind "$T/hung-agent" "$AGENT" || fail "cannot replace $AGENT on $bad"
hidden=1
for who in root "$PSM_USER"; do
	nojoin "$who" hung 1 "not joined"
done
