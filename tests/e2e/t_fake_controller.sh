#!/bin/bash
# t_fake_controller.sh - a hostile controller (tests/hostile/fake_controller)
# against the real parade-agent, over the Unix socket and over TLS: crafted
# frames (32,768 tasks at once, a CANCEL of 4,194,304 ids at an agent
# holding 8,000 tasks, which must answer the PING behind it, bad headers,
# bad payloads, a WELCOME of another version, a frame that never ends, a
# controller gone mid-handshake, a wrong secret) and FAKE_CONTROLLER_ROUNDS random ones (default 150 per
# transport). The agent must never crash, hang or spin: it drops a bad
# controller with a clear log line and dials again; only a wrong secret or
# another protocol version ends it (exit 3). A controller that welcomes the
# agent and drops it at once is dialled ever more slowly (unix run). Prints
# the counts.
. "$(dirname "$0")/lib.sh"

FC=$top_builddir/tests/hostile/fake_controller
[ -x "$FC" ] || fail "$FC is missing: it is a check program (make check, or make tests/hostile/fake_controller)"
rounds=${FAKE_CONTROLLER_ROUNDS:-150}

run_fc() { # NAME [--tls]
	local name=$1
	shift
	mkdir -p "$T/$name"
	RC=0
	# (the unix run also waits out the agent's reconnect backoff, ~20 s)
	timeout -k 5 150 "$FC" "$AGENT" "$T/$name" "$@" --random "$rounds" --seed "$RANDOM" \
		>"$T/$name.out" 2>"$T/$name.err" || RC=$?
	grep -h '^fake_controller: [a-zA-Z]*:' "$T/$name.out" | tail -n 1 >&2
	if [ "$RC" != 0 ]; then
		grep -v '^fake_controller: ok ' "$T/$name.out" >&2
		show_file "$T/$name.err"
		fail "fake controller ($name): exit status $RC (see above)"
	fi
	# sanitizer reports of the agents go to their stderr, which is ours
	if grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/$name.err" >&2; then
		fail "fake controller ($name): the agent reported a sanitizer error"
	fi
	grep -q 'holds at most' "$T/$name"/agent-*.log ||
		fail "fake controller ($name): no agent log line names the task limit"
}

run_fc unix
run_fc tls --tls
grep -h 'reset mid-handshake\|another secret' "$T/tls.out" | sed 's/^/# /' >&2
assert_no_procs
