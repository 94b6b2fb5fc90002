#!/bin/bash
# t_coproc.sh - the coprocess handler (--handler coproc:'COMMAND'): the
# three reference loops of examples/coproc over a small grid, json rows, a
# coprocess that dies on one input (restarted; that row lost at the crash
# limit, the others ok), one that hangs (timeout, the rest still ok), an
# agent without --coproc refused by a coproc controller, and no coprocess
# left afterwards.
. "$(dirname "$0")/lib.sh"

EX=$top_srcdir/examples/coproc
command -v python3 >/dev/null || fail "python3 is missing (Debian package python3)"
command -v Rscript >/dev/null || fail "Rscript is missing (Debian package r-base-core)"

# flat_rows CSV: "input<US>status<US>stdout<US>error" per data row (the
# first column, status, stdout and error of a stdin run's table).
flat_rows() {
	csv_flat "$1" | tail -n +2 | awk -F'\037' -v OFS='\037' '{ print $1, $2, $6, $7 }'
}

# ---- the three loops over a grid: every answer as the loop gives it ----
printf 'alpha,beta,n_sim\n' >"$T/grid.csv"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	printf '0.%s,%s.5,%s\n' "$i" "$((i % 4 + 1))" "$i" >>"$T/grid.csv"
done
tail -n +2 "$T/grid.csv" | tr ',' ' ' >"$T/lines"

for loop in "sh $EX/loop.sh" "python3 $EX/loop.py" "Rscript $EX/loop.R"; do
	# what the loop itself answers, line for line, outside parade
	timeout 60 $loop <"$T/lines" >"$T/want" || fail "$loop failed on its own"
	[ "$(wc -l <"$T/want")" -eq 12 ] || fail "$loop gave $(wc -l <"$T/want") lines, expected 12"
	prun "$T/out.csv" "$T/err" --workers 2 --slots 2 --grid "$T/grid.csv" \
		--handler coproc:"$loop" -- {alpha} {beta} {n_sim}
	expect_rc 0 "parade run --handler coproc:'$loop'" "$T/err"
	csv_flat "$T/out.csv" | tail -n +2 | awk -F'\037' '{ print $4 "|" $8 }' >"$T/got"
	sed 's/^/ok|/' "$T/want" >"$T/want_ok"
	cmp -s "$T/got" "$T/want_ok" || {
		diff "$T/want_ok" "$T/got" | head -n 10 >&2
		fail "$loop: rows differ from the loop's own answers"
	}
	info "$loop: 12 rows ok"
done

# ---- json rows: the coprocess gets the row as one JSON line ----
printf 'a,b\n1,"two\nlines"\n3,"q""uote"\n' >"$T/j.csv"
prun "$T/out.csv" "$T/err" --workers 1 --grid "$T/j.csv" --handler coproc:cat \
	--coproc-format json
expect_rc 0 "--coproc-format json" "$T/err"
csv_flat "$T/out.csv" | tail -n +2 | awk -F'\037' '{ print $7 }' >"$T/got"
printf '%s\n' '{"a":"1","b":"two\nlines"}' '{"a":"3","b":"q\"uote"}' >"$T/want"
sed 's/\\\\/\\/g' "$T/got" >"$T/got2"
cmp -s "$T/got2" "$T/want" || { cat "$T/got2" >&2; fail "json lines differ"; }
# ... while in line mode a value with a newline is that row's error
prun "$T/out.csv" "$T/err" --workers 1 --grid "$T/j.csv" --handler coproc:cat -- {a} {b}
expect_rc 1 "a newline in a line-mode task" "$T/err"
csv_flat "$T/out.csv" | grep -q 'failed.*holds a newline' || fail "no newline error in the table"

