#!/bin/bash
# t_homefs_network.sh - PARADE_HOME on a network file system, declared with
# the documented setting PARADE_HOME_FS=network (a real network mount:
# t_homefs_sshfs.sh). A session's live files (connection file, lock,
# journal, sockets) go to a runtime folder on the controller's host; the
# home keeps a pointer, the home's lock and a copy of the journal.
# "Another host" is a UTS+mount namespace with its own host name and a
# private /tmp (root only; that part SKIPs loudly otherwise): there
# status/collect/wait/stop/scale/resume of a running session exit 2
# (rm 1, its status for a session not removed) with "runs on host H ... run this command on H"; once it ended, status
# and collect read the copy; a session whose controller was killed and
# whose host lost its runtime folder is resumed there from the copy, and
# every row is recorded exactly once. A bad setting is named; =local keeps
# today's layout.
. "$(dirname "$0")/lib.sh"

export PARADE_HOME=$T/home PARADE_HOME_FS=network XDG_RUNTIME_DIR=$T/run
mkdir -m 700 "$PARADE_HOME" "$XDG_RUNTIME_DIR"
HOST=$(hostname)
H=$PARADE_HOME/sessions

OTHER=1
other_host_ok || {
	echo "SKIP: $TEST_NAME: part: 'another host' needs root and unshare --uts --mount; those checks did not run" >&2
	OTHER=
}

# ---- a bad setting is named ----
RC=0
PARADE_HOME_FS=nfs "$PARADE" submit --name bad -- true >/dev/null 2>"$T/bad.err" <<<"x" || RC=$?
expect_rc 2 "submit with PARADE_HOME_FS=nfs" "$T/bad.err"
grep -qF "PARADE_HOME_FS='nfs': use auto, local or network" "$T/bad.err" ||
	{ show_file "$T/bad.err"; fail "a bad PARADE_HOME_FS is not named"; }
[ ! -e "$H/bad" ] || fail "a session folder was left by the refused submit"

# ---- a runtime base others may write is refused, with the way out ----
mkdir -p "$T/badrun/parade"
chmod 777 "$T/badrun/parade"
RC=0
XDG_RUNTIME_DIR=$T/badrun "$PARADE" submit --name badrt -- true >/dev/null 2>"$T/badrt.err" <<<"x" || RC=$?
expect_rc 2 "submit with a runtime base of mode 0777" "$T/badrt.err"
grep -qF "XDG_RUNTIME_DIR=DIR puts them in DIR/parade" "$T/badrt.err" ||
	{ show_file "$T/badrt.err"; fail "a runtime base others may write is not refused with the way out"; }
[ ! -e "$H/badrt" ] && [ -z "$(ls -A "$T/badrun/parade")" ] || fail "the refused submit left a session folder"

# ---- =local: today's layout ----
RC=0
seq 1 3 | PARADE_HOME_FS=local timeout 30 "$PARADE" submit --name loc --workers 1 -- echo {} >/dev/null 2>"$T/loc.err" || RC=$?
expect_rc 0 "submit with PARADE_HOME_FS=local" "$T/loc.err"
RC=0
timeout 30 "$PARADE" wait loc 2>>"$T/loc.err" || RC=$?
expect_rc 0 "wait loc" "$T/loc.err"
[ -f "$H/loc/journal.db" ] && [ ! -e "$H/loc/runtime" ] && [ -z "$(ls -A "$XDG_RUNTIME_DIR")" ] ||
	fail "PARADE_HOME_FS=local: not today's layout: $(ls -A "$H/loc" "$XDG_RUNTIME_DIR" | tr '\n' ' ')"

# ---- a running session: its live files on this host, a pointer in the home ----
N=40
RC=0
seq 1 $N | timeout 30 "$PARADE" submit --name net --workers 2 -- sh -c 'sleep 0.4; echo "v=$1"' sh {} \
	>/dev/null 2>"$T/net.err" || RC=$?
