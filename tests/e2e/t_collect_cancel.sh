#!/bin/bash
# t_collect_cancel.sh - `parade collect NAME` on a session stopped with
# --cancel (some tasks without a result): it names the session in its
# warning (not a word of the recorded command line nor an environment
# variable), writes the finished rows once each, exits 0 and never
# crashes; the same with --format, -o and options recorded in the
# session (--schema, -v) that collect must not take over; on an old
# journal whose recorded command line does not parse, collect and resume
# exit 2 saying so (collect freed the journal twice and died of SIGBUS).
. "$(dirname "$0")/lib.sh"

N=40
{
	echo x
	seq 1 $N
} >"$T/grid.csv"

# rows 1-10 finish at once, the rest wait for a file that never comes
RC=0
name=$(timeout 30 "$PARADE" submit --name cancelme --workers 2 --grid "$T/grid.csv" \
	--schema y:int -v -- sh -c 'if [ "$1" -gt 10 ]; then while [ ! -e "$2" ]; do sleep 0.05; done; fi; echo "y=$1"' \
	sh {x} "$T/never" 2>"$T/submit.err") || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
[ "$name" = cancelme ] || fail "submit printed '$name'"

done_rows() {
	local n
	n=$(timeout 10 "$PARADE" collect cancelme 2>/dev/null | wc -l)
	[ "$n" -ge 11 ]
}
wait_for 30 done_rows || fail "rows 1-10 did not finish"
RC=0
timeout 30 "$PARADE" stop cancelme --cancel >"$T/stop.out" 2>"$T/stop.err" || RC=$?
expect_rc 0 "parade stop --cancel" "$T/stop.err"

for args in "" "--format tsv" "--unordered" "-o $T/out.file"; do
	RC=0
	# shellcheck disable=SC2086
	timeout 30 "$PARADE" collect cancelme $args >"$T/c.out" 2>"$T/c.err" || RC=$?
	expect_rc 0 "parade collect cancelme $args" "$T/c.err"
	out=$T/c.out
	[ -n "$args" ] && [ "${args#-o}" != "$args" ] && out=$T/out.file
	grep -q "^parade: warning: session cancelme: 30 of $N tasks have no result" "$T/c.err" || {
		show_file "$T/c.err"
		fail "collect $args: the warning does not name session cancelme with 30 of $N missing"
	}
	if grep -v "session cancelme" "$T/c.err" | grep -q .; then
		show_file "$T/c.err"
		fail "collect $args: unexpected lines on stderr (debug lines of the recorded -v?)"
	fi
	rows=$(($(wc -l <"$out") - 1))
	[ "$rows" -eq 10 ] || { show_file "$out"; fail "collect $args: $rows rows, expected 10"; }
	if [ "$args" = "--format tsv" ]; then
		head -n 1 "$out" | grep -q "$(printf 'x\tstatus')" || { show_file "$out"; fail "--format tsv ignored"; }
	else
		head -n 1 "$out" | grep -q '^x,status,exit_code,seconds,agent,y,error$' ||
			{ show_file "$out"; fail "collect $args: the schema's column y is missing from the header"; }
		sort -t, -k1,1n "$out" | awk -F, 'NR > 1 && ($2 != "ok" || $6 != $1) { print; bad = 1 } END { exit bad }' ||
			fail "collect $args: a row is not ok or y is not x"
	fi
done

