#!/bin/bash
# t_tls.sh - the TLS 1.3 PSK listener: a real TLS client completes the
# handshake with the session secret and fails without it; an agent with a
# wrong secret is refused (exit 3); garbage and a stalled connection are
# dropped; a proper agent then runs every task. Session files are private.
. "$(dirname "$0")/lib.sh"

command -v gnutls-cli >/dev/null || fail "gnutls-cli is missing (package gnutls-bin)"
PRIO='NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK'
N=6
seq 1 $N >"$T/in"

timeout -k 5 60 "$PARADE" run --name S --keep-session --listen tls+tcp://127.0.0.1:0 \
	--launch none --handler echo -- x{} <"$T/in" >"$T/out.csv" 2>"$T/err" &
ppid_=$!
wait_endpoint S
secret=$(sed -n 's/^secret=\([0-9a-f]*\)$/\1/p' "$conn")
[ ${#secret} -eq 64 ] || fail "secret in $conn is not 64 hex digits"
[ "$port" -gt 0 ] || fail "bad port '$port'"
grep -q '^local=ipc://' "$conn" || fail "no local ipc:// endpoint in $conn"
info "controller listens on port $port"

# private files: session folder 0700, connection file 0600
[ "$(stat -c %a "$T/sessions/S")" = 700 ] || fail "session folder mode $(stat -c %a "$T/sessions/S"), expected 700"
[ "$(stat -c %a "$conn")" = 600 ] || fail "connection file mode $(stat -c %a "$conn"), expected 600"
[ "$(stat -c %a "$T/sessions")" = 700 ] || fail "sessions folder mode $(stat -c %a "$T/sessions"), expected 700"

# a stalled connection that never says anything (kept open on fd 5); the
# controller must drop it after its 5 s handshake deadline
exec 5<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to 127.0.0.1:$port"
stall_start=$(now_ms)

# (a) a real TLS 1.3 PSK client: the right key completes the handshake
rc=0
timeout 20 gnutls-cli --pskusername parade --pskkey "$secret" --priority "$PRIO" \
	-p "$port" 127.0.0.1 </dev/null >"$T/gnutls.ok" 2>&1 || rc=$?
grep -q 'Handshake was completed' "$T/gnutls.ok" || {
	show_file "$T/gnutls.ok"
	fail "gnutls-cli with the session secret: no completed handshake (rc $rc)"
}
grep -q 'TLS1\.3' "$T/gnutls.ok" || {
	show_file "$T/gnutls.ok"
	fail "gnutls-cli with the session secret: not TLS1.3"
}
# ... and a wrong key does not
wrong=$(printf '%s' "$secret" | tr '0-9a-f' '1-9a-f0')
[ "$wrong" != "$secret" ] && [ ${#wrong} -eq 64 ] || fail "could not make a wrong secret"
rc=0
timeout 20 gnutls-cli --pskusername parade --pskkey "$wrong" --priority "$PRIO" \
	-p "$port" 127.0.0.1 </dev/null >"$T/gnutls.bad" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "gnutls-cli with a wrong key exited 0"
[ "$rc" -ne 124 ] || fail "gnutls-cli with a wrong key hung"
if grep -q 'Handshake was completed' "$T/gnutls.bad"; then
	show_file "$T/gnutls.bad"
	fail "gnutls-cli completed a handshake with a wrong key"
fi

# (b) an agent with a wrong secret: refused, exit status 3, one log line
refusals() { grep -c 'refused connection from 127\.0\.0\.1:[0-9]*: .*TLS handshake failed' "$T/err"; }
before=$(refusals)
sed "s/^secret=.*/secret=$wrong/" "$conn" >"$T/wrong.conn"
chmod 600 "$T/wrong.conn"
rc=0
timeout 20 "$AGENT" --connect "$T/wrong.conn" --grace 10 >"$T/wrongagent.out" 2>"$T/wrongagent.err" || rc=$?
if [ "$rc" -ne 3 ]; then
	show_file "$T/wrongagent.err"
	fail "agent with a wrong secret exited $rc, expected 3"
fi
nl=$(grep -c 'TLS handshake failed' "$T/wrongagent.err")
if [ "$nl" -ne 1 ] || [ "$(grep -c . "$T/wrongagent.err")" -ne 1 ]; then
	show_file "$T/wrongagent.err"
	fail "agent with a wrong secret: expected one log line with 'TLS handshake failed'"
fi
has_refused() { [ "$(refusals)" -gt "$before" ]; }
wait_for 5 has_refused || {
	show_file "$T/err"
	fail "the controller did not log 'refused connection from ...: TLS handshake failed' for the agent"
}

# (c) garbage: an HTTP request, 4 KB of random bytes, a lone byte
(
	trap '' PIPE
	exec 4<>"/dev/tcp/127.0.0.1/$port" || exit 1
	printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' >&4
	timeout 10 cat <&4 >/dev/null
	exec 4<&-
	exec 4<>"/dev/tcp/127.0.0.1/$port" || exit 1
	head -c 4096 /dev/urandom >&4
	timeout 10 cat <&4 >/dev/null
	exec 4<&-
	exec 4<>"/dev/tcp/127.0.0.1/$port" || exit 1
	printf '\026' >&4
	exec 4<&-
) 2>"$T/garbage.err" || {
	show_file "$T/garbage.err"
	fail "could not send garbage to the controller"
}
is_alive "$ppid_" || {
	show_file "$T/err"
	fail "the controller died of garbage"
}

# the stalled connection is dropped after about 5 s, with a "timed out" line
timed_out() { grep -q 'timed out' "$T/err"; }
wait_for 15 timed_out || {
	show_file "$T/err"
	fail "the controller did not time out the stalled connection"
}
rc=0
read -r -t 5 -u 5 _ || rc=$?
[ "$rc" -gt 128 ] && fail "the stalled connection is still open"
took=$(($(now_ms) - stall_start))
exec 5<&-
[ "$took" -ge 4000 ] || fail "the stalled connection was dropped after $took ms, before the 5 s deadline"
info "stalled connection dropped after $took ms"

# a proper agent over TLS completes the run
timeout -k 5 30 "$AGENT" --connect "$conn" --id tls-agent --grace 5 \
	>"$T/agent.out" 2>"$T/agent.err" &
apid=$!
wait_pid "$ppid_" 30 || fail "the run did not finish with a proper agent"
expect_rc 0 "parade run over TLS" "$T/err"
wait_pid "$apid" 15 || fail "the agent did not leave after the run"
[ "$RC" = 0 ] || {
	show_file "$T/agent.err"
	fail "the agent exited $RC after the run, expected 0"
}
bad=$(tail -n +2 "$T/out.csv" | awk -F, '$1 != NR || $2 != "ok" || $5 != "tls-agent" || $6 != "x" NR { print NR ": " $0; exit }
	END { if (NR != n) print NR " rows" }' n=$N)
[ -z "$bad" ] || fail "bad result row $bad"
[ -d "$T/sessions/S" ] || fail "--keep-session: the session folder is gone"

# a plain (ipc only) session kept after its run: same private modes
prun "$T/out.ipc" "$T/err.ipc" --name P --keep-session --workers 1 --handler echo -- y{} <"$T/in"
expect_rc 0 "plain ipc session run" "$T/err.ipc"
[ "$(grep -c ',ok,' "$T/out.ipc")" -eq $N ] || fail "plain ipc session run: not $N ok rows"
pconn=$T/sessions/P/connection
[ -f "$pconn" ] || fail "--keep-session: no $pconn after the run"
grep -q '^endpoint=ipc://' "$pconn" || fail "plain session endpoint is not ipc://: $(grep endpoint "$pconn")"
[ "$(stat -c %a "$T/sessions/P")" = 700 ] || fail "plain session folder mode $(stat -c %a "$T/sessions/P"), expected 700"
[ "$(stat -c %a "$pconn")" = 600 ] || fail "plain connection file mode $(stat -c %a "$pconn"), expected 600"

assert_no_procs
info "TLS handshake, refusals, garbage, stall and a full run"