expect_rc 0 "submit net" "$T/net.err"
[ -f "$H/net/runtime" ] || fail "no pointer $H/net/runtime"
grep -qx "host=$HOST" "$H/net/runtime" || { show_file "$H/net/runtime"; fail "the pointer does not name host $HOST"; }
R=$(sed -n 's/^dir=//p' "$H/net/runtime")
case $R in "$XDG_RUNTIME_DIR"/parade/net-??????) ;; *) fail "runtime folder '$R' is not under $XDG_RUNTIME_DIR/parade" ;; esac
grep -qF "PARADE_HOME is on a network file system: session net lives in $R on this host" "$R/controller.log" ||
	{ show_file "$R/controller.log"; fail "the controller does not say where the session lives"; }
[ "$(stat -c %a "$R")" = 700 ] || fail "runtime folder $R is not 0700"
for f in connection journal.db control.sock lock; do
	[ -e "$R/$f" ] || fail "no $f in the runtime folder $R ($(ls -A "$R" | tr '\n' ' '))"
done
for f in connection control.sock agents.sock journal.db-wal; do
	[ ! -e "$H/net/$f" ] || fail "$f is in the network home ($H/net), not only on this host"
done
RC=0
timeout 20 "$PARADE" status net >"$T/st.out" 2>"$T/st.err" || RC=$?
expect_rc 0 "status net on its host" "$T/st.err"
grep -q "^session net: running (controller pid [0-9]* on $HOST" "$T/st.out" ||
	{ show_file "$T/st.out"; fail "status on the controller's host does not ask the controller"; }

if [ -n "$OTHER" ]; then
	for cmd in "status net" "collect net" "wait net" "stop net" "scale net 3" "resume net" "rm net"; do
		RC=0
		# shellcheck disable=SC2086
		timeout 30 "${OTHER_HOST[@]}" "$PARADE" $cmd >"$T/o.out" 2>"$T/o.err" || RC=$?
		# rm's exit status for a session it did not remove is 1
		expect_rc "$([ "$cmd" = "rm net" ] && echo 1 || echo 2)" "'parade $cmd' on another host" "$T/o.err"
		grep -qF "parade: error: session net runs on host $HOST (its controller and live files are there, in $R): run this command on $HOST" "$T/o.err" ||
			{ show_file "$T/o.err"; fail "'parade $cmd' on another host does not say where to run it"; }
	done
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" status >"$T/o.out" 2>"$T/o.err" || RC=$?
	expect_rc 0 "status (the list) on another host" "$T/o.err"
	grep -qE "^net +elsewhere +\(runs on host $HOST: ask there\)" "$T/o.out" ||
		{ show_file "$T/o.out"; fail "the list on another host does not say where net runs"; }
	[ -e "$R/control.sock" ] || fail "a command on another host disturbed the session"
fi

RC=0
timeout 60 "$PARADE" wait net 2>"$T/wait.err" || RC=$?
expect_rc 0 "wait net" "$T/wait.err"
grep -qF "session net finished: $N of $N tasks done ($N ok" "$T/wait.err" ||
	{ show_file "$T/wait.err"; fail "wait does not report the end from the home's copy"; }
# ended: the session left this host; the home holds it whole
[ ! -e "$R" ] || fail "the runtime folder $R outlived its controller"
[ ! -e "$H/net/runtime" ] || fail "the pointer outlived the controller"
[ -f "$H/net/journal.db" ] || fail "no copy of the journal in the home"
[ -f "$H/net/controller.log" ] || fail "the controller's log was not kept in the home"
[ "$(stat -c %a "$H/net/journal.db")" = 600 ] || fail "the journal's copy is not 0600"

