#!/bin/bash
# t_big_output.sh - the output limit agrees with what the journal keeps of
# one result (64 MiB) and with the frame limit: a larger --output-limit is
# refused naming the maximum (it was accepted up to 1 GiB, and a result
# over 64 MiB was then lost for good: dropped by the journal, run again by
# resume, dropped again); at the maximum, a task printing more keeps
# exactly 64 MiB, recorded and collected whole. A small result the journal
# refuses for another reason (its table renamed away) is held and written
# again, never called too big.
. "$(dirname "$0")/lib.sh"

MAX=67108864
printf 'x\n1\n' >"$T/grid.csv"
for limit in $((MAX + 1)) 1073741824; do
	RC=0
	timeout 30 "$PARADE" submit --name big --output-limit $limit --max-frame 4294967295 \
		--grid "$T/grid.csv" -- echo {x} >"$T/out" 2>"$T/err" || RC=$?
	expect_rc 2 "submit --output-limit $limit" "$T/err"
	grep -q -- "--output-limit '$limit': expected a whole number from 1 to $MAX" "$T/err" ||
		{ show_file "$T/err"; fail "--output-limit $limit: the message does not name the maximum $MAX"; }
done
# the frame limit still has to hold both streams
RC=0
timeout 30 "$PARADE" submit --name big --output-limit $MAX --grid "$T/grid.csv" -- echo {x} \
	>"$T/out" 2>"$T/err" || RC=$?
expect_rc 2 "submit --output-limit $MAX with the default --max-frame" "$T/err"
grep -q -- "needs --max-frame of at least $((2 * MAX + 65536))" "$T/err" || { show_file "$T/err"; fail "no --max-frame hint"; }

# at the maximum: 64 MiB + 1000 bytes printed, 64 MiB kept, the row says so
RC=0
timeout 30 "$PARADE" submit --name big --workers 1 --output-limit $MAX --max-frame $((2 * MAX + 65536)) \
	--grid "$T/grid.csv" -- sh -c 'head -c $(($2 + 1000)) /dev/zero | tr "\0" "$1"' sh {x} $MAX \
	>"$T/out" 2>"$T/err" || RC=$?
expect_rc 0 "submit at the maximum output limit" "$T/err"
RC=0
timeout 120 "$PARADE" wait big 2>"$T/wait.err" || RC=$?
expect_rc 0 "parade wait big" "$T/wait.err"
RC=0
timeout 60 "$PARADE" collect big --format tsv >"$T/table.tsv" 2>"$T/collect.err" || RC=$?
expect_rc 0 "parade collect big" "$T/collect.err"
[ "$(wc -l <"$T/table.tsv")" -eq 2 ] || fail "the table has not one row"
got=$(tail -n +2 "$T/table.tsv" | cut -f 2,7)
[ "$got" = "$(printf 'ok\tstdout truncated')" ] || fail "row: '$got', expected ok and 'stdout truncated'"
len=$(tail -n +2 "$T/table.tsv" | cut -f 6 | wc -c)
[ "$len" -eq $((MAX + 1)) ] || fail "stdout holds $((len - 1)) bytes, expected $MAX"
other=$(tail -n +2 "$T/table.tsv" | cut -f 6 | tr -d 1 | wc -c)
[ "$other" -eq 1 ] || fail "stdout holds $((other - 1)) bytes other than '1'"

# a journal that refuses a small result for a reason other than its size
# (here: its results table renamed away behind the controller's back) is
# a journal failure: the result is held with its stdout, status says the
# journal is failing, and once the table is back the result is recorded
# and the run goes on (it became a failed row "stdout of 8 bytes is more
# than the journal keeps", without its stdout)
if command -v sqlite3 >/dev/null; then
	printf 'x\n1\n2\n3\n' >"$T/grid3.csv"
	J=$PARADE_HOME/sessions/refuse/journal.db
	"$PARADE" run --name refuse --keep-session --workers 1 --format tsv --grid "$T/grid3.csv" \
		-- sh -c 'while [ ! -e "$2/go$1" ]; do sleep 0.05; done; echo "small $1"' sh {x} "$T" \
		>"$T/refuse.tsv" 2>"$T/refuse.err" &
	pid=$!
	touch "$T/go1"
	recorded() { [ -s "$J" ] && [ "$(sqlite3 -readonly "$J" 'SELECT count(*) FROM results' 2>/dev/null)" = 1 ]; }
	wait_for 30 recorded || { show_file "$T/refuse.err"; fail "row 1 was not recorded"; }
	sqlite3 "$J" "ALTER TABLE results RENAME TO results_away" || fail "sqlite3 could not rename the results table"
	touch "$T/go2"
	failing() { "$PARADE" status refuse 2>/dev/null | grep -q "^journal:  FAILING since .*results"; }
	ended() { ! kill -0 $pid 2>/dev/null; }
	wait_for 30 eval 'failing || ended' || true
	"$PARADE" status refuse >"$T/status.out" 2>&1
	if ended || ! failing; then
		show_file "$T/status.out"
		show_file "$T/refuse.tsv"
		show_file "$T/refuse.err"
		fail "the journal refused row 2, and status never said the journal is FAILING"
	fi
	grep -q "1 results held in memory" "$T/status.out" || { show_file "$T/status.out"; fail "status: not 1 result held"; }
	sqlite3 "$J" "ALTER TABLE results_away RENAME TO results" || fail "sqlite3 could not rename the results table back"
	touch "$T/go3"
	wait_pid $pid 60 || true
	expect_rc 0 "parade run with a journal that refused a result for a while" "$T/refuse.err"
	grep -q "too big\|more than the journal keeps" "$T/refuse.err" "$T/refuse.tsv" &&
		{ show_file "$T/refuse.err"; fail "a small result was called too big"; }
	for f in "$T/refuse.tsv" "$T/collect3.tsv"; do
		[ "$f" = "$T/collect3.tsv" ] && { "$PARADE" collect refuse --format tsv >"$f" 2>"$T/collect3.err" ||
			{ show_file "$T/collect3.err"; fail "collect refuse failed"; }; }
		got=$(tail -n +2 "$f" | sort -n | cut -f 1,2,6 | tr '\t\n' ',;')
		[ "$got" = "1,ok,small 1;2,ok,small 2;3,ok,small 3;" ] || { show_file "$f"; fail "$f: rows '$got'"; }
	done
else
	echo "SKIP: $TEST_NAME: part: no sqlite3 program to rename the journal's table" >&2
fi
assert_no_procs
