#!/bin/bash
# t_big_output.sh - the output limit agrees with what the journal keeps of
# one result (64 MiB) and with the frame limit: a larger --output-limit is
# refused naming the maximum (it was accepted up to 1 GiB, and a result
# over 64 MiB was then lost for good: dropped by the journal, run again by
# resume, dropped again); at the maximum, a task printing more keeps
# exactly 64 MiB, recorded and collected whole.
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
assert_no_procs
