#!/bin/bash
# t_agent_term.sh - an agent ended from outside, with its tasks, as Slurm
# ends a step (scancel, a time limit): every process of the step gets
# SIGTERM at once, so a task may die of it before its agent has handled
# its own. Such a task is lost (requeued), never failed: here one agent
# and its running task get SIGTERM, the task first, and every row ends ok
# on the other agent. A task that sends itself SIGTERM
# is still failed.
. "$(dirname "$0")/lib.sh"

# (a) the agent and its task, terminated together
N=6
for i in $(seq 1 $N); do echo 1.5; done >"$T/in"
timeout -k 5 60 "$PARADE" run --workers 2 -- sleep {} <"$T/in" >"$T/out.csv" 2>"$T/err" &
pid=$!

# both agents run a task: the victim's task is its only child
busy() {
	local p c
	find_procs_cmd parade-agent
	[ ${#PIDS[@]} -eq 2 ] || return 1
	for p in "${PIDS[@]}"; do
		c=$(cat "/proc/$p/task/$p/children" 2>/dev/null) || return 1
		[ -n "$c" ] || return 1
	done
}
wait_for 30 busy || fail "the two agents did not both start a task within 30 s"
victim=${PIDS[0]}
tasks=$(cat "/proc/$victim/task/$victim/children")
# As slurmstepd does: SIGTERM to every pid of the step, here in the worst
# order of that race: the task first, and the agent only once it has
# reaped it (on a loaded node its own signal can come that late).
kill -TERM $tasks || fail "cannot signal task(s) $tasks of agent $victim"
reaped() {
	local t
	for t in $tasks; do
		[ -e "/proc/$t" ] && return 1
	done
	return 0
}
wait_for 10 reaped || fail "agent $victim did not reap its task(s) $tasks"
kill -TERM "$victim" || fail "cannot signal agent $victim"
info "SIGTERM to task(s) $tasks, then (once reaped) to their agent $victim"

wait_pid "$pid" 60 || fail "parade run did not finish"
expect_rc 0 "parade run after an agent and its task got SIGTERM" "$T/err"
csv_flat "$T/out.csv" >"$T/flat" || fail "output is not valid CSV"
rows=$(($(wc -l <"$T/flat") - 1))
[ "$rows" -eq $N ] || fail "$rows rows, expected $N"
bad=$(tail -n +2 "$T/flat" | awk -F'\037' '$2 != "ok" { print "row " NR " status " $2 " error " $7; exit }')
[ -z "$bad" ] || fail "$bad (a task ended with its agent must be requeued)"
grep -q "lost" "$T/err" || {
	show_file "$T/err"
	fail "the controller did not say the victim's task was lost"
}
info "controller: $(grep -m1 lost "$T/err")"
assert_no_procs

# (b) a task that kills itself with SIGTERM, its agent untouched: failed
prun "$T/out2.csv" "$T/err2" --workers 1 --shell 'kill -TERM $$' </dev/null <<<"x"
expect_rc 1 "a task that sends itself SIGTERM" "$T/err2"
csv_flat "$T/out2.csv" >"$T/flat2" || fail "output is not valid CSV"
st=$(tail -n +2 "$T/flat2" | cut -d $'\037' -f2,7)
[ "$st" = $'failed\037killed by signal 15 (SIGTERM)' ] || fail "self-terminated task: '$st', expected failed, killed by signal 15"
assert_no_procs
info "the terminated agent's task ran again elsewhere; a self-terminated task failed"
