#!/bin/bash
# t_session_resume.sh - kill -9 of a session's controller in mid-run, then
# `parade resume`: rows finished before the crash are not run again, the
# final table has every row exactly once; two resumes at once: one wins,
# the other names the winner.
. "$(dirname "$0")/lib.sh"

N=400
cat >"$T/task.sh" <<EOF2
#!/bin/sh
echo "\$1" >>"$T/runs"
sleep 0.02
echo "v=\$1"
EOF2
chmod +x "$T/task.sh"
: >"$T/runs"
seq 1 $N >"$T/in"

RC=0
timeout 30 "$PARADE" submit --name crash --workers 2 -- "$T/task.sh" {} <"$T/in" >"$T/name" 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"
runs() { [ "$(wc -l <"$T/runs")" -ge "$1" ]; }
wait_for 60 runs $((N / 4)) || fail "fewer than $((N / 4)) tasks ran in 60 s"

find_procs_cmd parade-agent
agents_before=("${PIDS[@]}")
[ ${#agents_before[@]} -eq 2 ] || fail "${#agents_before[@]} agents before the crash, expected 2"
ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$PARADE_HOME/sessions/crash/lock")
[ -n "$ctl" ] && is_alive "$ctl" || fail "no live controller pid in the lock file"
kill -9 "$ctl"
# gone for good, not just a zombie leader: its other threads (nanomsg's)
# hold the session lock until they have exited too
wait_for 10 eval '! is_alive '"$ctl" || fail "controller $ctl survived kill -9"
wait_for 10 flock -n -s "$PARADE_HOME/sessions/crash/lock" true || fail "the session lock outlived the controller"
info "controller $ctl killed after $(wc -l <"$T/runs") runs"

# the dead session: status says so, collect reads the journal
timeout 30 "$PARADE" status crash >"$T/dead" 2>&1
grep -q "session crash: dead" "$T/dead" || { show_file "$T/dead"; fail "status of a dead session does not say dead"; }
timeout 30 "$PARADE" collect crash --unordered >"$T/before.csv" 2>"$T/before.err" ||
	{ show_file "$T/before.err"; fail "collect after the crash failed"; }
csv_flat "$T/before.csv" | tail -n +2 | cut -d $'\037' -f1 | sort -n >"$T/before"
nb=$(wc -l <"$T/before")
info "$nb rows were durable before the crash"
[ "$nb" -gt 0 ] || fail "nothing was recorded before the crash"
[ "$nb" -lt $N ] || fail "the run was over before the crash"

# two resumes at once: exactly one wins
timeout 30 "$PARADE" resume crash >"$T/r1.out" 2>"$T/r1.err" &
p1=$!
timeout 30 "$PARADE" resume crash >"$T/r2.out" 2>"$T/r2.err" &
p2=$!
wait_pid "$p1" 30 || fail "resume 1 did not return"
rc1=$RC
wait_pid "$p2" 30 || fail "resume 2 did not return"
rc2=$RC
info "resume exit codes: $rc1 $rc2"
if [ "$rc1" = 0 ] && [ "$rc2" != 0 ]; then
	loser=$T/r2.err
elif [ "$rc2" = 0 ] && [ "$rc1" != 0 ]; then
	loser=$T/r1.err
else
	show_file "$T/r1.err"
	show_file "$T/r2.err"
	fail "two resumes: exit codes $rc1 and $rc2, expected one 0 and one failure"
fi
grep -q "session crash is already served by pid [0-9]* on host" "$loser" ||
	{ show_file "$loser"; fail "the losing resume does not name the running controller"; }

# the agents outlived the crash and rejoin the new controller
for a in "${agents_before[@]}"; do
	is_alive "$a" || fail "agent $a did not survive the controller's crash"
done
rejoined() {
	local j a
	j=$(timeout 10 "$PARADE" status crash --json --agents 2>/dev/null) || return 1
	for a in "${agents_before[@]}"; do
		case $j in *"\"pid\":$a,"*) ;; *) return 1 ;; esac
	done
}
wait_for 30 rejoined || info "the old agents did not show up in the new controller's agent list (the run may have ended first)"
if ! rejoined && timeout 10 "$PARADE" status crash 2>/dev/null | grep -q running; then
	fail "agents ${agents_before[*]} did not rejoin the resumed controller"
fi

