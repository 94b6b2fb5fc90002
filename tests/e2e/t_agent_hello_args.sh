#!/bin/bash
# t_agent_hello_args.sh - what the agent would claim in its HELLO is
# checked by the agent first, with the controller's own rule
# (pd_hello_field_ok): an --id or --mode the controller would refuse is a
# usage error (exit 2, naming the option and the byte or the length), not
# a REJECT after connecting (exit 3 "refused", as before), and a --mode
# over 15 bytes is no longer cut short silently. A good agent then runs
# the session to its end.
. "$(dirname "$0")/lib.sh"

printf 'id\n1\n' >"$T/grid.csv"
timeout -k 5 60 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--grid "$T/grid.csv" -o "$T/out.csv" -- true {id} 2>"$T/err" &
ppid_=$!
wait_endpoint S

# bad_args WHAT EXPECTED-TEXT ARGS...: the agent exits 2 at once, says so
n=0
bad_args() {
	local what=$1 want=$2 rc=0
	shift 2
	n=$((n + 1))
	timeout 20 "$AGENT" --connect "$conn" --grace 2 "$@" >"$T/bad$n.out" 2>"$T/bad$n.err" || rc=$?
	[ "$rc" = 2 ] || {
		show_file "$T/bad$n.err"
		fail "$what: the agent exited $rc, expected 2 (a usage error)"
	}
	grep -qF -- "$want" "$T/bad$n.err" || {
		show_file "$T/bad$n.err"
		fail "$what: no '$want' in the agent's message"
	}
}
bad_args "--mode with a space" "--mode: mode holds the byte 0x20" --mode "a b"
bad_args "an empty --mode" "--mode: mode is empty" --mode ""
bad_args "a --mode of 16 bytes" "--mode: mode is 16 bytes long (at most 15)" --mode 0123456789abcdef
bad_args "a non-ASCII --id" "--id: agent id holds the byte 0xc3" --id "$(printf 'caf\303\251')"
bad_args "an --id with ESC" "--id: agent id holds the byte 0x1b" --id "$(printf 'a\033[31mb')"
if grep -q 'REJECT\|refus' "$T/err"; then
	show_file "$T/err"
	fail "the controller saw a HELLO it had to refuse"
fi

"$AGENT" --connect "$conn" --id good --mode "my-mode_1.x" 2>"$T/good.err" &
apid=$!
wait_pid "$ppid_" 30 || fail "the run did not finish with a good agent"
[ "$RC" = 0 ] || {
	show_file "$T/err"
	fail "parade run exited $RC"
}
wait_pid "$apid" 15 || fail "the good agent did not leave after the run"
exit 0
