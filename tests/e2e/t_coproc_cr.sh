#!/bin/bash
# t_coproc_cr: a line-mode coproc row whose value holds a carriage return
# fails on its own, naming the character; a real R coprocess
# (examples/coproc/loop.R, whose readLines ends a line at CR too) never
# sees it, so no later answer lands on another row.
. "$(dirname "$0")/lib.sh"

EX=$top_srcdir/examples/coproc
command -v Rscript >/dev/null || fail "Rscript is missing (Debian package r-base-core)"

# row 3's n_sim is "3<CR>4": R would read "0.3 3.5 3" and "4" as two
# requests, answer both, and every later row would get its neighbour's
printf 'alpha,beta,n_sim\n' >"$T/grid.csv"
for i in 1 2 3 4 5 6; do
	if [ "$i" = 3 ]; then
		printf '0.%s,%s.5,"%s\r4"\n' "$i" "$i" "$i" >>"$T/grid.csv"
	else
		printf '0.%s,%s.5,%s\n' "$i" "$i" "$i" >>"$T/grid.csv"
	fi
done
# what the loop answers, line by line, for the five clean rows
printf '0.%s %s.5 %s\n' 1 1 1 2 2 2 4 4 4 5 5 5 6 6 6 >"$T/lines"
timeout 60 Rscript "$EX/loop.R" <"$T/lines" >"$T/want" || fail "loop.R failed on its own"
[ "$(wc -l <"$T/want")" -eq 5 ] || fail "loop.R gave $(wc -l <"$T/want") lines, expected 5"

prun "$T/out.csv" "$T/err" --workers 1 --grid "$T/grid.csv" \
	--handler coproc:"Rscript $EX/loop.R" -- {alpha} {beta} {n_sim}
expect_rc 1 "a carriage return in a line-mode task" "$T/err"
csv_flat "$T/out.csv" | tail -n +2 | awk -F'\037' '{ print $1 "|" $4 "|" $8 "|" $9 }' >"$T/got"
grep '^0\.3|' "$T/got" | grep -q '|failed||the task line holds a carriage return (.*--coproc-format json)' ||
	{ show_file "$T/out.csv"; fail "row 3 is not failed naming the carriage return"; }
grep -v '^0\.3|' "$T/got" | awk -F'|' '{ print $2 "|" $3 }' >"$T/got_ok"
sed 's/^/ok|/' "$T/want" >"$T/want_ok"
cmp -s "$T/got_ok" "$T/want_ok" || {
	diff "$T/want_ok" "$T/got_ok" | head -n 10 >&2
	fail "the clean rows differ from loop.R's own answers"
}
info "row 3 (a CR in a value) failed naming it; the 5 other rows have R's own answers"

assert_no_procs
