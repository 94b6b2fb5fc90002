#!/bin/bash
# t_late_result.sh - a late result is taken from the agent that held the
# attempt: an agent stopped (SIGSTOP) while it runs a 10 s task is dropped
# for missed heartbeats and its task requeued; once continued, it
# reconnects, and when the task ends it reports the attempt it held; the
# controller takes that success (controller/held.c noted who held it). The
# row is ok, run by that agent, once. The other half of the rule (a late result from an agent that
# never held the attempt drops that agent) is t_fake_agent's forge-late.
. "$(dirname "$0")/lib.sh"

printf 'secs\n10\n' >"$T/grid.csv"
timeout -k 5 90 "$PARADE" run -v --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--handler sleep --grid "$T/grid.csv" -o "$T/out.csv" -- {secs} 2>"$T/err" &
ppid_=$!
wait_endpoint S
"$AGENT" --connect "$conn" --id holder-1 -v 2>"$T/agent.err" &
apid=$!
joined() { grep -q 'agent holder-1 joined' "$T/err"; }
wait_for 15 joined || {
	show_file "$T/err"
	fail "the agent did not join"
}
sleep 0.5 # its task is under way (10 s)
kill -STOP "$apid"
dropped() { grep -q 'agent holder-1 lost' "$T/err"; }
wait_for 15 dropped || {
	kill -CONT "$apid"
	show_file "$T/err"
	fail "the controller did not drop the stopped agent"
}
info "controller: $(grep -m1 'agent holder-1 lost' "$T/err")"
kill -CONT "$apid"
wait_pid "$ppid_" 60 || fail "the run did not finish after the agent came back"
[ "$RC" = 0 ] || {
	show_file "$T/err"
	show_file "$T/agent.err"
	fail "parade run exited $RC"
}
wait_pid "$apid" 15 || fail "the agent did not leave after the run"
if grep -q 'protocol error' "$T/err"; then
	show_file "$T/err"
	fail "the holder's late result was taken for a protocol error"
fi
grep -q 'task 0: late result of attempt 1 from holder-1 taken' "$T/err" || {
	show_file "$T/err" 40
	fail "no line says the late result of attempt 1 was taken"
}
rows=$(tail -n +2 "$T/out.csv")
case $rows in
10,ok,0,*,holder-1,*) info "row: $rows" ;;
*)
	show_file "$T/out.csv"
	fail "unexpected row: $rows"
	;;
esac
[ "$(tail -n +2 "$T/out.csv" | wc -l)" = 1 ] || fail "not exactly one row"