# a journal from before the session record (and before 'schema' and 'format'
# were recorded as data): collect
# gets them from the recorded command line (and its -v stays there)
if command -v sqlite3 >/dev/null; then
	sqlite3 "$PARADE_HOME/sessions/cancelme/journal.db" \
		"DELETE FROM meta WHERE key IN ('schema', 'format', 'record')" || fail "sqlite3 could not edit the journal"
	RC=0
	timeout 30 "$PARADE" collect cancelme >"$T/old.out" 2>"$T/old.err" || RC=$?
	expect_rc 0 "collect on an old journal" "$T/old.err"
	head -n 1 "$T/old.out" | grep -q '^x,status,exit_code,seconds,agent,y,error$' ||
		{ show_file "$T/old.out"; fail "old journal: the schema's column y is missing"; }
	[ "$(grep -cv "session cancelme" "$T/old.err")" -eq 0 ] || { show_file "$T/old.err"; fail "old journal: unexpected lines on stderr"; }

	# an old journal whose recorded command line no longer parses: collect
	# says so and exits 2 (it freed the journal twice and died of a signal)
	J=$PARADE_HOME/sessions/cancelme/journal.db
	argv=$(sqlite3 "$J" "SELECT value FROM meta WHERE key = 'argv'") || fail "sqlite3 could not read argv"
	sqlite3 "$J" "UPDATE meta SET value = '[\"parade submit\",\"--no-such-option\",\"--\",\"true\"]' WHERE key = 'argv'" ||
		fail "sqlite3 could not edit the journal"
	RC=0
	timeout 30 "$PARADE" collect cancelme >"$T/bad.out" 2>"$T/bad.err" || RC=$?
	[ "$RC" -lt 128 ] || { show_file "$T/bad.err"; fail "collect on an unparsable recorded command line died of signal $((RC - 128))"; }
	expect_rc 2 "collect on an old journal whose command line does not parse" "$T/bad.err"
	grep -q "^parade: error: session cancelme: its recorded command line no longer parses" "$T/bad.err" ||
		{ show_file "$T/bad.err"; fail "collect: no message naming the recorded command line"; }
	RC=0
	timeout 30 "$PARADE" resume cancelme >"$T/bad.out" 2>"$T/bad.err" || RC=$?
	expect_rc 2 "resume of an old journal whose command line does not parse" "$T/bad.err"
	grep -q "^parade: error: session cancelme: its recorded command line no longer parses" "$T/bad.err" ||
		{ show_file "$T/bad.err"; fail "resume: no message naming the recorded command line"; }

	# recorded when --output-limit took up to 1 GiB: collect and resume
	# take it as today's maximum with a warning (they refused: "its
	# recorded command line no longer parses")
	argv=$(printf '%s' "$argv" | sed 's/"--workers"/"--output-limit","1073741824","--max-frame","4294967295","--workers"/')
	case $argv in *'"1073741824"'*) ;; *) fail "could not put --output-limit into argv: $argv" ;; esac
	sqlite3 "$J" "UPDATE meta SET value = '$(printf '%s' "$argv" | sed "s/'/''/g")' WHERE key = 'argv'" ||
		fail "sqlite3 could not edit the journal"
	warning="^parade: warning: session cancelme: its recorded --output-limit 1073741824 is more than the maximum, 67108864 bytes"
	RC=0
	timeout 30 "$PARADE" collect cancelme >"$T/gib.out" 2>"$T/gib.err" || RC=$?
	expect_rc 0 "collect on an old journal recorded with --output-limit 1073741824" "$T/gib.err"
	grep -q "$warning" "$T/gib.err" || { show_file "$T/gib.err"; fail "collect: no warning of the recorded --output-limit"; }
	[ "$(($(wc -l <"$T/gib.out") - 1))" -eq 10 ] || { show_file "$T/gib.out"; fail "collect: not 10 rows"; }
	touch "$T/never"
	RC=0
	timeout 30 "$PARADE" resume cancelme >"$T/resume.out" 2>"$T/resume.err" || RC=$?
	expect_rc 0 "resume of a session recorded with --output-limit 1073741824" "$T/resume.err"
	grep -q "$warning" "$T/resume.err" || { show_file "$T/resume.err"; fail "resume: no warning of the recorded --output-limit"; }
	RC=0
	timeout 60 "$PARADE" wait cancelme 2>"$T/wait.err" || RC=$?
	expect_rc 0 "parade wait cancelme after resume" "$T/wait.err"
	RC=0
	timeout 30 "$PARADE" collect cancelme >"$T/gib.out" 2>"$T/gib.err" || RC=$?
	expect_rc 0 "collect after resume" "$T/gib.err"
	rows=$(($(wc -l <"$T/gib.out") - 1))
	[ "$rows" -eq $N ] || { show_file "$T/gib.out"; fail "after resume: $rows rows, expected $N"; }
	sort -t, -k1,1n "$T/gib.out" | awk -F, 'NR > 1 && ($2 != "ok" || $6 != $1) { print; bad = 1 } END { exit bad }' ||
		fail "after resume: a row is not ok or y is not x"
else
	echo "SKIP: $TEST_NAME: part: no sqlite3 program to make an old-style journal" >&2
fi
assert_no_procs
