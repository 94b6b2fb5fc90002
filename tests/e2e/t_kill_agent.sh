#!/bin/bash
# t_kill_agent.sh - an agent killed with SIGKILL in the middle of a run:
# its tasks are run again elsewhere and the table still has every row
# exactly once, all ok.
. "$(dirname "$0")/lib.sh"

N=300
cat >"$T/task.sh" <<EOF2
#!/bin/sh
sleep 0.03
echo "\$1" >>"$T/progress"
echo "row=\$1"
EOF2
chmod +x "$T/task.sh"
: >"$T/progress"
seq 1 $N >"$T/in"

timeout -k 5 60 "$PARADE" run --workers 2 -- "$T/task.sh" {#} <"$T/in" >"$T/out.csv" 2>"$T/err" &
pid=$!

progress() { [ "$(wc -l <"$T/progress")" -ge "$1" ]; }
wait_for 30 progress $((N / 3)) || fail "fewer than $((N / 3)) tasks done after 30 s"
find_procs_cmd parade-agent
[ ${#PIDS[@]} -eq 2 ] || fail "${#PIDS[@]} parade-agent processes running, expected 2"
victim=${PIDS[0]}
kill -9 "$victim" || fail "cannot kill agent $victim"
done_at_kill=$(wc -l <"$T/progress")
info "killed agent $victim after $done_at_kill tasks"
[ "$done_at_kill" -lt $N ] || fail "the run was over before the agent was killed"

wait_pid "$pid" 60 || fail "parade run did not finish"
expect_rc 0 "parade run after an agent was killed" "$T/err"
is_alive "$victim" && fail "killed agent $victim still alive"

csv_flat "$T/out.csv" >"$T/flat" || fail "output is not valid CSV"
[ "$(head -n 1 "$T/flat")" = "$(printf 'input\037status\037exit_code\037seconds\037agent\037stdout\037error')" ] ||
	fail "unexpected header $(head -n 1 "$T/out.csv")"
rows=$(($(wc -l <"$T/flat") - 1))
[ "$rows" -eq $N ] || fail "$rows rows, expected $N"
bad=$(tail -n +2 "$T/flat" | awk -F'\037' '
	$1 != NR { print "row " NR " has input " $1; exit }
	$2 != "ok" { print "row " NR " status " $2 " error " $7; exit }
	$6 != "row=" NR { print "row " NR " stdout " $6; exit }')
[ -z "$bad" ] || fail "$bad"
dups=$(tail -n +2 "$T/flat" | cut -d $'\037' -f1 | sort | uniq -d | head -n 3)
[ -z "$dups" ] || fail "rows listed twice: $dups"
grep -q "lost" "$T/err" && info "controller: $(grep -m1 lost "$T/err")"

assert_no_procs
info "$N rows once each, all ok"
