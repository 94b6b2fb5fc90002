#!/bin/bash
# t_ctlfile.sh - --parade-controller=FILE across nodes, as root and as the
# test user. A controller runs on the host (the login node: parade run
# --listen tls+tcp://0.0.0.0:0 --launch none, its session in a host-only
# PARADE_HOME).
#  - FILE is its connection file, readable where srun runs but absent on
#    the nodes: `srun -N2 -n2 --parade-workers=2 --parade-controller=FILE
#    sleep 60` fails at once (well before the sleep would end) with a
#    'parade:' message naming FILE, and leaves nothing on any node.
#  - A copy of FILE in a folder every node has: the step's agents (one on
#    each node) join the controller across the network and run its tasks.
. "$(dirname "$0")/lib.sh"

for who in root "$PSM_USER"; do
	d=$(dir_of "$who")
	hh=$(host_home "$who")
	conn=$hh/sessions/ext/connection
	as_user "$who" env PARADE_HOME="$hh" timeout -k 5 90 "$PARADE" run \
		--listen tls+tcp://0.0.0.0:0 --launch none --name ext --grid "$T/g3.csv" \
		-- "$T/cmd.sh" '{x}' >"$d/ext.csv" 2>"$d/ext.err" &
	ppid=$!
	bg_track "$ppid"
	wait_for 10 test -s "$conn" || {
		show_file "$d/ext.err"
		fail "$who: no connection file $conn 10 s after parade run started"
	}

	# the nodes cannot read FILE: the step fails at once, naming it
	t0=$(now_ms)
	rc=0
	as_user "$who" timeout -k 5 50 srun -J "psm-$TEST_NAME-$who-bad" -N2 -n2 --parade-workers=2 \
		--parade-controller="$conn" sleep 60 >"$d/bad.out" 2>"$d/bad.err" || rc=$?
	ms=$(($(now_ms) - t0))
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || {
		show_file "$d/bad.err"
		fail "$who: srun --parade-controller=FILE (no FILE on the nodes): exit status $rc after $ms ms, expected a failure at once"
	}
	[ "$ms" -lt 30000 ] || fail "$who: srun --parade-controller=FILE (no FILE on the nodes) took $ms ms to fail (it waited for the sleep)"
	grep -q "parade: .*$conn" "$d/bad.err" || {
		show_file "$d/bad.err"
		fail "$who: srun --parade-controller=FILE (no FILE on the nodes): no 'parade:' message naming $conn"
	}
	assert_nodes_clean 8
	info "$who: FILE not on the nodes: srun exit $rc after $ms ms, naming the file"

	# a copy every node can read: its agents, on two nodes, run the tasks
	cp "$conn" "$d/conn"
	[ "$who" = root ] || chown "$PSM_USER" "$d/conn"
	chmod 0600 "$d/conn"
	as_user "$who" timeout -k 5 60 srun -Q -J "psm-$TEST_NAME-$who-good" -N2 -n2 --parade-workers=2 \
		--parade-controller="$d/conn" sleep 40 >"$d/good.out" 2>"$d/good.err" &
	spid=$!
	bg_track "$spid"
	wait_pid "$ppid" 40 || {
		show_file "$d/ext.err"
		show_file "$d/good.err"
		fail "$who: the controller on the host did not finish within 40 s with the step's agents"
	}
	[ "$RC" -eq 0 ] || {
		show_file "$d/ext.err"
		fail "$who: the controller on the host: exit status $RC, expected 0"
	}
	check_rows "$d/ext.csv" 3 "$(uid_of "$who")"
	expect_joined "$d/ext.err" "pm1=1 pm2=1"
	scancel -n "psm-$TEST_NAME-$who-good" 2>/dev/null
	wait_pid "$spid" 20 || fail "$who: srun still runs 20 s after its job was cancelled"
	assert_nodes_clean 8
	info "$who: a copy on a shared folder: agents on pm1 and pm2 ran the host controller's tasks"
done
