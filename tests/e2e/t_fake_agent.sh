#!/bin/bash
# t_fake_agent.sh - a hostile agent (tests/hostile/fake_agent) sends
# crafted and random frames to a real controller, over TLS (with the
# session secret from the connection file) and over the Unix socket,
# while two real agents run a grid next to it. Every crafted frame of the
# must-drop kinds (bad framing, HELLO strings with ESC or newlines, absurd
# slot counts, forged results: a task never handed to it, a status out of
# range, a wall time of 2^64-1, a task out of range, a random attempt, a
# late failure it never held) drops that peer; a PING flood that never
# reads is stopped (the controller's output to it is over the 4 MiB cap, so
# it reads no more of it) and dropped for missed heartbeats before the
# flood ends, without the controller growing by more than 16 MiB (without
# the cap the controller reads and answers every PING, hears the peer all
# along and drops it only once it stops, having grown by ~70 MiB). The controller must not crash, and the table must hold every row
# once, each run by a real agent: nothing lost, duplicated or forged.
# Prints the counts for docs/security.md.
. "$(dirname "$0")/lib.sh"

FAKE=$top_builddir/tests/hostile/fake_agent
[ -x "$FAKE" ] || fail "$FAKE is missing ('make check' builds it)"
N=1200
ROUNDS=${FAKE_ROUNDS:-360}
SEED=${FAKE_SEED:-11}
# longer than the heartbeat limit (5 to 6 s) by far
FLOOD_S=15
RSS_LIMIT_KB=$((16 * 1024))

# row 1 waits for $T/go, so the run is still going when the fake is done
# (and task 0, row 1, has no result while the fake forges results for it)
{
	echo "id"
	seq 1 $N
} >"$T/grid.csv"
cat >"$T/task.sh" <<EOF
#!/bin/sh
[ "\$1" = 1 ] || exit 0
while [ ! -e "$T/go" ]; do sleep 0.05; done
EOF
chmod +x "$T/task.sh"

# under ASan freed memory waits in a quarantine (256 MiB by default) and
# counts in VmRSS: keep it small so that VmRSS tracks what is held
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4 \
	timeout -k 5 150 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--grid "$T/grid.csv" -o "$T/out.csv" -- "$T/task.sh" {id} 2>"$T/err" &
ppid_=$!
wait_endpoint S
cpid=$(pgrep -P "$ppid_" -x parade || true)
[ -n "$cpid" ] || fail "cannot find the controller under pid $ppid_"

info "fake agent: $ROUNDS rounds (seed $SEED), then a ${FLOOD_S} s PING flood"
"$FAKE" --connect "$conn" --rounds "$ROUNDS" --seed "$SEED" --tasks $N \
	--flood $FLOOD_S --pid "$cpid" >"$T/fake.out" 2>"$T/fake.err" &
fpid=$!
# the real agents join while the fake is at work
sleep 1
"$AGENT" --connect "$conn" --local --id real-1 --slots 2 2>"$T/a1.err" &
a1=$!
"$AGENT" --connect "$conn" --id real-2 --slots 2 2>"$T/a2.err" &
a2=$!

wait_pid "$fpid" 120 || fail "the fake agent did not finish in 120 s"
frc=$RC
alive=1
is_alive "$cpid" || alive=0
touch "$T/go"
counts=$(cat "$T/fake.out")
info "fake agent: $counts"

wait_pid "$ppid_" 60 || fail "the run did not finish in 60 s after the fake agent"
prc=$RC
wait_pid "$a1" 15 || fail "agent real-1 did not leave after the run"
wait_pid "$a2" 15 || fail "agent real-2 did not leave after the run"

# the table, row by row: ids 1..N once each, ok, run by a real agent
awk -F, -v n=$N '
NR == 1 {
	for (i = 1; i <= NF; i++) col[$i] = i
	if (!col["id"] || !col["status"] || !col["agent"] || !col["stdout"]) { print "bad header: " $0; bad++ }
	next
}
{
	id = $col["id"]
	seen[id]++
	if (seen[id] > 1) { dup++; print "duplicate row " id }
	if ($col["status"] != "ok") { bad++; print "row " id ": status " $col["status"] }
	if ($col["agent"] != "real-1" && $col["agent"] != "real-2") { forged++; print "row " id ": agent " $col["agent"] }
	if ($col["stdout"] != "") { forged++; print "row " id ": stdout " $col["stdout"] }
}
END {
	for (i = 1; i <= n; i++) if (!seen[i]) { lost++; if (lost <= 5) print "row " i " missing" }
	printf "rows=%d lost=%d duplicated=%d forged=%d bad=%d\n", NR - 1, lost, dup, forged, bad
	exit (lost || dup || forged || bad) ? 1 : 0
}' "$T/out.csv" >"$T/check" || {
	show_file "$T/check" 30
	fail "the table is wrong: $(tail -n 1 "$T/check")"
}
info "table: $(tail -n 1 "$T/check")"
[ "$alive" = 1 ] || {
	show_file "$T/err" 40
	fail "the controller was gone before the fake agent finished (exit $prc)"
}
[ "$prc" = 0 ] || {
	show_file "$T/err" 40
	fail "parade run exited $prc"
}
[ "$frc" = 0 ] || {
	show_file "$T/fake.err" 40
	fail "the fake agent exited $frc: $counts"
}

# nothing a peer claimed reached the log raw
if LC_ALL=C grep -q $'\x1b' "$T/err"; then
	fail "an ESC byte from a HELLO reached the controller's log"
fi
if grep -q '^parade: warning: agent fakery' "$T/err"; then
	fail "a newline in a HELLO faked a log line"
fi

# the flood: stopped, dropped, memory bounded
flood_dropped=$(sed -n 's/.*flood_dropped=\([-0-9]*\).*/\1/p' "$T/fake.out")
growth=$(sed -n 's/.*flood_rss_growth_kb=\([-0-9]*\).*/\1/p' "$T/fake.out")
[ "$flood_dropped" = 1 ] || fail "the PING flood peer was not dropped while it flooded for $FLOOD_S s (flood_dropped=$flood_dropped: 2 is after it stopped, 0 never)"
[ -n "$growth" ] && [ "$growth" -ge 0 ] || fail "no VmRSS figure for the flood"
[ "$growth" -lt $RSS_LIMIT_KB ] || fail "the controller grew by $growth KiB under a PING flood (limit $RSS_LIMIT_KB)"
echo "hostile-agent: attempts=$(sed -n 's/.*rounds=\([0-9]*\).*/\1/p' "$T/fake.out") crashes=0 $(tail -n 1 "$T/check") $counts"
