#!/bin/bash
# t_nofile.sh - a controller out of file descriptors: with a hard limit of
# 64 open files it cannot accept 150 agent connections. It must say so,
# naming RLIMIT_NOFILE and its value, rate-limited, and must not spin on
# accept() while saturated (its CPU time over 3 s stays low). Then the
# connections it did accept finish the grid, every task ok.
. "$(dirname "$0")/lib.sh"

LOAD=$top_builddir/bench/loadagents
[ -x "$LOAD" ] || fail "$LOAD is missing (build first)"
N=600
CONNS=150
LIMIT=64
seq 1 $N >"$T/in"

# ulimit -n sets the soft and the hard limit: parade cannot raise it
(
	ulimit -n $LIMIT || exit 99
	exec "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
		--handler echo -o "$T/out.csv" -- x{} <"$T/in" 2>"$T/err"
) &
ppid_=$!
wait_endpoint S
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$ppid_/limits")" = $LIMIT ] ||
	fail "the controller's open-file limit is not $LIMIT"

# --hold: tasks are answered only after SIGUSR1, so the controller stays
# saturated (all descriptors used, connections waiting) while we look
"$LOAD" -n $CONNS --connect "$conn" --hold --rate 256 --timeout 60 \
	>"$T/load.out" 2>"$T/load.err" &
lpid=$!

warned() { grep -q 'cannot accept a connection' "$T/err"; }
wait_for 10 warned || {
	show_file "$T/err"
	fail "no warning about accept() failing"
}
line=$(grep -m1 'cannot accept a connection' "$T/err")
info "warning: $line"
case $line in
*"Too many open files"*"RLIMIT_NOFILE is $LIMIT"*"ulimit -n"*) ;;
*) fail "the warning does not name RLIMIT_NOFILE and its value $LIMIT: $line" ;;
esac

# spin check: CPU time (utime + stime, clock ticks) over 3 s while saturated
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$ppid_/stat"; }
hz=$(getconf CLK_TCK)
w0=$(grep -c 'cannot accept a connection' "$T/err")
c0=$(cpu_ticks)
sleep 3
c1=$(cpu_ticks)
w1=$(grep -c 'cannot accept a connection' "$T/err")
used_ms=$(((c1 - c0) * 1000 / hz))
info "controller CPU while saturated: $used_ms ms in 3 s; warnings $w0 -> $w1"
[ "$used_ms" -lt 500 ] || fail "the controller used $used_ms ms of CPU in 3 s while saturated: it spins"
# rate-limited to one line per 5 s (a line per retry would be ~30 in 3 s)
[ $((w1 - w0)) -le 1 ] || fail "$((w1 - w0)) accept warnings in 3 s: not rate-limited (one per 5 s expected)"
is_alive "$lpid" || {
	show_file "$T/load.err"
	fail "loadagents ended early"
}

# let the accepted connections work: every task must come back ok
kill -USR1 "$lpid"
wait_pid "$ppid_" 30 || fail "the controller did not finish the grid in 30 s"
[ "$RC" = 0 ] || {
	show_file "$T/err"
	fail "parade run exited $RC"
}
wait_pid "$lpid" 15 || fail "loadagents did not end after the controller's BYE"
[ "$RC" = 0 ] || {
	show_file "$T/load.err"
	fail "loadagents exited $RC"
}
rows=$(tail -n +2 "$T/out.csv" | wc -l)
[ "$rows" -eq $N ] || fail "$rows result rows, expected $N"
bad=$(tail -n +2 "$T/out.csv" | awk -F, '$2 != "ok" || $6 != "x" $1' | head -n 3)
[ -z "$bad" ] || fail "wrong rows: $bad"
joined=$(grep -c 'joined from' "$T/err")
[ "$joined" -lt $CONNS ] || fail "all $CONNS connections were accepted under a limit of $LIMIT"
info "$joined of $CONNS connections accepted under RLIMIT_NOFILE=$LIMIT; $N tasks ok"
assert_no_procs
