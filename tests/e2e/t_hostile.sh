#!/bin/bash
# t_hostile.sh - grid values full of shell and CSV metacharacters reach the
# task byte for byte, as an argv word (-- COMMAND) and shell-quoted
# (--shell); nothing in a value is ever run.
. "$(dirname "$0")/lib.sh"

N=2000
NSHELL=300

# gen.awk writes the grid (CSV), the expected file of every row
# (exp/ROW holds the value's exact bytes) and flat.txt (one line per row:
# the value with \ CR LF written as \\ \r \n, as csv_flat prints it).
cat >"$T/gen.awk" <<'AWK'
BEGIN {
	nf = 0
	f[++nf] = "\""
	f[++nf] = "'"
	f[++nf] = " "
	f[++nf] = "$(touch " tmp "/pwned)"
	f[++nf] = "`touch " tmp "/pwned`"
	f[++nf] = "\n"
	f[++nf] = "é"
	f[++nf] = "日本語"
	f[++nf] = "-n"
	f[++nf] = "\\"
	f[++nf] = ";"
	f[++nf] = "*"
	f[++nf] = "--"
	f[++nf] = "{v}"
	f[++nf] = "{#}"
	f[++nf] = "%s%d%%"
	f[++nf] = "\t"
	f[++nf] = "$HOME"
	f[++nf] = "${PATH}"
	f[++nf] = "$((1+1))"
	f[++nf] = "|"
	f[++nf] = "&&"
	f[++nf] = ">"
	f[++nf] = "<"
	f[++nf] = ","
	f[++nf] = "\\n"
	f[++nf] = "~"
	f[++nf] = "!"
	f[++nf] = "#"
	f[++nf] = "-e"
	f[++nf] = "  "
	f[++nf] = "?[a]"
	f[++nf] = "x=1"
	f[++nf] = "'\"'\"'"
	f[++nf] = "\"\""
	f[++nf] = "🎉"
	f[++nf] = "\r\n"
	f[++nf] = "\\\\"
	f[++nf] = "*.sh /*"
	f[++nf] = "; rm -rf " tmp "/exp #"
	f[++nf] = "\"$(touch " tmp "/pwned)\""
	f[++nf] = "'$(touch " tmp "/pwned)'"
	f[++nf] = "\\'"
	f[++nf] = "\n\n"

	seed = 12345
	print "id,v" > grid
	for (i = 1; i <= n; i++) {
		if (i == 1) v = ""
		else if (i == 2) v = "-n"
		else if (i == 3) v = "\n"
		else if (i == 4) v = ""
		else if (i - 4 <= nf) v = f[i - 4]
		else if (i % 500 == 0) {
			v = "-"
			while (length(v) < 3000) v = v f[1 + (length(v) * 7 + i) % nf]
		} else {
			k = 1 + rnd() % 6
			v = ""
			for (j = 0; j < k; j++) v = v f[1 + rnd() % nf]
		}
		# quote when needed, and sometimes when not needed
		if (v ~ /[",\r\n]/ || i % 3 == 0 || i == 4) {
			q = v
			gsub(/"/, "\"\"", q)
			q = "\"" q "\""
		} else q = v
		print i "," q > grid
		file = dir "/" i
		printf "%s", v > file
		close(file)
		print flatten(v) > flat
	}
	close(grid)
	close(flat)
}
# \ CR LF as \\ \r \n (no gsub: awks differ on backslashes in replacements)
function flatten(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\") out = out "\\\\"
		else if (c == "\r") out = out "\\r"
		else if (c == "\n") out = out "\\n"
		else out = out c
	}
	return out
}
function rnd() {
	seed = (seed * 1103515245 + 12345) % 2147483648
	return int(seed / 65536)
}
AWK

mkdir "$T/exp" "$T/out" "$T/out2" || fail "mkdir"
awk -v tmp="$T" -v n=$N -v grid="$T/grid.csv" -v dir="$T/exp" -v flat="$T/flat.txt" \
	-f "$T/gen.awk" </dev/null || fail "the grid generator failed"
nexp=$(ls "$T/exp" | wc -l)
[ "$nexp" -eq $N ] || fail "generator wrote $nexp expected files, not $N"
grep -q '"' "$T/grid.csv" && grep -q '日本語' "$T/grid.csv" || fail "generator output lacks hostile values"

printf '#!/bin/sh\nprintf %%s "$1" > "%s/$2"\n' "$T/out" >"$T/writeback.sh"
chmod +x "$T/writeback.sh"

# 1. argv words: -- writeback.sh {v} {#}
prun "$T/res.csv" "$T/err" --grid "$T/grid.csv" --workers 2 -- "$T/writeback.sh" {v} {#}
expect_rc 0 "parade run (argv)" "$T/err"
[ -e "$T/pwned" ] && fail "a value was executed: $T/pwned exists"
nout=$(ls "$T/out" | wc -l)
[ "$nout" -eq $N ] || fail "$nout output files, expected $N"
if ! diff -r "$T/exp" "$T/out" >"$T/diff" 2>&1; then
	show_file "$T/diff" 10
	fail "argv mode: $(grep -c . "$T/diff") output files differ from the grid values (e.g. $(head -n 1 "$T/diff"))"
fi

# the table: N rows, ids 1..N in order, every one ok, v column intact
csv_flat "$T/res.csv" >"$T/res.flat" || fail "result table is not valid CSV"
[ "$(head -n 1 "$T/res.flat")" = "$(printf 'id\037v\037status\037exit_code\037seconds\037agent\037stdout\037error')" ] ||
	fail "unexpected header: $(head -n 1 "$T/res.csv")"
nrows=$(($(wc -l <"$T/res.flat") - 1))
[ "$nrows" -eq $N ] || fail "result table has $nrows records, expected $N"
bad=$(tail -n +2 "$T/res.flat" | awk -F'\037' '$1 != NR || $3 != "ok" || NF != 8 { print NR ": " $0; exit }')
[ -z "$bad" ] || fail "bad result record $bad"
tail -n +2 "$T/res.flat" | awk -F'\037' '{ print $2 }' >"$T/res.v"
if ! cmp -s "$T/flat.txt" "$T/res.v"; then
	diff "$T/flat.txt" "$T/res.v" | head -n 6 >&2
	fail "the v column of the result table differs from the grid"
fi

# 2. --shell: values are shell-quoted
prun "$T/res2.csv" "$T/err2" --grid "$T/grid.csv" --limit $NSHELL --workers 2 \
	--shell 'printf %s {v} > '"$T/out2"'/{#}'
expect_rc 0 "parade run --shell" "$T/err2"
[ -e "$T/pwned" ] && fail "a value was executed in --shell mode: $T/pwned exists"
nout=$(ls "$T/out2" | wc -l)
[ "$nout" -eq $NSHELL ] || fail "--shell: $nout output files, expected $NSHELL"
for i in $(seq 1 $NSHELL); do
	cmp -s "$T/exp/$i" "$T/out2/$i" || fail "--shell: row $i: file differs from the grid value"
done
[ "$(($(csv_flat "$T/res2.csv" | wc -l) - 1))" -eq $NSHELL ] || fail "--shell: table has not $NSHELL rows"

assert_no_procs
info "$N rows (argv) and $NSHELL rows (--shell) byte for byte"
