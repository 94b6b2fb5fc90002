#!/bin/bash
# t_hostile.sh - grid values full of shell and CSV metacharacters reach the
# task byte for byte, as an argv word (-- COMMAND) and in a shell script
# (--shell, or the script of `sh -c`) wherever the placeholder stands:
# bare, in double or single quotes, in a here-document, in backquotes or
# $(...); forms that cannot carry a value safely are refused up front;
# nothing in a value is ever run.
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

# 2. --shell: values passed as parameters, the script refers to them
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

# 3. placeholders wherever they stand in a shell script: inside double
# quotes, single quotes, a here-document, backquotes, $(...) within double
# quotes, several in one word, and in the script of an argv `sh -c` /
# `bash -c` template. Every case writes its file and it must hold exactly
# the bytes that want_CASE makes from the value.
NQ=200
want_plain() { cat "$1"; }
want_mixed() { printf '<'; cat "$1"; printf '>|'; cat "$1"; printf '|'; cat "$1"; printf '#'; }
want_heredoc() { cat "$1"; echo; }
# shell_case NAME WANT ARGS...: runs parade with ARGS (the template uses
# O for the output folder, which is $T/o-NAME) over the first NQ rows.
shell_case() {
	local name=$1 want=$2 o=$T/o-$1 i
	shift 2
	mkdir "$o" || fail "mkdir $o"
	prun "$T/r-$name.csv" "$T/e-$name" --grid "$T/grid.csv" --limit $NQ --workers 2 "${@//@O@/$o}"
	expect_rc 0 "$name: parade run" "$T/e-$name"
	[ -e "$T/pwned" ] && fail "$name: a value was executed: $T/pwned exists"
	[ -e "$T/exp/1" ] || fail "$name: a value removed the expected files"
	for i in $(seq 1 $NQ); do
		$want "$T/exp/$i" >"$T/want"
		cmp -s "$T/want" "$o/$i" || {
			od -c "$T/want" | head -n 5 >&2
			od -c "$o/$i" 2>&1 | head -n 5 >&2
			fail "$name: row $i: the file differs from the grid value"
		}
	done
}
shell_case dq want_plain --shell 'printf %s "{v}" > @O@/{#}'
shell_case sq want_plain --shell "printf %s '{v}' > @O@/{#}"
shell_case mixed want_mixed --shell "printf '<%s>|%s|%s#' \"{v}\" '{v}' {v} > @O@/{#}"
shell_case inword want_mixed --shell "printf %s \"<{v}>|\"'{v}|'{v}'#' > @O@/{#}"
shell_case heredoc want_heredoc --shell 'cat <<EOF > @O@/{#}
{v}
EOF'
shell_case heredoc_tab want_heredoc --shell 'cat <<-EOF > @O@/{#}
	{v}
	EOF'
shell_case backquote want_plain --shell 'x=`printf %s {v}; echo .`; printf %s "${x%.}" > @O@/{#}'
shell_case cmdsub_dq want_plain --shell 'x="$(printf %s "{v}"; echo .)"; printf %s "${x%.}" > @O@/{#}'
shell_case param want_plain --shell 'printf %s "${UNSET_IN_TEST:-{v}}" > @O@/{#}'
shell_case comment want_plain --shell 'printf %s {v} > @O@/{#} # {v} '"'"
shell_case sh_c want_plain -- sh -c 'printf %s "{v}" > @O@/{#}'
shell_case bash_c want_plain -- bash -ec "printf %s '{v}' > @O@/{#}"
# bash's options that take a word, and a lone '-' ending the options, do
# not hide the script (before the fix, --rcfile FILE made the values
# shell code)
shell_case bash_rcfile want_plain -- bash --rcfile /dev/null -c 'printf %s "{v}" > @O@/{#}'
shell_case bash_shopt_dash want_plain -- bash -O extglob -c - 'printf %s {v} > @O@/{#}'
shell_case sh_c_args want_mixed -- sh -c 'printf "<%s>|%s|%s#" "$1" '"'"'{v}'"'"' "{v}" > "$2"' sh {v} @O@/{#}

# 4. forms that cannot carry a value safely are refused before anything
# runs, with an error that shows the safe form
refuse_case() {
	local name=$1 want=$2
	shift 2
	prun "$T/r-$name.csv" "$T/e-$name" --grid "$T/grid.csv" --limit 5 --workers 1 "$@"
	expect_rc 2 "$name: parade run with a template that must be refused" "$T/e-$name"
	grep -qF -- "$want" "$T/e-$name" || {
		show_file "$T/e-$name"
		fail "$name: the error does not say '$want'"
	}
	[ -s "$T/r-$name.csv" ] && fail "$name: a refused template wrote a table"
	[ -e "$T/pwned" ] && fail "$name: a value was executed: $T/pwned exists"
	return 0
}
refuse_case ansi_c "outside \$'...'" --shell "printf %s \$'\\t{v}' > $T/x"
refuse_case bq_in_dq 'write $(...)' --shell 'echo "`printf %s {v}`" > '"$T/x"
refuse_case quoted_heredoc '<<EOF' --shell "cat <<'EOF' > $T/x
{v}
EOF"
refuse_case arith '$((' --shell 'echo $(( {v} + 1 ))'
refuse_case dollar '${{v}}' --shell 'echo ${v}'
refuse_case sh_c_ansi "outside \$'...'" -- bash -c "printf %s \$'{v}'"
refuse_case sh_unsure "cannot tell which word of this shell command is the script" \
	-- bash --frobnicate -c 'printf %s {v} > '"$T/x"
[ -e "$T/x" ] && fail "a refused template ran"

assert_no_procs
info "$N rows (argv), $NSHELL rows (--shell) and $NQ rows in each of 15 placements byte for byte; 7 unsafe forms refused"
