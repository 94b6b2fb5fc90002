#!/bin/bash
# t_gamma.sh - the gamma example: 500 grid rows through gamma-sim with a
# schema; the table is complete, in grid order, and the numbers make sense.
. "$(dirname "$0")/lib.sh"

grid=$top_srcdir/examples/gamma/grid.csv
[ -x "$GAMMA" ] || fail "$GAMMA is missing"
[ -f "$grid" ] || fail "$grid is missing"

prun "$T/out.csv" "$T/err" --grid "$grid" --limit 500 \
	--schema mean:dbl,var:dbl,ks_p:dbl -- "$GAMMA" {alpha} {beta} {n_sim}
expect_rc 0 "parade run (gamma)" "$T/err"

want='alpha,beta,n_sim,status,exit_code,seconds,agent,mean,var,ks_p,error'
got=$(head -n 1 "$T/out.csv")
[ "$got" = "$want" ] || fail "header is '$got', expected '$want'"

rows=$(($(wc -l <"$T/out.csv") - 1))
[ "$rows" -eq 500 ] || fail "$rows data rows, expected 500"

# grid order: the first three columns are the first 500 grid rows
sed -n '2,501p' "$grid" | tr -d '\r' >"$T/want.keys"
tail -n +2 "$T/out.csv" | cut -d, -f1-3 >"$T/got.keys"
if ! cmp -s "$T/want.keys" "$T/got.keys"; then
	diff "$T/want.keys" "$T/got.keys" | head -n 10 >&2
	fail "alpha,beta,n_sim of the result rows differ from the first 500 grid rows"
fi

# every row ok, with plausible values
bad=$(tail -n +2 "$T/out.csv" | awk -F, '
	NF != 11 { print NR ": " NF " fields: " $0; exit }
	$4 != "ok" { print NR ": status " $4 ": " $0; exit }
	$5 != "0" { print NR ": exit_code " $5; exit }
	$6 == "" || $6 + 0 < 0 { print NR ": seconds " $6; exit }
	$7 == "" { print NR ": no agent"; exit }
	$11 != "" { print NR ": error " $11; exit }
	{
		m = $1 * $2
		if ($8 == "" || $8 + 0 < 0.5 * m || $8 + 0 > 1.5 * m) { print NR ": mean " $8 " vs alpha*beta " m; exit }
		if ($9 == "" || !($9 + 0 > 0)) { print NR ": var " $9; exit }
		if ($10 == "" || $10 + 0 < 0 || $10 + 0 > 1) { print NR ": ks_p " $10; exit }
	}')
[ -z "$bad" ] || fail "bad result row $bad"

# spot check: the values are what gamma-sim prints for that row
line=$(sed -n '2p' "$T/out.csv")
IFS=, read -r a b n _ _ _ _ mean var ksp _ <<<"$line"
direct=$("$GAMMA" "$a" "$b" "$n" | tr '\n' ' ')
[ "$direct" = "mean=$mean var=$var ks_p=$ksp " ] ||
	fail "row 1 has mean=$mean var=$var ks_p=$ksp but gamma-sim prints: $direct"

assert_no_procs
info "500 rows ok"
