#!/bin/bash
# t_disk_full.sh - a PARADE_HOME that runs out of space loses no result.
# On a real 2 MiB tmpfs (in a private mount namespace; as non-root in a
# user namespace, or a loud SKIP where that is not allowed) a session's
# disk is filled while its tasks run. Then: status shows the journal's
# error and exits 1, wait and collect --wait exit 2 naming it, no new task
# is handed out (tasks stay queued); once the filler is removed the session
# goes on by itself, and the table has every row once, each with its own
# output (400 of 400, checked row by row).
if [ -z "${PD_DISK_FULL_NS:-}" ]; then
	export PD_DISK_FULL_NS=1
	if [ "$(id -u)" -eq 0 ]; then
		how=(unshare -m --propagation private)
	else
		how=(unshare -r -m --propagation private)
	fi
	if ! "${how[@]}" true 2>/dev/null; then
		echo "SKIP: t_disk_full: '${how[*]}' is not allowed here (needs root or user namespaces); the full-disk test did not run" >&2
		exit 77
	fi
	exec "${how[@]}" bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

FS=$T/fs
mkdir "$FS" || fail "mkdir $FS"
if ! mount -t tmpfs -o size=2m,mode=0700 tmpfs "$FS" 2>"$T/mount.err"; then
	show_file "$T/mount.err"
	skip "cannot mount a tmpfs here; the full-disk test did not run"
fi
# the mount goes before lib's cleanup removes $T
on_exit() {
	local rc=$?
	umount -l "$FS" 2>/dev/null
	(exit $rc)
	cleanup
}
trap on_exit EXIT
export PARADE_HOME=$FS

N=400
{
	echo x
	seq 1 $N
} >"$T/grid.csv"
mkdir "$T/ran"
# each task notes that it ran (outside the small disk, one line a run),
# waits for the gate, then prints about 1 KiB that names it
RC=0
timeout 30 "$PARADE" submit --name full --workers 2 --grid "$T/grid.csv" \
	-- sh -c 'echo >>"$3/$1"; while [ ! -e "$2" ]; do sleep 0.02; done; printf "x=%s %01000d\n" "$1" 0' \
	sh {x} "$T/gate" "$T/ran" >/dev/null 2>"$T/submit.err" || RC=$?
expect_rc 0 "parade submit" "$T/submit.err"

# the first tasks are out (their hand-outs committed); results still to come
started() { [ "$(ls "$T/ran" | wc -l)" -ge 2 ]; }
wait_for 30 started || fail "no task started"
sleep 0.5
# fill the disk to the last block
dd if=/dev/zero of="$FS/filler" bs=4096 2>/dev/null
dd if=/dev/zero of="$FS/filler2" bs=512 2>/dev/null
info "disk filled: $(df -k "$FS" | tail -n 1)"
touch "$T/gate"

status_failing() {
	RC=0
	timeout 10 "$PARADE" status full >"$T/status" 2>&1 || RC=$?
	[ "$RC" = 1 ] && grep -q "^journal:  FAILING" "$T/status"
}
if ! wait_for 30 status_failing; then
	show_file "$T/status"
	fail "status does not show the failing journal (exit $RC)"
fi
grep -Eqi "full|no space" "$T/status" || { show_file "$T/status"; fail "status does not say the disk is full"; }
grep -q "journal.db" "$T/status" || { show_file "$T/status"; fail "status does not name the journal file"; }
timeout 10 "$PARADE" status full --json >"$T/status.json" 2>&1
grep -q '"journal":{"ok":false,"error":"' "$T/status.json" || { show_file "$T/status.json"; fail "status --json has no failing journal"; }
info "$(grep -E '^(tasks|journal| )' "$T/status" | tr '\n' ' ')"
held() {
	timeout 10 "$PARADE" status full >"$T/status" 2>&1
	grep -Eq "^ +[1-9][0-9]* results held in memory" "$T/status"
}
wait_for 30 held || { show_file "$T/status"; fail "status shows no result held in memory"; }

for cmd in "wait full" "collect full --wait"; do
	RC=0
	# shellcheck disable=SC2086
	timeout 30 "$PARADE" $cmd >"$T/out" 2>"$T/err" || RC=$?
	expect_rc 2 "parade $cmd while the disk is full" "$T/err"
	grep -q "journal cannot be written" "$T/err" && grep -Eqi "full|no space" "$T/err" ||
		{ show_file "$T/err"; fail "parade $cmd does not name the journal's error"; }
done

# no new task goes out while the journal fails: what ran stays put
n1=$(ls "$T/ran" | wc -l)
sleep 2
n2=$(ls "$T/ran" | wc -l)
info "tasks started while the disk is full: $n1, then $n2"
[ "$n1" -eq "$n2" ] || fail "tasks were handed out while the journal failed ($n1, then $n2)"
[ "$n1" -lt $N ] || fail "every task ran although the journal failed"
grep -Eq "^tasks: .*[1-9][0-9]* queued" "$T/status" || { show_file "$T/status"; fail "no task stays queued"; }