check_rows() { # FILE N: N rows, in order, each ok once with v=ROW
	bad=$(csv_flat "$1" | tail -n +2 | awk -F'\037' -v n="$2" '
		$1 != NR || $2 != "ok" || $6 != "v=" NR { print "row " NR ": " $0; exit }
		END { if (NR != n) print NR " rows, expected " n }')
	[ -z "$bad" ] || { show_file "$1" 50; fail "$1: $bad"; }
}
if [ -n "$OTHER" ]; then
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" status net >"$T/o.out" 2>"$T/o.err" || RC=$?
	expect_rc 0 "status net on another host after the end" "$T/o.err"
	grep -q "^session net: finished (no controller running)" "$T/o.out" ||
		{ show_file "$T/o.out"; fail "status on another host does not read the copy"; }
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" collect net >"$T/o.csv" 2>"$T/o.err" || RC=$?
	expect_rc 0 "collect net on another host after the end" "$T/o.err"
	check_rows "$T/o.csv" $N
fi
RC=0
timeout 30 "$PARADE" collect net >"$T/net.csv" 2>"$T/c.err" || RC=$?
expect_rc 0 "collect net on its host after the end" "$T/c.err"
check_rows "$T/net.csv" $N

# ---- a crash that takes the runtime folder with it ----
N=60
RC=0
seq 1 $N | timeout 30 "$PARADE" submit --name crash --workers 2 -- sh -c 'sleep 0.6; echo "v=$1"' sh {} \
	>/dev/null 2>"$T/crash.err" || RC=$?
expect_rc 0 "submit crash" "$T/crash.err"
R=$(sed -n 's/^dir=//p' "$H/crash/runtime")
# the heartbeat copies the journal into the home every 10 s
wait_for 20 test -f "$H/crash/journal.db" || fail "no copy of the journal in the home after 20 s"
ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$R/lock")
[ -n "$ctl" ] && kill -9 "$ctl" || fail "no controller pid in $R/lock"
wait_for 10 eval '! is_alive '"$ctl" || fail "controller $ctl survived kill -9"
# the host went down: its agents (which would wait 30 s for a controller)
# and its /tmp with it
find_procs
[ ${#PIDS[@]} -eq 0 ] || kill -9 "${PIDS[@]}"
wait_for 10 no_procs_left || fail "could not end the crashed session's agents"
rm -rf -- "$R"

if [ -n "$OTHER" ]; then
	# a pointer younger than 35 s may be a live controller's whose lock
	# does not cross hosts: the other host waits; here it is made as old
	# as it would be a minute later
	touch -d '-60 seconds' "$H/crash/runtime"
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" status crash >"$T/o.out" 2>"$T/o.err" || RC=$?
	expect_rc 0 "status crash on another host" "$T/o.err"
	grep -q "^session crash: dead" "$T/o.out" || { show_file "$T/o.out"; fail "a crashed session is not 'dead' on another host"; }
	# resume there, wait for its end and collect, all on the other host
	# (whose /tmp is its own: the script and the table go through the home)
	cat >"$PARADE_HOME/takeover.sh" <<EOF
"$PARADE" resume crash || exit 10
"$PARADE" wait crash || exit 11
grep -q "^host=parade-other-host\$" "$H/crash/runtime" 2>/dev/null && exit 12
"$PARADE" collect crash >"$PARADE_HOME/crash.csv" || exit 13
EOF
	RC=0
	timeout 90 "${OTHER_HOST[@]}" bash "$PARADE_HOME/takeover.sh" 2>"$T/o.err" || RC=$?
	expect_rc 0 "resume, wait and collect on another host" "$T/o.err"
	check_rows "$PARADE_HOME/crash.csv" $N
else
	RC=0
	timeout 30 "$PARADE" resume crash 2>"$T/o.err" || RC=$?
	expect_rc 0 "resume crash (its runtime folder gone)" "$T/o.err"
	RC=0
	timeout 60 "$PARADE" wait crash 2>>"$T/o.err" || RC=$?
	expect_rc 0 "wait crash" "$T/o.err"
	RC=0
	timeout 30 "$PARADE" collect crash >"$T/crash.csv" 2>>"$T/o.err" || RC=$?
	expect_rc 0 "collect crash" "$T/o.err"
	check_rows "$T/crash.csv" $N
fi
# back here: the session ended elsewhere, its copy is whole
RC=0
timeout 30 "$PARADE" status crash >"$T/st.out" 2>"$T/st.err" || RC=$?
expect_rc 0 "status crash here after the takeover" "$T/st.err"
grep -q "^session crash: finished" "$T/st.out" || { show_file "$T/st.out"; fail "the copy in the home is not the ended session's"; }

RC=0
timeout 30 "$PARADE" rm net 2>"$T/rm.err" || RC=$?
expect_rc 0 "rm net" "$T/rm.err"
[ ! -e "$H/net" ] || fail "rm net left $H/net"
[ -z "$(ls -A "$XDG_RUNTIME_DIR/parade" 2>/dev/null)" ] || fail "runtime folders left: $(ls -A "$XDG_RUNTIME_DIR/parade")"
assert_no_procs
