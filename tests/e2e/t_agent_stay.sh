#!/bin/bash
# t_agent_stay.sh - agents that outlive their controllers: two agents
# started by hand with --stay (and --grace 1, which --stay ignores) on a
# fixed tls+tcp:// port and a secret file; two `parade run --launch none
# --secret-file` one after the other on that port both run all their rows
# on those agents; the agents leave on SIGTERM (status 0), and one with
# --exit-on-eof when its stdin closes. parade run refuses a secret file
# others can read.
. "$(dirname "$0")/lib.sh"

# a port nobody listens on (127.0.0.1, TCP)
for _ in $(seq 1 50); do
	port=$((20000 + RANDOM % 30000))
	grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp || break
done
url=tls+tcp://127.0.0.1:$port
umask 077
printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/secret"
seq 1 12 | sed '1i x' >"$T/grid.csv"

# refused: a secret file others may read
cp "$T/secret" "$T/secret.open"
chmod 644 "$T/secret.open"
prun "$T/out0" "$T/err0" --launch none --listen "$url" --secret-file "$T/secret.open" \
	--grid "$T/grid.csv" -- echo {x}
expect_rc 2 "parade run --secret-file with a file others can read" "$T/err0"
grep -q "readable by group or others (mode 0644): chmod 600" "$T/err0" || {
	show_file "$T/err0"
	fail "no clear refusal of a secret file of mode 0644"
}

"$AGENT" --url "$url" --secret-file "$T/secret" --stay --grace 1 --id stay-1 2>"$T/a1.log" &
a1=$!
"$AGENT" --url "$url" --secret-file "$T/secret" --stay --grace 1 --id stay-2 2>"$T/a2.log" &
a2=$!
mkfifo "$T/stdin3"
"$AGENT" --url "$url" --secret-file "$T/secret" --stay --exit-on-eof --id stay-3 \
	<"$T/stdin3" 2>"$T/a3.log" &
a3=$!
exec 3>"$T/stdin3"
# longer than --grace with no controller: still there
sleep 2
for p in $a1 $a2 $a3; do
	is_alive "$p" || {
		show_file "$T/a1.log"
		fail "agent $p with --stay left before any controller came (--grace 1)"
	}
done

for run in 1 2; do
	prun "$T/out$run.csv" "$T/err$run" --launch none --listen "$url" --secret-file "$T/secret" \
		--shell 'sleep 0.1; echo {x}' --grid "$T/grid.csv"
	expect_rc 0 "run $run on the staying agents" "$T/err$run"
	bad=$(tail -n +2 "$T/out$run.csv" | awk -F, '$2 != "ok" || $6 != $1 || $5 !~ /^stay-[123]$/ { print "row " NR ": " $0; exit }')
	[ -z "$bad" ] || {
		show_file "$T/out$run.csv"
		fail "run $run: $bad"
	}
	[ "$(($(wc -l <"$T/out$run.csv") - 1))" -eq 12 ] || fail "run $run: not 12 rows"
	info "run $run: 12 rows on agents $(tail -n +2 "$T/out$run.csv" | cut -d, -f5 | sort -u | tr '\n' ' ')"
done

for p in $a1 $a2 $a3; do
	is_alive "$p" || fail "agent $p with --stay left after the second run"
done
exec 3>&-
wait_pid "$a3" 10 || fail "agent stay-3 (--exit-on-eof) still runs 10 s after its stdin closed"
[ "$RC" = 0 ] || fail "agent stay-3: exit status $RC after its stdin closed, expected 0"
kill -TERM "$a1" "$a2"
for p in $a1 $a2; do
	wait_pid "$p" 10 || fail "agent $p still runs 10 s after SIGTERM"
	[ "$RC" = 0 ] || fail "agent $p: exit status $RC after SIGTERM, expected 0"
done
grep -q "waiting for the next one (--stay)" "$T/a1.log" || {
	show_file "$T/a1.log"
	fail "agent stay-1 did not say it waits for the next controller"
}
assert_no_procs
info "two runs, one after the other, on the same three agents"
