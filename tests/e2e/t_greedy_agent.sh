#!/bin/bash
# t_greedy_agent.sh - an agent that claims 4096 slots, takes what it is
# given and leaves without a word, three times (the crash limit), makes at
# most the slow-start credit (64 tasks) lost, not every task it could have
# been handed: before slow start it took all 1,000 tasks of this run each
# time and all 1,000 ended lost. A real agent then runs the rest: every
# other row is ok.
. "$(dirname "$0")/lib.sh"

FAKE=$top_builddir/tests/hostile/fake_agent
[ -x "$FAKE" ] || fail "$FAKE is missing ('make check' builds it)"
N=1000
START=64
seq 1 $N >"$T/in"

timeout -k 5 90 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--handler echo -o "$T/out.csv" -- x{} <"$T/in" 2>"$T/err" &
ppid_=$!
wait_endpoint S
"$FAKE" --connect "$conn" --greedy 3 >"$T/fake.out" 2>"$T/fake.err" || {
	show_file "$T/fake.err"
	fail "the greedy agent could not make its three visits"
}
info "tasks handed per visit: $(cat "$T/fake.out")"
# --grace: before slow start the run could be over (every task lost)
"$AGENT" --connect "$conn" --id real-1 --grace 3 2>"$T/agent.err" &
apid=$!
wait_pid "$ppid_" 60 || fail "the run did not finish"
info "parade run exited $RC"
wait_pid "$apid" 15 || fail "the agent did not leave after the run"
read -r rows ok lost other <<<"$(awk -F, 'NR > 1 { n++; if ($2 == "ok") ok++; else if ($2 == "lost") lost++; else other++ }
	END { print n + 0, ok + 0, lost + 0, other + 0 }' "$T/out.csv")"
info "rows $rows: ok $ok, lost $lost, other $other"
[ "$rows" -eq $N ] || fail "$rows rows, expected $N"
[ "$other" -eq 0 ] || fail "$other rows neither ok nor lost"
[ "$lost" -le $START ] || fail "$lost tasks lost to an agent that claimed 4096 slots and left three times (at most $START expected)"
[ $((ok + lost)) -eq $N ] || fail "ok $ok + lost $lost is not $N"
