#!/bin/bash
# t_agent_term.sh - an agent ended from outside, with its tasks, as Slurm
# ends a step (scancel, a time limit): every process of the step gets
# SIGTERM at once, so a task may die of it before its agent has handled
# its own. Such a task is lost (requeued), never failed: here one agent
# and its running task get SIGTERM, the task first, and every row ends ok
# on the other agent. A task that sends itself SIGTERM
# is still failed.
. "$(dirname "$0")/lib.sh"

# term_run MODE: (a) the agent and its task, terminated together. MODE
# direct: the task is `sleep`, killed by SIGTERM; shell: the task is a
# shell running `sleep`, which gets the SIGTERM, and the shell exits 143
# (128 + 15), as a task's shell does when Slurm signals its command.
term_run() {
	local mode=$1 pid victim tasks kids t bad rows
	if [ "$mode" = direct ]; then
		set -- -- sleep {}
	else
		set -- --shell 'sleep {}; exit $?'
	fi
	timeout -k 5 60 "$PARADE" run --workers 2 "$@" <"$T/in" >"$T/out.csv" 2>"$T/err" &
	pid=$!
	wait_for 30 busy || fail "$mode: the two agents did not both start a task within 30 s"
	victim=${PIDS[0]}
	tasks=$(cat "/proc/$victim/task/$victim/children")
	kids=$tasks
	if [ "$mode" = shell ]; then
		wait_for 10 has_kids $tasks || fail "shell: task $tasks started no sleep"
		kids=$(for t in $tasks; do cat "/proc/$t/task/$t/children"; done)
	fi
	# As slurmstepd does: SIGTERM to every pid of the step, here in the
	# worst order of that race: the task first, and the agent only once
	# it has reaped it (on a loaded node its own signal can come that late).
	# shellcheck disable=SC2086
	kill -TERM $kids || fail "$mode: cannot signal $kids (task(s) of agent $victim)"
	wait_for 10 reaped $tasks || fail "$mode: agent $victim did not reap its task(s) $tasks"
	kill -TERM "$victim" || fail "$mode: cannot signal agent $victim"
	info "$mode: SIGTERM to $kids, then (once task(s) $tasks were reaped) to their agent $victim"

	wait_pid "$pid" 60 || fail "$mode: parade run did not finish"
	expect_rc 0 "$mode: parade run after an agent and its task got SIGTERM" "$T/err"
	csv_flat "$T/out.csv" >"$T/flat" || fail "$mode: output is not valid CSV"
	rows=$(($(wc -l <"$T/flat") - 1))
	[ "$rows" -eq $N ] || fail "$mode: $rows rows, expected $N"
	bad=$(tail -n +2 "$T/flat" | awk -F'\037' '$2 != "ok" { print "row " NR " status " $2 " exit code " $3 " error " $7; exit }')
	[ -z "$bad" ] || fail "$mode: $bad (a task ended with its agent must be requeued)"
	grep -q "lost" "$T/err" || {
		show_file "$T/err"
		fail "$mode: the controller did not say the victim's task was lost"
	}
	info "$mode: controller: $(grep -m1 lost "$T/err")"
	assert_no_procs
}

# both agents run a task (each agent's only child); PIDS gets the agents
busy() {
	local p c
	find_procs_cmd parade-agent
	[ ${#PIDS[@]} -eq 2 ] || return 1
	for p in "${PIDS[@]}"; do
		c=$(cat "/proc/$p/task/$p/children" 2>/dev/null) || return 1
		[ -n "$c" ] || return 1
	done
}
has_kids() {
	local t
	for t; do
		[ -n "$(cat "/proc/$t/task/$t/children" 2>/dev/null)" ] || return 1
	done
}
reaped() {
	local t
	for t; do
		[ -e "/proc/$t" ] && return 1
	done
	return 0
}

N=6
for i in $(seq 1 $N); do echo 1.5; done >"$T/in"
term_run direct
term_run shell

# (b) a task that kills itself with SIGTERM, its agent untouched: failed
prun "$T/out2.csv" "$T/err2" --workers 1 --shell 'kill -TERM $$' </dev/null <<<"x"
expect_rc 1 "a task that sends itself SIGTERM" "$T/err2"
csv_flat "$T/out2.csv" >"$T/flat2" || fail "output is not valid CSV"
st=$(tail -n +2 "$T/flat2" | cut -d $'\037' -f2,7)
[ "$st" = $'failed\037killed by signal 15 (SIGTERM)' ] || fail "self-terminated task: '$st', expected failed, killed by signal 15"
assert_no_procs
info "the terminated agent's task ran again elsewhere; a self-terminated task failed"
