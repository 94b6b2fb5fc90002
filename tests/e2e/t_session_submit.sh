#!/bin/bash
# t_session_submit.sh - submit returns at once with the session name;
# status shows the counts; collect while the session runs gives a growing
# prefix of the final table; collect --wait gives every row once, all ok;
# wait reports the end; nothing is left running.
. "$(dirname "$0")/lib.sh"

N=5000
{
	echo x
	seq 1 $N
} >"$T/grid.csv"

start=$(now_ms)
RC=0
name=$(timeout 30 "$PARADE" submit --name sweep --workers 2 --grid "$T/grid.csv" \
	-- sh -c 'echo "y=$1"' sh {x} 2>"$T/submit.err") || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
[ "$name" = sweep ] || fail "submit printed '$name', expected the session name 'sweep'"
took=$(($(now_ms) - start))
info "submit returned after $took ms"

# --watch repeats until the session ends, then says how it ended
timeout 120 "$PARADE" status sweep --watch=1 >"$T/watch" 2>&1 &
watch=$!

# a second session of the same name is refused with a reason
RC=0
timeout 30 "$PARADE" submit --name sweep --grid "$T/grid.csv" -- echo {x} >/dev/null 2>"$T/dup.err" || RC=$?
expect_rc 2 "a second submit named sweep"
grep -q "already exists" "$T/dup.err" || { show_file "$T/dup.err"; fail "no 'already exists' message"; }

# a controller that cannot come up: submit says why, and leaves no session
RC=0
timeout 30 "$PARADE" submit --name broken --listen tcp://127.0.0.1:0 --grid "$T/grid.csv" \
	-- echo {x} >"$T/broken.out" 2>"$T/broken.err" || RC=$?
expect_rc 2 "submit with a listener it may not open" "$T/broken.err"
grep -q "plain TCP without TLS" "$T/broken.err" || { show_file "$T/broken.err"; fail "submit does not say why the controller failed"; }
[ ! -e "$PARADE_HOME/sessions/broken" ] || fail "a session that never came up was left behind"
[ ! -s "$T/broken.out" ] || fail "a failed submit printed a session name: $(cat "$T/broken.out")"

RC=0
timeout 30 "$PARADE" status sweep >"$T/status" 2>&1 || RC=$?
expect_rc 0 "parade status sweep" "$T/status"
grep -q "^tasks: .*$N total" "$T/status" || { show_file "$T/status"; fail "status does not show $N tasks"; }
RC=0
timeout 30 "$PARADE" status sweep --json --agents >"$T/status.json" 2>&1 || RC=$?
expect_rc 0 "parade status --json" "$T/status.json"
grep -q "\"total\":$N" "$T/status.json" || { show_file "$T/status.json"; fail "status --json has no total"; }
grep -q '"agent_list":\[' "$T/status.json" || fail "status --agents has no agent list"
timeout 30 "$PARADE" status >"$T/list" 2>&1 || fail "parade status (list) failed"
grep -q '^sweep ' "$T/list" || { show_file "$T/list"; fail "the session list lacks sweep"; }

# two collects while it runs: the first is a prefix of the second
timeout 30 "$PARADE" collect sweep >"$T/c1.csv" 2>"$T/c1.err" || { show_file "$T/c1.err"; fail "collect while running failed"; }
sleep 0.5
timeout 30 "$PARADE" collect sweep >"$T/c2.csv" 2>"$T/c2.err" || fail "second collect failed"
n1=$(wc -l <"$T/c1.csv")
n2=$(wc -l <"$T/c2.csv")
info "collect while running: $n1 then $n2 lines"
[ "$n1" -ge 1 ] || fail "collect wrote nothing, not even a header"
head -n "$n1" "$T/c2.csv" | cmp -s - "$T/c1.csv" || fail "the first collect is not a prefix of the second"

RC=0
timeout 120 "$PARADE" collect sweep --wait >"$T/final.csv" 2>"$T/final.err" || RC=$?
expect_rc 0 "collect --wait" "$T/final.err"
head -n "$n2" "$T/final.csv" | cmp -s - "$T/c2.csv" || fail "a collect while running is not a prefix of the final table"
csv_flat "$T/final.csv" >"$T/flat" || fail "final table is not valid CSV"
[ "$(head -n 1 "$T/flat")" = "$(printf 'x\037status\037exit_code\037seconds\037agent\037stdout\037error')" ] ||
	fail "unexpected header $(head -n 1 "$T/final.csv")"
rows=$(($(wc -l <"$T/flat") - 1))
[ "$rows" -eq $N ] || fail "$rows rows, expected $N"
bad=$(tail -n +2 "$T/flat" | awk -F'\037' '
	$1 != NR { print "row " NR " has x " $1; exit }
	$2 != "ok" { print "row " NR " status " $2 " error " $7; exit }
	$6 != "y=" NR { print "row " NR " stdout " $6; exit }')
[ -z "$bad" ] || fail "$bad"

wait_pid "$watch" 30 || fail "status --watch did not end with the session"
expect_rc 0 "status --watch" "$T/watch"
[ "$(grep -c '^tasks: ' "$T/watch")" -ge 2 ] || { show_file "$T/watch"; fail "status --watch printed fewer than two reports"; }
tail -n 3 "$T/watch" | grep -q "session sweep: finished" || { show_file "$T/watch" 40; fail "status --watch did not end with 'finished'"; }

RC=0
timeout 30 "$PARADE" wait sweep 2>"$T/wait.err" || RC=$?
expect_rc 0 "parade wait on a finished session" "$T/wait.err"
grep -q "finished: $N of $N tasks done" "$T/wait.err" || { show_file "$T/wait.err"; fail "wait does not report the end"; }
timeout 30 "$PARADE" status sweep >"$T/status2" 2>&1
grep -q "session sweep: finished" "$T/status2" || { show_file "$T/status2"; fail "status after the end is not 'finished'"; }
# jsonl from the journal, after the controller has gone
timeout 30 "$PARADE" collect sweep --format jsonl >"$T/final.jsonl" || fail "collect --format jsonl failed"
[ "$(wc -l <"$T/final.jsonl")" -eq $N ] || fail "jsonl has $(wc -l <"$T/final.jsonl") lines"
grep -q '^{"x":"17","status":"ok"' "$T/final.jsonl" || fail "jsonl row 17 looks wrong: $(sed -n 17p "$T/final.jsonl")"

assert_no_procs
info "$N rows once each through submit, status, collect and wait"