RC=0
timeout 120 "$PARADE" collect crash --wait >"$T/final.csv" 2>"$T/final.err" || RC=$?
expect_rc 0 "collect --wait after resume" "$T/final.err"
csv_flat "$T/final.csv" >"$T/flat" || fail "final table is not valid CSV"
rows=$(($(wc -l <"$T/flat") - 1))
[ "$rows" -eq $N ] || fail "$rows rows, expected $N"
bad=$(tail -n +2 "$T/flat" | awk -F'\037' '
	$1 != NR { print "row " NR " has input " $1; exit }
	$2 != "ok" { print "row " NR " status " $2 " error " $7; exit }
	$6 != "v=" NR { print "row " NR " stdout " $6; exit }')
[ -z "$bad" ] || fail "$bad"
# rows durable before the crash ran exactly once
sort -n "$T/runs" | uniq -c | awk '{ print $2, $1 }' >"$T/counts"
again=$(awk 'NR == FNR { seen[$1] = 1; next } ($1 in seen) && $2 != 1 { print $1 " ran " $2 " times" }' \
	"$T/before" "$T/counts" | head -n 3)
[ -z "$again" ] || fail "rows finished before the crash ran again: $again"
missing=$(seq 1 $N | awk 'NR == FNR { c[$1] = 1; next } !($1 in c)' "$T/counts" - | head -n 3)
[ -z "$missing" ] || fail "rows never ran: $missing"
info "re-run after the crash: $(awk '$2 > 1' "$T/counts" | wc -l) row(s) that were in flight"

assert_no_procs 5
info "$N rows once each across a controller crash"

# ---- a failure that comes late does not decide the row ----
# The task's first run waits for $T/go, then fails; the controller is
# killed while it waits. The agent keeps the failure (attempt 1) and hands
# it to the resumed controller, which has requeued the task as attempt 2:
# that run succeeds, and it is the row's result.
cat >"$T/late.sh" <<EOF2
#!/bin/sh
if [ -e "$T/late.ran" ]; then echo second >>"$T/late.ran"; echo "v=ok"; exit 0; fi
echo first >"$T/late.ran"
i=0
while [ ! -e "$T/go" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
echo "failing on purpose" >&2
exit 1
EOF2
chmod +x "$T/late.sh"
RC=0
echo 1 | timeout 30 "$PARADE" submit --name late --workers 1 -- "$T/late.sh" >/dev/null 2>"$T/l.err" || RC=$?
expect_rc 0 "parade submit (late)" "$T/l.err"
wait_for 20 test -e "$T/late.ran" || fail "the late task did not start"
find_procs_cmd parade-agent
[ ${#PIDS[@]} -eq 1 ] || fail "${#PIDS[@]} agents for the late session, expected 1"
lagent=${PIDS[0]}
ctl=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$PARADE_HOME/sessions/late/lock")
[ -n "$ctl" ] && kill -9 "$ctl" || fail "no controller pid for the late session"
wait_for 10 eval '! is_alive '"$ctl" || fail "controller $ctl survived kill -9"
wait_for 10 flock -n -s "$PARADE_HOME/sessions/late/lock" true || fail "the late session's lock outlived its controller"
touch "$T/go"
# the failure is now sitting in the agent, unsent
sleep 0.5
is_alive "$lagent" || fail "the late session's agent did not outlive its controller"
RC=0
timeout 30 "$PARADE" resume late >/dev/null 2>"$T/lr.err" || RC=$?
expect_rc 0 "parade resume late" "$T/lr.err"
RC=0
timeout 60 "$PARADE" collect late --wait >"$T/late.csv" 2>"$T/lc.err" || RC=$?
expect_rc 0 "collect --wait (late)" "$T/lc.err"
bad=$(csv_flat "$T/late.csv" | tail -n +2 | awk -F'\037' '
	$2 != "ok" || $6 != "v=ok" { print "status " $2 ", stdout " $6 ", error " $7 }
	END { if (NR != 1) print NR " rows, expected 1" }')
[ -z "$bad" ] || { show_file "$T/late.csv"; fail "late failure: $bad"; }
[ "$(grep -c second "$T/late.ran")" -eq 1 ] || fail "the task did not run a second time"
timeout 30 "$PARADE" wait late >/dev/null 2>&1
assert_no_procs 5
info "a failure reported after the crash was not taken: attempt 2 ran, the row is ok"