# ---- a coprocess that dies on input 3: restarted, row 3 lost, rest ok ----
seq 1 10 >"$T/in"
: >"$T/starts"
die="echo started >>$T/starts; while read l; do [ \"\$l\" = 3 ] && exit 1; echo \"v\$l\"; done"
prun "$T/out.csv" "$T/err" --workers 1 --crash-limit 2 --retries 5 --handler coproc:"$die" -- {} <"$T/in"
expect_rc 1 "a dying coprocess" "$T/err"
bad=$(flat_rows "$T/out.csv" | awk -F'\037' '
	$1 == 3 && ($2 != "lost" || $4 !~ /coprocess died \(exit 1\); the crash limit \(2\) is reached/) { print "row 3: " $2 " " $4; exit }
	$1 != 3 && ($2 != "ok" || $3 != "v" $1) { print "row " $1 ": " $2 " " $3; exit }
	END { if (NR != 10) print NR " rows" }')
[ -z "$bad" ] || { show_file "$T/out.csv"; fail "dying coprocess: $bad"; }
# one agent: the rows after a crash ran on a restarted coprocess
starts=$(wc -l <"$T/starts")
# started once, then again after each of the 2 crashes (the crash limit);
# spending --retries 5 as well would have started it 5 more times
[ "$starts" -eq 3 ] || fail "the coprocess was started $starts times, expected 3 (2 crashes)"
info "dying coprocess: row 3 lost after 2 crashes (--retries 5 unused), $starts starts, 9 rows ok"

# ---- a coprocess that hangs on input 2: timeout, then the next rows work ----
seq 1 5 >"$T/in"
hang="while read l; do [ \"\$l\" = 2 ] && sleep 1000; echo \"v\$l\"; done"
prun "$T/out.csv" "$T/err" --workers 1 --timeout 1 --handler coproc:"$hang" -- {} <"$T/in"
expect_rc 1 "a hanging coprocess" "$T/err"
bad=$(flat_rows "$T/out.csv" | awk -F'\037' '
	$1 == 2 && ($2 != "timeout" || $4 !~ /timed out after 1 s/) { print "row 2: " $2 " " $4; exit }
	$1 != 2 && ($2 != "ok" || $3 != "v" $1) { print "row " $1 ": " $2 " " $3; exit }
	END { if (NR != 5) print NR " rows" }')
[ -z "$bad" ] || { show_file "$T/out.csv"; fail "hanging coprocess: $bad"; }
info "hanging coprocess: row 2 timeout, the other 4 ok"

# ---- an agent without --coproc is refused at once; one with it runs all ----
seq 1 4 >"$T/in"
timeout -k 5 60 "$PARADE" run --launch none --name nocp --handler coproc:cat -- {} \
	<"$T/in" >"$T/out.csv" 2>"$T/err" &
cpid=$!
conn=$T/sessions/nocp/connection
wait_for 10 test -s "$conn" || { show_file "$T/err"; fail "no connection file for nocp"; }
timeout -k 5 20 "$AGENT" --connect "$conn" 2>"$T/a1.err"
rc=$?
[ $rc -eq 3 ] || { show_file "$T/a1.err"; fail "an agent without --coproc: exit $rc, expected 3"; }
grep -q "controller refused this agent: this session's tasks go to a coprocess" "$T/a1.err" ||
	{ show_file "$T/a1.err"; fail "the refused agent does not say why"; }
grep -q "refused connection from .*: the agent has no coprocess (--coproc)" "$T/err" ||
	{ show_file "$T/err"; fail "the controller does not say why it refused the agent"; }
timeout -k 5 20 "$AGENT" --connect "$conn" --coproc cat 2>"$T/a2.err"
RC=$?
expect_rc 0 "an agent with --coproc after a refused one" "$T/a2.err"
wait_pid "$cpid" 20 || fail "the nocp run did not end"
expect_rc 0 "the nocp run" "$T/err"
[ "$(flat_rows "$T/out.csv" | awk -F'\037' '$2 == "ok" && $3 == $1' | wc -l)" -eq 4 ] ||
	{ show_file "$T/out.csv"; fail "nocp: expected 4 rows ok, each its own line back"; }
info "an agent without --coproc: refused (exit 3), no task taken"

assert_no_procs
info "no coprocess left"
