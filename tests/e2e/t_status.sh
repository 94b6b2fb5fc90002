#!/bin/bash
# t_status.sh - how a task ends shows in the table: failed with its exit
# code, killed by a signal, timed out (and its processes gone), output cut
# at --output-limit, output that does not fit the schema; `parade run`
# then exits 1 with a summary line.
. "$(dirname "$0")/lib.sh"

cat >"$T/task.sh" <<EOF2
#!/bin/sh
case "\$1" in
ok) echo "x=\$2" ;;
exit3) echo "x=1"; echo "about to exit 3" >&2; exit 3 ;;
signal) sh -c 'kill -9 \$\$'; kill -9 \$\$ ;;
sleep) echo \$\$ >"$T/sleeper.pid"; sleep 30 & echo \$! >"$T/sleep.pid"; wait ;;
big) echo "x=5"; head -c 5000 /dev/zero | tr '\\0' a; echo ;;
abc) echo "x=abc" ;;
esac
EOF2
chmod +x "$T/task.sh"
printf 'kind\nok\nexit3\nsignal\nsleep\nbig\nok\n' >"$T/grid.csv"

start=$(now_ms)
prun "$T/out.csv" "$T/err" --grid "$T/grid.csv" --workers 2 --timeout 1 --output-limit 1000 \
	-- "$T/task.sh" {kind} {#}
took=$(($(now_ms) - start))
expect_rc 1 "parade run with failing tasks" "$T/err"
[ "$took" -lt 8000 ] || fail "the run took ${took} ms with --timeout 1"

csv_flat "$T/out.csv" >"$T/flat" || fail "output is not valid CSV"
[ "$(head -n 1 "$T/flat")" = "$(printf 'kind\037status\037exit_code\037seconds\037agent\037stdout\037error')" ] ||
	fail "unexpected header: $(head -n 1 "$T/out.csv")"
[ "$(wc -l <"$T/flat")" -eq 7 ] || fail "expected 6 result rows, got $(($(wc -l <"$T/flat") - 1))"
# row N: kind status exit_code seconds agent stdout error
row() { sed -n "$(($1 + 1))p" "$T/flat"; }
IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 1)"
[ "$kind,$st,$code,$out,$err" = "ok,ok,0,x=1," ] || fail "row 1 (ok): $(row 1 | tr '\037' ,)"

IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 2)"
[ "$kind,$st,$code" = "exit3,failed,3" ] || fail "row 2 (exit 3): status $st exit_code $code, expected failed 3"
case $err in *"about to exit 3"*) ;; *) fail "row 2 (exit 3): error '$err' lacks the stderr line" ;; esac

IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 3)"
[ "$st" = failed ] || fail "row 3 (SIGKILL): status $st, expected failed"
case $err in *"signal 9"*) ;; *) fail "row 3 (SIGKILL): error '$err' does not mention signal 9" ;; esac

IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 4)"
[ "$st" = timeout ] || fail "row 4 (sleep 30, --timeout 1): status $st, expected timeout"
awk -v s="$secs" 'BEGIN { exit !(s >= 0.9 && s < 5) }' || fail "row 4 (timeout): seconds $secs, expected about 1"
for f in sleeper.pid sleep.pid; do
	[ -s "$T/$f" ] || fail "the timed-out task did not write $f"
	p=$(cat "$T/$f")
	wait_for 3 eval '! is_alive '"$p" || fail "process $p ($f) of the timed-out task still runs: $(cmdline_of "$p")"
done

IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 5)"
case $err in *"stdout truncated"*) ;; *) fail "row 5 (5000 bytes, --output-limit 1000): error '$err' does not say stdout truncated" ;; esac
out=${out//\\n/N} # csv_flat wrote the line end as \n
[ ${#out} -le 1000 ] || fail "row 5: stdout column holds ${#out} bytes, more than --output-limit 1000"
[ ${#out} -ge 500 ] || fail "row 5: stdout column holds only ${#out} bytes"

IFS=$'\037' read -r kind st code secs agent out err <<<"$(row 6)"
[ "$kind,$st,$code,$out,$err" = "ok,ok,0,x=6," ] || fail "row 6 (ok): $(row 6 | tr '\037' ,)"

grep -Eq '3 of 6 tasks not ok' "$T/err" || {
	show_file "$T/err"
	fail "no summary line '3 of 6 tasks not ok ...' on stderr"
}

# schema: x:int; x=abc fails naming the field, the other rows are ok
printf 'kind\nok\nabc\nok\n' >"$T/grid2.csv"
prun "$T/out2.csv" "$T/err2" --grid "$T/grid2.csv" --schema x:int -- "$T/task.sh" {kind} {#}
expect_rc 1 "parade run with a schema mismatch" "$T/err2"
csv_flat "$T/out2.csv" >"$T/flat2" || fail "output is not valid CSV"
want=$(printf 'kind\037status\037exit_code\037seconds\037agent\037x\037error')
[ "$(head -n 1 "$T/flat2")" = "$want" ] || fail "schema run: header $(head -n 1 "$T/out2.csv")"
[ "$(wc -l <"$T/flat2")" -eq 4 ] || fail "schema run: expected 3 rows"
IFS=$'\037' read -r kind st code secs agent x err <<<"$(sed -n 2p "$T/flat2")"
[ "$st,$x,$err" = "ok,1," ] || fail "schema run row 1: status $st x '$x' error '$err', expected ok 1"
IFS=$'\037' read -r kind st code secs agent x err <<<"$(sed -n 3p "$T/flat2")"
[ "$st" = failed ] || fail "schema run row 2 (x=abc): status $st, expected failed"
[ -z "$x" ] || fail "schema run row 2 (x=abc): x column is '$x', expected empty"
case $err in *"'x'"* | *" x "* | *" x:"* | *"x="*) ;; *) fail "schema run row 2: error '$err' does not name field x" ;; esac
IFS=$'\037' read -r kind st code secs agent x err <<<"$(sed -n 4p "$T/flat2")"
[ "$st,$x,$err" = "ok,3," ] || fail "schema run row 3: status $st x '$x' error '$err', expected ok 3"
grep -q '1 of 3 tasks not ok' "$T/err2" || fail "schema run: no summary line '1 of 3 tasks not ok'"

assert_no_procs
info "exit 3, SIGKILL, timeout, truncation and schema mismatch reported"
