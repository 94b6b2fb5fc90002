#!/bin/bash
# t_session_rm.sh - `parade rm`: a session a controller serves is refused
# (named, with the way out), finished and stopped ones go with their
# journal and logs, an unknown or invalid name is an error that does not
# stop the other removals, and usage errors exit 2.
. "$(dirname "$0")/lib.sh"

S=$PARADE_HOME/sessions
listed() { timeout 10 "$PARADE" status 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qx "$1"; }

RC=0
timeout 10 "$PARADE" rm >/dev/null 2>"$T/u.err" || RC=$?
expect_rc 2 "parade rm without a name" "$T/u.err"
grep -q "^usage: parade rm NAME" "$T/u.err" || { show_file "$T/u.err"; fail "no usage line"; }
RC=0
timeout 10 "$PARADE" rm --force x >/dev/null 2>"$T/u.err" || RC=$?
expect_rc 2 "parade rm --force" "$T/u.err"

# a finished session
RC=0
seq 1 5 | timeout 30 "$PARADE" submit --name done --workers 1 -- echo {} >/dev/null 2>"$T/s1.err" || RC=$?
expect_rc 0 "submit done" "$T/s1.err"
timeout 30 "$PARADE" wait done || fail "session done did not end ok"
[ -s "$S/done/journal.db" ] || fail "no journal in $S/done"
# a live one
RC=0
seq 1 3 | timeout 30 "$PARADE" submit --name live --workers 1 -- sleep 30 >/dev/null 2>"$T/s2.err" || RC=$?
expect_rc 0 "submit live" "$T/s2.err"

RC=0
timeout 10 "$PARADE" rm live >"$T/r1.out" 2>"$T/r1.err" || RC=$?
expect_rc 1 "parade rm of a live session" "$T/r1.err"
grep -q "^parade: error: session live is already served by pid [0-9]* on host .*: stop it first (parade stop live)\$" "$T/r1.err" ||
	{ show_file "$T/r1.err"; fail "rm of a live session does not say who serves it and what to do"; }
[ -d "$S/live" ] && listed live || fail "rm of a live session removed something"
timeout 10 "$PARADE" status live --json | grep -q '"state":"running"' || fail "the live session was disturbed by rm"

RC=0
timeout 60 "$PARADE" stop live --cancel >"$T/stop.out" 2>&1 || RC=$?
expect_rc 0 "parade stop live --cancel" "$T/stop.out"

# several names: the unknown and the invalid ones are errors, the rest go
RC=0
timeout 10 "$PARADE" rm done nosuch ../x live >"$T/r2.out" 2>"$T/r2.err" || RC=$?
expect_rc 1 "parade rm done nosuch ../x live" "$T/r2.err"
grep -q "no session named 'nosuch'" "$T/r2.err" || { show_file "$T/r2.err"; fail "no error for nosuch"; }
grep -q "invalid session name '../x'" "$T/r2.err" || { show_file "$T/r2.err"; fail "no error for ../x"; }
[ "$(wc -l <"$T/r2.err")" -eq 2 ] || { show_file "$T/r2.err"; fail "expected exactly two errors"; }
[ ! -e "$S/done" ] || fail "$S/done is still there"
[ ! -e "$S/live" ] || fail "$S/live is still there"
! listed done && ! listed live || fail "status still lists a removed session"
[ -d "$PARADE_HOME/sessions" ] || fail "rm took the sessions folder with it"
RC=0
timeout 10 "$PARADE" collect done >/dev/null 2>"$T/c.err" || RC=$?
[ "$RC" -ne 0 ] && grep -q "no session named 'done'" "$T/c.err" || fail "collect of a removed session"

assert_no_procs 5
info "rm: live refused, finished and stopped removed, bad names reported"
