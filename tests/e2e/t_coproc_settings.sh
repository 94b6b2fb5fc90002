#!/bin/bash
# t_coproc_settings.sh - the coprocess COMMAND travels from the controller
# to the agents as handler settings in WELCOME: agents started by hand
# without --coproc that join a `parade run --handler coproc:CMD` which
# launches agents run their rows through CMD; an agent's own --coproc wins
# over the controller's. (A --launch none controller refuses an agent
# without --coproc: t_coproc, t_ssh_coproc.)
. "$(dirname "$0")/lib.sh"

seq 1 30 >"$T/in"
# the controller's COMMAND: waits until both hand agents joined (so that
# every agent holds rows), then answers each line with the line and
# whether the agent that runs it was given --coproc (own) or not (ctl)
CMD="until grep -q 'agent mine joined' $T/err 2>/dev/null; do sleep 0.05; done
case \$(tr '\\0' ' ' </proc/\$PPID/cmdline) in *--coproc*) w=own ;; *) w=ctl ;; esac
while IFS= read -r l; do echo \"\$w \$l\"; done"
timeout -k 5 60 "$PARADE" run --workers 1 --name st --listen tls+tcp://127.0.0.1:0 \
	--handler coproc:"$CMD" -- {} <"$T/in" >"$T/out.csv" 2>"$T/err" &
cpid=$!
wait_endpoint st
timeout -k 5 60 "$AGENT" --connect "$conn" --id hand 2>"$T/hand.err" &
hpid=$!
wait_for 10 grep -q "agent hand joined" "$T/err" || {
	show_file "$T/err"
	show_file "$T/hand.err"
	fail "the agent without --coproc did not join"
}
timeout -k 5 60 "$AGENT" --connect "$conn" --id mine --coproc 'while read l; do echo "mine $l"; done' \
	2>"$T/mine.err" &
mpid=$!
wait_pid "$cpid" 60 || fail "the run did not finish"
RC=0
wait "$cpid" || RC=$?
expect_rc 0 "parade run --handler coproc: with agents started by hand" "$T/err"
wait_pid "$hpid" 20 || fail "the agent without --coproc did not end after the run"
wait_pid "$mpid" 20 || fail "the agent with --coproc did not end after the run"

bad=$(csv_flat "$T/out.csv" | awk -F'\037' '
	NR == 1 { next }
	$2 != "ok" { print "row " $1 ": " $2 " " $7; exit }
	$5 == "hand" { hand++; if ($6 != "ctl " $1) { print "row " $1 " on hand: " $6; exit } }
	$5 == "mine" { mine++; if ($6 != "mine " $1) { print "row " $1 " on mine: " $6; exit } }
	$5 != "hand" && $5 != "mine" { other++; if ($6 !~ "^(own|ctl) " $1 "$") { print "row " $1 " on " $5 ": " $6; exit } }
	END {
		if (NR != 31) print NR - 1 " rows, expected 30"
		else if (!hand) print "no row ran on the agent without --coproc"
		else if (!mine) print "no row ran on the agent with its own --coproc"
	}')
[ -z "$bad" ] || {
	show_file "$T/out.csv"
	fail "$bad"
}
info "an agent without --coproc ran its rows through the controller's COMMAND; one with its own kept it"
assert_no_procs