# space again: the session goes on by itself
rm -f "$FS/filler" "$FS/filler2"
recovered() { timeout 10 "$PARADE" status full >"$T/status" 2>&1; }
wait_for 30 recovered || { show_file "$T/status"; fail "status still fails after the space came back"; }
RC=0
timeout 90 "$PARADE" wait full >"$T/wait.out" 2>"$T/wait.err" || RC=$?
expect_rc 0 "parade wait once space is back" "$T/wait.err"
RC=0
timeout 30 "$PARADE" collect full >"$T/table.csv" 2>"$T/collect.err" || RC=$?
expect_rc 0 "parade collect" "$T/collect.err"
csv_flat "$T/table.csv" >"$T/flat" || fail "the table is not valid CSV"
rows=$(($(wc -l <"$T/flat") - 1))
uniq=$(tail -n +2 "$T/flat" | cut -d $'\037' -f 1 | sort -u | wc -l)
[ "$rows" -eq $N ] && [ "$uniq" -eq $N ] || fail "$rows rows ($uniq distinct), expected $N once each"
pad=$(printf '%01000d' 0)
bad=$(tail -n +2 "$T/flat" | awk -F'\037' -v pad="$pad" '
	$1 != NR { print "row " NR " has x " $1; exit }
	$2 != "ok" { print "row " NR " status " $2 " error " $7; exit }
	$6 != "x=" NR " " pad { print "row " NR " stdout " substr($6, 1, 40); exit }')
[ -z "$bad" ] || fail "$bad"
# every task ran once: the results held in memory were not run again
twice=$(find "$T/ran" -type f -size +1c | wc -l)
[ "$(ls "$T/ran" | wc -l)" -eq $N ] && [ "$twice" -eq 0 ] || fail "$twice tasks ran more than once"
assert_no_procs

# A run that is interrupted while its journal cannot be written says how
# many results were not recorded and keeps its session, so that resume
# runs those tasks again (results of 100 KB, so that the journal must grow
# to take them; the first session is removed to make room).
RC=0
timeout 30 "$PARADE" rm full >"$T/rm.out" 2>&1 || RC=$?
expect_rc 0 "parade rm full" "$T/rm.out"
N2=6
seq 1 $N2 | sed '1i x' >"$T/grid2.csv"
mkdir "$T/ran2"
"$PARADE" run --name fg --workers 2 --grid "$T/grid2.csv" -o "$T/fg.csv" \
	-- sh -c 'echo >>"$3/$1"; while [ ! -e "$2" ]; do sleep 0.02; done; printf "x=%s %0100000d\n" "$1" 0' \
	sh {x} "$T/gate2" "$T/ran2" 2>"$T/fg.err" &
fg_pid=$!
PIDS+=("$fg_pid")
started2() { [ "$(ls "$T/ran2" | wc -l)" -ge 2 ]; }
wait_for 30 started2 || { show_file "$T/fg.err"; fail "no task of the second run started"; }
sleep 0.5
dd if=/dev/zero of="$FS/filler" bs=4096 2>/dev/null
dd if=/dev/zero of="$FS/filler2" bs=512 2>/dev/null
touch "$T/gate2"
held2() {
	timeout 10 "$PARADE" status fg >"$T/status2" 2>&1
	grep -Eq "^ +[1-9][0-9]* results held in memory" "$T/status2"
}
wait_for 30 held2 || { show_file "$T/status2"; show_file "$T/fg.err"; fail "the second run holds no result in memory"; }
# (a 'parade stop' waits for the journal: it drains, and draining
# includes making the results durable; Ctrl-C does not wait)
kill -INT "$fg_pid"
RC=0
wait "$fg_pid" || RC=$?
expect_rc 130 "parade run interrupted while its journal fails" "$T/fg.err"
grep -q "journal still cannot be written" "$T/fg.err" && grep -q "parade resume fg" "$T/fg.err" ||
	{ show_file "$T/fg.err"; fail "the run does not say its held results were not recorded"; }
[ -f "$FS/sessions/fg/journal.db" ] || fail "the run removed its session although results were not recorded"
rm -f "$FS/filler" "$FS/filler2"
RC=0
timeout 60 "$PARADE" resume fg >"$T/resume.out" 2>"$T/resume.err" || RC=$?
expect_rc 0 "parade resume fg once space is back" "$T/resume.err"
RC=0
timeout 60 "$PARADE" wait fg >"$T/wait2.out" 2>"$T/wait2.err" || RC=$?
expect_rc 0 "parade wait fg after resume" "$T/wait2.err"
RC=0
timeout 30 "$PARADE" collect fg >"$T/fg3.csv" 2>"$T/collect3.err" || RC=$?
expect_rc 0 "parade collect fg" "$T/collect3.err"
ok=$(grep -c '^[0-9]*,ok,0,.*,x=[0-9]* 0' "$T/fg3.csv")
[ "$ok" -eq $N2 ] || { show_file "$T/fg3.csv" 30; fail "the resumed run has $ok of $N2 rows ok"; }
assert_no_procs
