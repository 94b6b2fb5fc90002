#!/bin/bash
# t_status_damaged.sh - a damaged journal is never "no journal" or
# "0 total": status, status --json, wait and collect say the journal
# cannot be read, name the file and SQLite's complaint, and exit 2; the
# session list shows it as damaged. Two kinds of damage: a file that is not
# SQLite at all, and a real journal with a page overwritten.
. "$(dirname "$0")/lib.sh"

seq 1 300 | awk 'BEGIN { print "x" } { print }' >"$T/grid.csv"
RC=0
timeout 30 "$PARADE" submit --name hurt --workers 2 --grid "$T/grid.csv" \
	-- sh -c 'printf "y=%s %0200d\n" "$1" 0' sh {x} >/dev/null 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
RC=0
timeout 60 "$PARADE" wait hurt 2>"$T/wait0.err" || RC=$?
expect_rc 0 "parade wait on the healthy session" "$T/wait0.err"
db=$PARADE_HOME/sessions/hurt/journal.db
cp "$db" "$T/good.db"

check_damaged() { # WHAT WORDS: every reader says the journal cannot be read
	local what=$1 words=$2 cmd
	for cmd in "status hurt" "status hurt --json" "wait hurt" "collect hurt"; do
		RC=0
		# shellcheck disable=SC2086
		timeout 30 "$PARADE" $cmd >"$T/out" 2>"$T/err" || RC=$?
		expect_rc 2 "$what: parade $cmd" "$T/err"
		grep -q "$db" "$T/err" || { show_file "$T/err"; fail "$what: parade $cmd does not name $db"; }
		grep -Eqi "$words" "$T/err" || { show_file "$T/err"; fail "$what: parade $cmd does not say '$words'"; }
		if grep -Eq "no journal|0 total" "$T/out" "$T/err"; then
			show_file "$T/out"
			fail "$what: parade $cmd calls a damaged journal 'no journal' or '0 total'"
		fi
	done
	timeout 30 "$PARADE" status >"$T/list" 2>&1 || true
	grep -Eq '^hurt +damaged' "$T/list" || { show_file "$T/list"; fail "$what: the session list does not show hurt as damaged"; }
}

# 1: not SQLite at all
head -c 65536 /dev/urandom >"$db"
rm -f "$db-wal" "$db-shm"
check_damaged "random bytes" "not a database"

# 2: a real journal whose pages in the middle are overwritten (the first
# page, the schema, stays whole)
cp "$T/good.db" "$db"
size=$(stat -c %s "$db")
[ "$size" -ge 16384 ] || fail "the journal is only $size bytes; the test needs a few pages"
head -c $((size - 4096)) /dev/urandom | dd of="$db" bs=4096 seek=1 conv=notrunc status=none
check_damaged "overwritten pages" "malformed|not a database|corrupt|does not decode"

# a whole journal again: status is fine
cp "$T/good.db" "$db"
RC=0
timeout 30 "$PARADE" status hurt >"$T/out" 2>&1 || RC=$?
expect_rc 0 "status on the restored journal" "$T/out"
grep -q "300 total, 300 done" "$T/out" || { show_file "$T/out"; fail "status on the restored journal"; }
assert_no_procs
