#!/bin/bash
# t_sigint.sh - SIGINT to `parade run` while tasks run: it exits 130
# within seconds, prints the header and the rows that finished, and takes
# every agent and task down with it.
. "$(dirname "$0")/lib.sh"

cat >"$T/slow.sh" <<'EOF2'
#!/bin/sh
# rows 1-3 are quick, the others sleep 30 s (in a child process)
if [ "$1" -gt 3 ]; then sleep 30; fi
echo "done $1"
EOF2
chmod +x "$T/slow.sh"
seq 1 20 >"$T/in"

# its own session, so that only parade gets the SIGINT
setsid "$PARADE" run --workers 2 -- "$T/slow.sh" {} <"$T/in" >"$T/out.csv" 2>"$T/err" &
pid=$!
is_parade() { case $(cmdline_of "$pid") in *parade\ run*) return 0 ;; esac; return 1; }
wait_for 5 is_parade || fail "\$! ($pid) is not parade run: $(cmdline_of "$pid")"

two_sleeping() { [ "$(count_procs_cmd slow.sh)" -ge 2 ]; }
wait_for 15 two_sleeping || fail "the tasks did not start (slow.sh processes: $(count_procs_cmd slow.sh))"
[ "$(count_procs_cmd parade-agent)" -eq 2 ] || fail "expected 2 parade-agent processes"
is_alive "$pid" || fail "parade exited early"
sleep 1 # rows 1-3 are done on the agents; let their results reach parade

start=$(now_ms)
kill -INT "$pid" || fail "cannot send SIGINT to $pid"
wait_pid "$pid" 15 || fail "parade run still runs 15 s after SIGINT"
took=$(($(now_ms) - start))
if [ "$RC" != 130 ]; then
	show_file "$T/err"
	fail "exit status $RC after SIGINT, expected 130"
fi
[ "$took" -lt 6000 ] || fail "parade took $took ms to exit after SIGINT"
info "exited 130 after $took ms"

printf 'input,status,exit_code,seconds,agent,stdout,error\n' >"$T/want"
for i in 1 2 3; do echo "$i,ok,0,done $i"; done >>"$T/want"
head -n 1 "$T/out.csv" >"$T/got"
tail -n +2 "$T/out.csv" | cut -d, -f1-3,6 >>"$T/got"
if ! cmp -s "$T/want" "$T/got"; then
	show_file "$T/out.csv"
	fail "the table after SIGINT is not the header and rows 1-3"
fi
grep -q "interrupted" "$T/err" || {
	show_file "$T/err"
	fail "no 'interrupted' message on stderr"
}

assert_no_procs 3
info "no agent or task left"

# SIGINT while the launcher is still starting its agents (300 of them take
# a while): the run still ends as interrupted, 130, with nothing left. The
# signal was lost, or killed the controller without its clean-up, when the
# handlers came only after the launcher had started.
setsid "$PARADE" run --workers 300 -- sleep 30 <"$T/in" >"$T/out2.csv" 2>"$T/err2" &
pid=$!
wait_for 5 is_parade || fail "\$! ($pid) is not parade run: $(cmdline_of "$pid")"
some_agents() { [ "$(count_procs_cmd parade-agent)" -ge 1 ]; }
wait_for 10 some_agents || fail "no agent started"
kill -INT "$pid" || fail "cannot send SIGINT to $pid"
wait_pid "$pid" 30 || fail "parade run still runs 30 s after SIGINT during its start"
if [ "$RC" != 130 ]; then
	show_file "$T/err2"
	fail "exit status $RC after SIGINT during the launcher's start, expected 130"
fi
grep -q "interrupted" "$T/err2" || {
	show_file "$T/err2"
	fail "no 'interrupted' message after SIGINT during the launcher's start"
}
assert_no_procs 10
info "SIGINT during the start: 130, interrupted, nothing left"
