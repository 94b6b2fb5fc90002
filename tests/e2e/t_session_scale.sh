#!/bin/bash
# t_session_scale.sh - scale a running session's local agents up and
# down; a graceful stop lets running tasks finish, a cancel kills them;
# either way nothing is left running.
. "$(dirname "$0")/lib.sh"

agents() { [ "$(count_procs_cmd parade-agent)" -eq "$1" ]; }

N=2000
seq 1 $N >"$T/in"
RC=0
timeout 30 "$PARADE" submit --name pool --workers 1 -- sh -c 'sleep 0.05; echo $1' sh {} \
	<"$T/in" >/dev/null 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
wait_for 20 agents 1 || fail "$(count_procs_cmd parade-agent) agents at the start, expected 1"

RC=0
timeout 30 "$PARADE" scale pool 3 >"$T/scale.out" 2>&1 || RC=$?
expect_rc 0 "parade scale pool 3" "$T/scale.out"
grep -q "pool: 3 agents (was 1)" "$T/scale.out" || { show_file "$T/scale.out"; fail "scale does not report 3 (was 1)"; }
wait_for 20 agents 3 || fail "$(count_procs_cmd parade-agent) agents after scale 3"
connected() { timeout 10 "$PARADE" status pool --json 2>/dev/null | grep -q "\"agents\":$1,"; }
wait_for 20 connected 3 || fail "status does not show 3 connected agents"

RC=0
timeout 30 "$PARADE" scale pool 1 >"$T/scale.out" 2>&1 || RC=$?
expect_rc 0 "parade scale pool 1" "$T/scale.out"
wait_for 20 agents 1 || fail "$(count_procs_cmd parade-agent) agents after scale 1, expected 1"
wait_for 20 connected 1 || fail "status does not show 1 connected agent"

# bad requests are refused with a reason, and the session goes on
RC=0
timeout 30 "$PARADE" scale pool lots >"$T/bad.out" 2>&1 || RC=$?
expect_rc 2 "scale with a bad count"
grep -q "expected a whole number" "$T/bad.out" || fail "no reason for a bad scale count"

# graceful stop: what runs finishes ok; what waits stays unrun
RC=0
timeout 60 "$PARADE" stop pool >"$T/stop.out" 2>&1 || RC=$?
expect_rc 0 "parade stop pool" "$T/stop.out"
grep -q "session pool stopped" "$T/stop.out" || { show_file "$T/stop.out"; fail "stop does not report the end"; }
assert_no_procs
timeout 30 "$PARADE" collect pool >"$T/pool.csv" 2>"$T/pool.err" || fail "collect after stop failed"
csv_flat "$T/pool.csv" >"$T/flat"
rows=$(($(wc -l <"$T/flat") - 1))
[ "$rows" -gt 0 ] && [ "$rows" -lt $N ] || fail "$rows rows after a stop in mid-run"
notok=$(tail -n +2 "$T/flat" | awk -F'\037' '$2 != "ok"' | head -n 3)
[ -z "$notok" ] || fail "a graceful stop failed tasks: $notok"
grep -q "have no result" "$T/pool.err" || fail "collect does not say that tasks were left unrun"

# cancel: long tasks are killed at once
RC=0
timeout 30 "$PARADE" submit --name slow --workers 2 -- sleep 300 <"$T/in" >/dev/null 2>"$T/submit2.err" || RC=$?
expect_rc 0 "parade submit (slow)" "$T/submit2.err"
# this test's `sleep 300` tasks: their environment holds $T (PARADE_HOME)
sleeping() {
	local p
	find_procs
	for p in "${PIDS[@]}"; do
		[ "$(cmdline_of "$p")" = "sleep 300" ] && return 0
	done
	return 1
}
wait_for 20 sleeping || fail "the slow tasks did not start"
start=$(now_ms)
RC=0
timeout 60 "$PARADE" stop slow --cancel >"$T/cancel.out" 2>&1 || RC=$?
expect_rc 0 "parade stop --cancel" "$T/cancel.out"
grep -q "session slow cancelled" "$T/cancel.out" || { show_file "$T/cancel.out"; fail "stop --cancel does not report the end"; }
info "cancel took $(($(now_ms) - start)) ms"
assert_no_procs
sleeping && fail "a cancelled task (sleep 300) is still running"
info "scale 1 -> 3 -> 1, graceful stop and cancel, nothing left"
