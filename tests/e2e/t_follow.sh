#!/bin/bash
# t_follow.sh - followers (parade-agent --follow): peers that say HELLO
# with 0 slots, as the tasks of a Slurm step other than task 0 do. Two
# followers started before the controller retry until it is up, take no
# task, are not counted as agents (parade status says 2 connected: the 2
# local agents) and exit with the run's exit status from its BYE: 0, and
# 1 for a run where a task fails (those two join through the connection
# file). A follower exits 2 when the controller is unreachable past
# --grace, and when it is lost before the end of its run.
. "$(dirname "$0")/lib.sh"

for _ in $(seq 1 50); do
	port=$((20000 + RANDOM % 30000))
	grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp || break
done
url=tls+tcp://127.0.0.1:$port
umask 077
printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/secret"
seq 1 12 | sed '1i x' >"$T/grid.csv"

# followers F1 F2 ARGS...: two followers in the background (pids in FOL)
followers() {
	local i
	FOL=()
	for i in 1 2; do
		"$AGENT" --follow --id "follow-$i" --grace 20 "$@" 2>"$T/f$i.log" &
		FOL+=($!)
	done
}

# joined ERRFILE: both followers said HELLO to that controller (-v log)
joined() {
	[ "$(grep -c 'follower follow-[12] joined' "$1")" -eq 2 ]
}

# (a) followers first; the run's status 0
followers --url "$url" --secret-file "$T/secret"
sleep 0.5
timeout -k 5 60 "$PARADE" run -v --workers 2 --listen "$url" --secret-file "$T/secret" \
	--name fa --grid "$T/grid.csv" --shell 'sleep 1; echo {x}' >"$T/out-a.csv" 2>"$T/err-a" &
run=$!
wait_for 15 joined "$T/err-a" || {
	show_file "$T/f1.log"
	fail "the followers did not join within 15 s"
}
"$PARADE" status fa >"$T/status-a" 2>&1 || {
	show_file "$T/status-a"
	fail "parade status fa failed while the run went on"
}
grep -q '^agents: *2 connected' "$T/status-a" || {
	show_file "$T/status-a"
	fail "parade status does not count exactly the 2 agents (followers are not agents)"
}
wait_pid "$run" 60 || fail "parade run (a) did not finish"
expect_rc 0 "run (a) with 2 followers" "$T/err-a"
for i in 0 1; do
	wait_pid "${FOL[$i]}" 10 || fail "follower $((i + 1)) still runs 10 s after the run ended"
	[ "$RC" = 0 ] || {
		show_file "$T/f$((i + 1)).log"
		fail "follower $((i + 1)) exited $RC after a run that exited 0"
	}
done
bad=$(tail -n +2 "$T/out-a.csv" | awk -F, '$2 != "ok" || $5 ~ /follow/ { print "row " NR ": " $0; exit }')
[ -z "$bad" ] || fail "run (a): $bad"
[ "$(($(wc -l <"$T/out-a.csv") - 1))" -eq 12 ] || fail "run (a): not 12 rows"
grep -q 'agent follow-' "$T/err-a" && fail "run (a) reported a follower as an agent: $(grep -m1 'agent follow-' "$T/err-a")"
grep -q "exit status 0" "$T/f1.log" || {
	show_file "$T/f1.log"
	fail "follower 1 did not say the run's exit status"
}
info "(a) 2 followers: not agents, exit 0 with the run"

# (b) a task fails: the run and its followers exit 1; they join through
# the session's connection file once it is there
timeout -k 5 60 "$PARADE" run -v --workers 2 --listen "$url" --secret-file "$T/secret" \
	--name fb --grid "$T/grid.csv" --shell 'sleep 0.5; [ {x} != 3 ]' >"$T/out-b.csv" 2>"$T/err-b" &
run=$!
followers --connect "$T/sessions/fb/connection" --wait-connect
wait_pid "$run" 60 || fail "parade run (b) did not finish"
expect_rc 1 "run (b) with a failing task" "$T/err-b"
for i in 0 1; do
	wait_pid "${FOL[$i]}" 10 || fail "follower $((i + 1)) of (b) still runs 10 s after the run"
	[ "$RC" = 1 ] || {
		show_file "$T/f$((i + 1)).log"
		fail "follower $((i + 1)) exited $RC after a run that exited 1"
	}
done
joined "$T/err-b" || info "(b) a follower came after the end: it got its status all the same"
info "(b) followers exit 1 with the run"

# (c) nobody listens: 2 after --grace
RC=0
"$AGENT" --follow --url "$url" --secret-file "$T/secret" --grace 1 2>"$T/f-c.log" || RC=$?
[ "$RC" = 2 ] || fail "(c) follower with no controller: exit $RC, expected 2"
grep -q "controller unreachable for 1.0 s" "$T/f-c.log" || {
	show_file "$T/f-c.log"
	fail "(c) no clear message from a follower that found no controller"
}

# (d) the controller dies before the end of its run: 2
timeout -k 5 60 "$PARADE" run -v --launch none --listen "$url" --secret-file "$T/secret" \
	--name fd --grid "$T/grid.csv" -- echo {x} >/dev/null 2>"$T/err-d" &
run=$!
followers --url "$url" --secret-file "$T/secret"
wait_for 15 joined "$T/err-d" || fail "(d) the followers did not join within 15 s"
ctl=$(cat "/proc/$run/task/$run/children")
kill -9 $ctl 2>/dev/null
wait_pid "$run" 10 || fail "(d) parade run still runs after SIGKILL"
for i in 0 1; do
	wait_pid "${FOL[$i]}" 20 || fail "(d) follower $((i + 1)) still runs 20 s after its controller died"
	[ "$RC" = 2 ] || fail "(d) follower $((i + 1)) exited $RC when its controller died, expected 2"
done
grep -q "lost the controller before its run ended" "$T/f1.log" || {
	show_file "$T/f1.log"
	fail "(d) no clear message from a follower whose controller died"
}
assert_no_procs
info "(c), (d): 2 when the run's status cannot be known"
