#!/bin/bash
# t_progress_tty.sh - `parade run` on a terminal, stdout and stderr the
# same pty (the interactive default, no -o): the progress line is drawn,
# and it is erased before each row and each log line, so the screen holds
# the table's rows intact, in grid order, (2) warnings as whole lines, and
# the run ends with no progress text left on it. The pty comes from script(1); the bytes it
# captured are replayed through a small model of the terminal (CR goes to
# column 0, ESC[K erases to the end of the line, text overwrites).
. "$(dirname "$0")/lib.sh"

command -v script >/dev/null || skip "script(1) (util-linux) is not installed"
N=40
{
	echo n
	seq 1 $N
} >"$T/g.csv"
# rows come about every 50 ms, the line is redrawn every 200 ms: a row
# follows nearly every drawing of it
cat >"$T/run.sh" <<RUN
#!/bin/bash
exec "$PARADE" run --workers 2 --grid "$T/g.csv" -- sh -c 'sleep 0.1; echo "out \$1"' sh {n}
RUN
chmod +x "$T/run.sh"
# script -e: its exit status is the command's; -f: flush as it comes
timeout -k 5 60 script -qefc "$T/run.sh" "$T/typescript" </dev/null >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] || {
	show_file "$T/typescript"
	fail "parade run on a pty: exit status $rc"
}
grep -q 'parade: [0-9]*/40 done' "$T/typescript" ||
	fail "no progress line was drawn on the terminal (stderr is a tty)"
# screen TYPESCRIPT: the screen, line by line, as a terminal shows it
screen() {
	awk '
BEGIN { RS = "\n" }
{
	sub(/\r$/, "")		# the pty turns LF into CR LF
	out = ""; col = 0; s = $0
	while (length(s)) {
		c = substr(s, 1, 1)
		if (c == "\r") { col = 0; s = substr(s, 2); continue }
		if (substr(s, 1, 3) == "\033[K") { out = substr(out, 1, col); s = substr(s, 4); continue }
		out = substr(out, 1, col) c substr(out, col + 2)
		col++; s = substr(s, 2)
	}
	print out
}' "$1" | sed '/^$/d; /^Script started/d; /^Script done/d'
}
# rows_of: the header, then the row number of each row that is whole
rows_of() {
	sed -E 's/^([0-9]+),ok,0,[0-9]+\.[0-9]+,[^,]+,out \1,$/\1/'
}
screen "$T/typescript" >"$T/screen"
{
	echo 'n,status,exit_code,seconds,agent,stdout,error'
	seq 1 $N
} >"$T/want"
rows_of <"$T/screen" >"$T/got"
if ! cmp -s "$T/want" "$T/got"; then
	diff "$T/want" "$T/got" | head -n 10 >&2
	show_file "$T/screen" 50
	fail "the screen is not the table, row by row (a progress line mixed into the rows?)"
fi
# 2. log lines during the run (an agent killed mid-run: two warnings)
# also start at the beginning of a line, whole
cat >"$T/run2.sh" <<RUN
#!/bin/bash
exec "$PARADE" run --workers 2 --grid "$T/g.csv" -- sh -c 'sleep 0.1; if [ \$1 = 10 ] && mkdir "$T/killed" 2>/dev/null; then kill -9 \$PPID; fi; echo "out \$1"' sh {n}
RUN
chmod +x "$T/run2.sh"
timeout -k 5 60 script -qefc "$T/run2.sh" "$T/typescript2" </dev/null >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] || {
	show_file "$T/typescript2"
	fail "parade run on a pty, an agent killed: exit status $rc"
}
[ -d "$T/killed" ] || fail "the task that kills its agent did not run"
screen "$T/typescript2" >"$T/screen2"
grep -q '^parade: warning: local agent died (signal 9); starting a new one$' "$T/screen2" &&
	grep -q '^parade: warning: agent .* lost (.*); its [0-9]* task(s) requeued or lost$' "$T/screen2" || {
	show_file "$T/screen2" 50
	fail "the warnings about the killed agent are not whole lines on the screen"
}
grep -v '^parade: warning: ' "$T/screen2" | rows_of >"$T/got2"
if ! cmp -s "$T/want" "$T/got2"; then
	diff "$T/want" "$T/got2" | head -n 10 >&2
	show_file "$T/screen2" 50
	fail "an agent killed: the screen is not the table and the two warnings"
fi

assert_no_procs
info "$N rows on a shared terminal, progress drawn $(grep -o 'parade: [0-9]*/40 done' "$T/typescript" | wc -l) times, screen clean"
