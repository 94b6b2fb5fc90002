#!/bin/bash
# t_forge_resumed.sh - in a resumed session the controller cannot tell who
# held the attempts of a task its journal does not mention, and ignores a
# result it cannot place; but a result for a task another agent holds right
# now is a forgery whatever the journal says: the fake agent that sends one
# is dropped (it was only ignored before). The run then ends with every row
# once, ok, and nothing forged in the table.
# First life: one slot (plus a prefetch of 2) holds at most tasks 0-3, so
# rows 5 and 6 are never handed out; second life: 4 slots (+2) hold all
# five tasks left, and the fake reports task 5 (row 6).
. "$(dirname "$0")/lib.sh"

FAKE=$top_builddir/tests/hostile/fake_agent
[ -x "$FAKE" ] || fail "$FAKE is missing ('make check' builds it)"

printf 'id\n1\n2\n3\n4\n5\n6\n' >"$T/grid.csv"
cat >"$T/task.sh" <<EOF
#!/bin/sh
: >"$T/started.\$1"
[ "\$1" = 1 ] && exit 0
while [ ! -e "$T/go" ]; do sleep 0.05; done
EOF
chmod +x "$T/task.sh"

# first life: one slot runs row 1, then row 2 waits
timeout -k 5 60 "$PARADE" run --name S --keep-session --listen tls+tcp://127.0.0.1:0 --launch none \
	--grid "$T/grid.csv" -o "$T/out.csv" -- "$T/task.sh" {id} 2>"$T/err1" &
ppid_=$!
wait_endpoint S "$T/err1"
"$AGENT" --connect "$conn" --id real-1 --slots 1 2>"$T/a1.err" &
a1=$!
wait_for 15 test -e "$T/started.2" || {
	show_file "$T/err1"
	fail "row 2 did not start"
}
sleep 1 # its hand-out reaches the journal
ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$T/sessions/S/lock")
[ -n "$ctl" ] && is_alive "$ctl" || fail "no live controller pid in the lock file"
kill -9 "$ctl"
wait_for 10 eval '! is_alive '"$ctl" || fail "controller $ctl survived kill -9"
wait_pid "$ppid_" 10 || fail "parade run did not end after its controller was killed"
kill -TERM "$a1"
wait_pid "$a1" 15 || fail "agent real-1 did not leave"
wait_for 10 flock -n -s "$T/sessions/S/lock" true || fail "the session lock outlived the controller"
rm -f "$conn" "$T"/started.*

# second life: real-2 holds rows 2-6; row 6 has no attempt in the journal
# (debug: the reason an agent left is a debug line)
PARADE_DEBUG=1 timeout -k 5 60 "$PARADE" resume --foreground S >"$T/resume.out" 2>"$T/err2" &
rpid=$!
wait_endpoint S "$T/err2"
"$AGENT" --connect "$conn" --id real-2 --slots 4 2>"$T/a2.err" &
a2=$!
four_started() { [ "$(find "$T" -maxdepth 1 -name 'started.*' | wc -l)" -ge 4 ]; }
wait_for 15 four_started || {
	show_file "$T/err2"
	fail "real-2 did not start 4 rows after the resume"
}

"$FAKE" --connect "$conn" --forge-task 5 >"$T/fake.out" 2>"$T/fake.err"
frc=$?
info "fake agent: $(cat "$T/fake.out") (exit $frc)"
touch "$T/go"
wait_pid "$rpid" 30 || fail "the resumed run did not finish in 30 s"
prc=$RC
wait_pid "$a2" 15 || fail "agent real-2 did not leave after the run"
[ "$frc" = 0 ] || {
	show_file "$T/err2" 60
	fail "a result for task 5, which real-2 holds, from another agent was not dropped"
}
[ "$prc" = 0 ] || {
	show_file "$T/err2" 60
	fail "parade resume exited $prc"
}
grep -q 'which agent real-2 holds' "$T/err2" || {
	show_file "$T/err2" 60
	fail "the controller did not say why it dropped the forger"
}
timeout 30 "$PARADE" collect S >"$T/final.csv" 2>"$T/collect.err" || {
	show_file "$T/collect.err"
	fail "parade collect S failed"
}
rows=$(csv_flat "$T/final.csv" | tail -n +2 | wc -l)
[ "$rows" = 6 ] || {
	show_file "$T/final.csv"
	fail "$rows rows in the table, expected 6"
}
if grep -q forged "$T/final.csv"; then
	show_file "$T/final.csv"
	fail "the forged result reached the table"
fi
exit 0
