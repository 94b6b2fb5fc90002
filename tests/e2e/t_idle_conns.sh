#!/bin/bash
# t_idle_conns.sh - unauthenticated peers cost the controller close to
# nothing: (a) 50 TCP connections to its tls+tcp listener that never say a
# word must not make it spin (its CPU time over 3 s stays low: a resource
# check, not a speed one); (b) it holds at most 512 connections that have
# not said HELLO and drops the oldest first: of 600 idle connections the
# first ones are closed, the last ones are still open, and 20 idle
# connections to its Unix socket, older than all of them, are not closed
# for them (a flood from the network cannot push local agents out); (c) a
# real agent that joins while 500 idle connections are held runs every
# task.
. "$(dirname "$0")/lib.sh"

CAP=512
N=400
seq 1 $N >"$T/in"

# the fds the test opens, plus the controller's own
ulimit -n 4096 2>/dev/null || ulimit -n 2048 2>/dev/null || true
[ "$(ulimit -n)" -ge 1200 ] || {
	skip "needs 1200 open files (ulimit -n is $(ulimit -n))"
}

timeout -k 5 120 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--handler echo -o "$T/out.csv" -- x{} <"$T/in" 2>"$T/err" &
ppid_=$!
wait_endpoint S
# parade run is the timeout's child
cpid=$(pgrep -P "$ppid_" -x parade || true)
[ -n "$cpid" ] || cpid=$ppid_
[ -r "/proc/$cpid/stat" ] || fail "cannot read /proc/$cpid/stat"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$cpid/stat"; }
hz=$(getconf CLK_TCK)

FDS=()
open_idle() {
	local i fd
	for ((i = 0; i < $1; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to 127.0.0.1:$port"
		FDS+=("$fd")
	done
}
close_all() {
	local fd
	for fd in "${FDS[@]}"; do exec {fd}>&-; done
	FDS=()
}
# is_closed FD: the controller closed it. A TLS server says nothing before
# the client's hello, so an idle connection that became readable has seen
# the end (EOF or a reset). read -t 0 only polls: no time passes.
is_closed() {
	read -r -t 0 -u "$1" 2>/dev/null
}

# (a) no spinning on idle handshakes (the handshake deadline is 5 s: the
# measurement fits well inside it)
open_idle 50
sleep 0.3
c0=$(cpu_ticks)
sleep 3
c1=$(cpu_ticks)
used_ms=$(((c1 - c0) * 1000 / hz))
info "controller CPU with 50 idle connections: $used_ms ms in 3 s"
[ "$used_ms" -lt 300 ] || fail "the controller used $used_ms ms of CPU in 3 s for 50 idle connections: it spins"
close_all

# (b) the cap: 600 idle connections, the oldest 88 dropped; before them,
# 20 to the Unix socket, which the cap does not count (a python3 helper
# holds them and, told to, says how many the controller closed)
sock=$(sed -n 's|^local=ipc://||p' "$conn")
[ -S "$sock" ] || fail "no local= Unix socket in $conn"
python3 - "$sock" "$T/ux" <<'PY' 2>"$T/ux.err" &
import os, select, socket, sys, time
path, d = sys.argv[1], sys.argv[2]
ss = []
for _ in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    ss.append(s)
open(d + ".ready", "w").close()
while not os.path.exists(d + ".check"):
    time.sleep(0.02)
# the server says nothing before a HELLO: readable means closed
r, _, _ = select.select(ss, [], [], 0)
with open(d + ".closed.tmp", "w") as f:
    f.write("%d\n" % len(r))
os.rename(d + ".closed.tmp", d + ".closed")
PY
uxpid=$!
wait_for 5 test -e "$T/ux.ready" || {
	show_file "$T/ux.err"
	fail "cannot hold 20 connections to $sock"
}
open_idle 600
sleep 1
touch "$T/ux.check"
wait_pid "$uxpid" 5 || fail "the Unix socket helper did not answer"
ux_closed=$(cat "$T/ux.closed" 2>/dev/null || echo "?")
info "20 idle Unix socket connections opened first: $ux_closed closed"
[ "$ux_closed" = 0 ] || fail "$ux_closed of 20 idle Unix socket connections were closed for 600 TCP ones (the cap must not count them)"
closed_old=0 open_new=0
for ((i = 0; i < 600 - CAP; i++)); do is_closed "${FDS[$i]}" && closed_old=$((closed_old + 1)); done
for ((i = 600 - CAP; i < 600; i++)); do is_closed "${FDS[$i]}" || open_new=$((open_new + 1)); done
info "600 idle connections: $closed_old of the oldest $((600 - CAP)) closed, $open_new of the newest $CAP open"
[ "$closed_old" -eq $((600 - CAP)) ] || fail "only $closed_old of the oldest $((600 - CAP)) idle connections were closed (cap $CAP)"
[ "$open_new" -ge $((CAP - 20)) ] || fail "only $open_new of the newest $CAP idle connections are open"
grep -q "without HELLO" "$T/err" || {
	show_file "$T/err"
	fail "no log line says why idle connections were dropped"
}
close_all

# (c) a real run next to 500 idle connections: every row comes back
open_idle 500
"$AGENT" --connect "$conn" --slots 2 2>"$T/agent.err" &
apid=$!
wait_pid "$ppid_" 60 || fail "the run did not finish in 60 s next to 500 idle connections"
[ "$RC" = 0 ] || {
	show_file "$T/err"
	fail "parade run exited $RC"
}
close_all
wait_pid "$apid" 15 || fail "the agent did not leave after the run"
rows=$(tail -n +2 "$T/out.csv" | grep -c ',ok,')
[ "$rows" -eq $N ] || fail "$rows of $N rows ok"
for ((i = 1; i <= N; i++)); do echo "$i,ok"; done >"$T/want"
tail -n +2 "$T/out.csv" | cut -d, -f1,2 >"$T/got"
cmp -s "$T/want" "$T/got" || fail "the table differs from the input, row by row"
info "all $N rows ok next to 500 idle connections"
