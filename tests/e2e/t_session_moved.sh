#!/bin/bash
# t_session_moved.sh - an agent that joined with --connect FILE finds a
# controller restarted on the session (parade resume) on another port: the
# old port is taken while the controller is down, the resumed one listens
# elsewhere and rewrites the connection file, and the agent, reading the
# file again before each new attempt, rejoins there; every row ends ok,
# once.
. "$(dirname "$0")/lib.sh"

N=60
seq 1 $N >"$T/in"
RC=0
timeout 30 "$PARADE" submit --name mv --listen tls+tcp://127.0.0.1:0 --launch none \
	-- sh -c 'sleep 0.05; echo "v=$1"' sh {} <"$T/in" >/dev/null 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit --launch none" "$T/submit.err"
conn=$PARADE_HOME/sessions/mv/connection
old=$(sed -n 's/^endpoint=//p' "$conn")
case $old in tls+tcp://127.0.0.1:[0-9]*) ;; *) fail "unexpected endpoint '$old' in $conn" ;; esac
port=${old##*:}

timeout -k 5 120 "$AGENT" --connect "$conn" --grace 60 2>"$T/agent.err" &
apid=$!
some_done() {
	timeout 10 "$PARADE" status mv --json 2>/dev/null | grep -Eq '"done":([5-9]|[1-9][0-9]+),'
}
wait_for 20 some_done || { show_file "$T/agent.err"; fail "the agent did not get going"; }

ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$PARADE_HOME/sessions/mv/lock")
[ -n "$ctl" ] && kill -9 "$ctl" || fail "no controller pid in the lock file"
wait_for 10 eval '! is_alive '"$ctl" || fail "controller $ctl survived kill -9"
wait_for 10 flock -n -s "$PARADE_HOME/sessions/mv/lock" true || fail "the lock outlived the controller"

# take the old port while nobody listens on it
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("held", flush=True)
time.sleep(120)
' "$port" >"$T/holder.out" 2>&1 &
holder=$!
wait_for 10 grep -q held "$T/holder.out" || { show_file "$T/holder.out"; fail "could not take port $port"; }

RC=0
timeout 30 "$PARADE" resume mv >/dev/null 2>"$T/resume.err" || RC=$?
expect_rc 0 "parade resume mv" "$T/resume.err"
new=$(sed -n 's/^endpoint=//p' "$conn")
[ -n "$new" ] && [ "$new" != "$old" ] || fail "the resumed controller did not move off $old (connection file says '$new')"
info "controller moved from $old to $new"

RC=0
timeout 90 "$PARADE" collect mv --wait >"$T/out.csv" 2>"$T/collect.err" || RC=$?
expect_rc 0 "collect --wait after the move" "$T/collect.err"
grep -qF "$conn now names $new (was $old): dialling it" "$T/agent.err" ||
	{ show_file "$T/agent.err"; fail "the agent does not say it followed the connection file"; }
bad=$(csv_flat "$T/out.csv" | tail -n +2 | awk -F'\037' '
	$1 != NR || $2 != "ok" || $6 != "v=" NR { print "row " NR ": " $1 " " $2 " " $6; exit }
	END { if (NR != '$N') print NR " rows, expected '$N'" }')
[ -z "$bad" ] || { show_file "$T/out.csv"; fail "$bad"; }
wait_pid "$apid" 30 || fail "the agent did not leave after the run"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
assert_no_procs 5
info "$N rows ok after the agent followed the controller to a new port"
