#!/bin/bash
# t_agent_exit_sleep.sh - an agent told to stop while built-in sleep tasks
# are under way exits cleanly and frees them: its exit status is the one
# a signal gives (no abort), and under the sanitizer build LeakSanitizer
# finds nothing (the pending sleeps leaked: found by t_fake_controller's
# random frames).
. "$(dirname "$0")/lib.sh"

printf 'secs\n100\n100\n100\n' >"$T/grid.csv"
timeout -k 5 60 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--handler sleep --grid "$T/grid.csv" -o "$T/out.csv" -- {secs} 2>"$T/err" &
ppid_=$!
wait_endpoint S
"$AGENT" --connect "$conn" --id sleeper --slots 3 2>"$T/agent.err" &
apid=$!
PIDS+=("$apid")
running() {
	timeout 10 "$PARADE" status S >"$T/status" 2>&1 && grep -q ' 3 running' "$T/status"
}
wait_for 20 running || { show_file "$T/status"; fail "the agent is not running its 3 sleeps"; }
kill -TERM "$apid"
RC=0
wait "$apid" || RC=$?
grep -q 'Sanitizer' "$T/agent.err" && { show_file "$T/agent.err" 30; fail "the agent's exit leaked or crashed"; }
[ "$RC" -lt 128 ] || [ "$RC" -eq 143 ] || { show_file "$T/agent.err"; fail "the agent ended with status $RC"; }
info "agent exit status $RC with 3 sleeps under way"
kill -TERM "$ppid_" 2>/dev/null
wait "$ppid_" 2>/dev/null
assert_no_procs
