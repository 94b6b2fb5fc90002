#!/bin/bash
# t_status_ending.sh - `parade status` asks a controller that ends before
# it answers (a request that reaches it after its loop stopped, or one
# killed mid-request): status reports the session as no controller runs
# it now, exit 0, instead of "no reply ... within 10000 ms", exit 2 (which
# `status --watch` at the end of a session hit now and then).
. "$(dirname "$0")/lib.sh"

seq 1 50 >"$T/in"
RC=0
timeout 30 "$PARADE" submit --name ending --workers 1 -- sleep 30 <"$T/in" >"$T/name" 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$PARADE_HOME/sessions/ending/lock")
[ -n "$ctl" ] && is_alive "$ctl" || fail "no live controller pid in the lock file"
find_procs_cmd parade-agent
agents=("${PIDS[@]}")

# stopped, it holds its lock and its socket but answers nothing
kill -STOP "$ctl"
timeout 60 "$PARADE" status ending >"$T/status.out" 2>"$T/status.err" &
st=$!
sleep 2
kill -9 "$ctl"
wait_pid "$st" 30 || fail "status did not return 30 s after its controller died"
expect_rc 0 "status of a session whose controller died while asked" "$T/status.err"
grep -q "session ending: dead (no controller running" "$T/status.out" || {
	show_file "$T/status.out"
	show_file "$T/status.err"
	fail "status does not report the session as one no controller runs"
}
# the agents of a durable session outlive their controller; end them
kill "${agents[@]}" 2>/dev/null
assert_no_procs 10
