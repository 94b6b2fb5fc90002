#!/bin/bash
# t_coproc_nostart.sh - an agent whose coprocesses cannot start (200 slots
# under `ulimit -n 256`: two pipes each) leaves, exit status 2, with a log
# line that says why (strerror); it does not report the tasks it was
# handed as failed. Its controller, the only local agent gone, gives up:
# exit status 2, no row failed. The same for the COMMAND the controller
# hands out in WELCOME and for the agent's own --coproc.
. "$(dirname "$0")/lib.sh"

seq 1 6 >"$T/in"

# the controller's COMMAND (WELCOME)
RC=0
(
	ulimit -n 256 || exit 99
	exec timeout -k 5 60 "$PARADE" run --workers 1 --slots 200 --handler coproc:cat \
		-o "$T/out.csv" -- x {} <"$T/in" 2>"$T/err"
) || RC=$?
expect_rc 2 "parade run --handler coproc:cat whose agent cannot start 200 coprocesses" "$T/err"
grep -q "cannot start the coprocess 'cat': Too many open files" "$T/err" || {
	show_file "$T/err"
	fail "the agent's log does not say why its coprocesses cannot start"
}
grep -q "no local agent is left.*giving up" "$T/err" || {
	show_file "$T/err"
	fail "the controller did not give up when its agent left"
}
failed=$(csv_flat "$T/out.csv" | awk -F'\037' 'NR > 1 && $2 == "failed"' | wc -l)
[ "$failed" = 0 ] || {
	show_file "$T/out.csv"
	fail "$failed row(s) marked failed: the agent failed the tasks instead of leaving"
}
info "an agent that cannot start the controller's coprocesses leaves (exit 2) saying why"

# the agent's own --coproc: it leaves before it dials
RC=0
(
	ulimit -n 256 || exit 99
	exec timeout -k 5 30 "$AGENT" --url "ipc://$T/none.sock" --slots 200 --coproc cat \
		2>"$T/agent.err"
) || RC=$?
expect_rc 2 "parade-agent --coproc cat --slots 200 under ulimit -n 256" "$T/agent.err"
grep -q "cannot start the coprocess 'cat': Too many open files" "$T/agent.err" || {
	show_file "$T/agent.err"
	fail "the agent with its own --coproc does not say why its coprocesses cannot start"
}
assert_no_procs
