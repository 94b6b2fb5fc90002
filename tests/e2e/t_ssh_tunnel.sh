#!/bin/bash
# t_ssh_tunnel.sh - a host that cannot reach the controller except
# through ssh (scripts/ssh/hosts.sh up --no-route: only sshd's replies
# have a route back):
#   (a) without --tunnel the agent there cannot connect: a plain TCP
#       connect from the host to the controller's listener fails, the
#       agent reports "Network is unreachable", no agent joins (the run
#       is then interrupted);
#   (b) with --tunnel (controller on 127.0.0.1 only, ssh -R) 30 rows all
#       ok, run on that host, by an agent that came in over loopback;
#   (c) --tunnel --tunnel-port P --remote-connect-file: the same, through
#       a chosen remote port, with the connection file copied there
#       (~/.parade/remote-NAME.0.conn, which every task checks) and
#       removed at the end;
#   (d) the controller's own port number taken on the host (as when the
#       host is this machine) and the host listed twice: the far ends are
#       ports the host's sshd allocates, 30 rows ok by two agents.
. "$(dirname "$0")/lib.sh"
# runs here take seconds: one that hangs fails the test sooner
PRUN_TIMEOUT=30

ssh_hosts_up 1 --no-route
[ "$SSH_TEST_MODE" = no-route ] || fail "hosts.sh made a '$SSH_TEST_MODE' host, expected no-route"
H1=${SSH_H[1]} A1=${SSH_A[1]}
ssh_where_script "$T/where.sh"
RA=(--remote-agent "$AGENT")

# ---- (a) no tunnel: the agent cannot reach the controller ----
{
	echo n
	seq 1 3
} >"$T/g3.csv"
# -v: the remote agent's connect errors are debug lines
timeout -k 5 60 "$PARADE" run -v --name A --launch "ssh:$H1" \
	--listen "tls+tcp://$SSH_TEST_HOST_ADDR:0" "${SSHO[@]}" "${RA[@]}" \
	--grid "$T/g3.csv" -- "$T/where.sh" {n} >"$T/a.csv" 2>"$T/a.err" &
apid=$!
wait_for 10 test -s "$T/sessions/A/connection" || {
	show_file "$T/a.err"
	fail "(a) no connection file"
}
ep=$(sed -n 's/^endpoint=//p' "$T/sessions/A/connection")
port=${ep##*:}
case $ep in
"tls+tcp://$SSH_TEST_HOST_ADDR:"[0-9]*) ;;
*) fail "(a) unexpected endpoint '$ep' in the connection file" ;;
esac
# the listener is there (from this machine)...
(exec 3<>"/dev/tcp/$SSH_TEST_HOST_ADDR/$port") 2>/dev/null ||
	fail "(a) cannot connect to the controller's listener $SSH_TEST_HOST_ADDR:$port from here"
# ...but not from the host
if hosts_sh exec 1 timeout 5 bash -c "exec 3<>/dev/tcp/$SSH_TEST_HOST_ADDR/$port" 2>"$T/a.tcp"; then
	fail "(a) host 1 can connect to $SSH_TEST_HOST_ADDR:$port directly: not a --no-route host"
fi
grep -q 'Network is unreachable' "$T/a.tcp" || {
	show_file "$T/a.tcp"
	fail "(a) a connect from host 1 failed, but not with 'Network is unreachable'"
}
wait_for 15 grep -q "ssh $H1: parade-agent: .*cannot connect to $ep: Network is unreachable" "$T/a.err" || {
	show_file "$T/a.err" 40
	fail "(a) the agent on host 1 did not report 'Network is unreachable'"
}
is_alive "$apid" || {
	show_file "$T/a.err" 40
	fail "(a) the run without a tunnel ended on its own"
}
kill -INT "$apid"
wait_pid "$apid" 20 || fail "(a) parade run did not end after SIGINT"
expect_rc 130 "(a) run without a tunnel, interrupted" "$T/a.err"
if grep -q ' joined from ' "$T/a.err"; then
	show_file "$T/a.err" 40
	fail "(a) an agent joined although host 1 has no route to the controller"
fi
grep -q '^parade: error: interrupted: 0 of 3 tasks finished, 3 not run$' "$T/a.err" || {
	show_file "$T/a.err" 40
	fail "(a) no 'interrupted: 0 of 3 tasks finished' line"
}
[ "$(csv_flat "$T/a.csv" | wc -l)" -eq 1 ] || {
	show_file "$T/a.csv"
	fail "(a) rows in the table of a run no agent joined"
}
ssh_assert_clean

# ---- (b) --tunnel: 30 rows through ssh -R ----
{
	echo n
	seq 1 30
} >"$T/g30.csv"
prun "$T/b.csv" "$T/b.err" --name B --keep-session --launch "ssh:$H1" --tunnel "${SSHO[@]}" \
	"${RA[@]}" --grid "$T/g30.csv" -- "$T/where.sh" {n}
expect_rc 0 "(b) run with --tunnel" "$T/b.err"
ssh_check_rows "$T/b.csv" 30 "(b)"
ssh_addr_of "$T/b.csv" | awk -v a="$A1" '$2 != a { bad = 1 } END { exit bad }' || {
	show_file "$T/b.csv"
	fail "(b) some task did not run on host 1 ($A1)"
}
grep -q "joined from 127\.0\.0\.1:[0-9]* (.*, ssh)\$" "$T/b.err" || {
	show_file "$T/b.err"
	fail "(b) no agent joined over the tunnel (from 127.0.0.1)"
}
[ "$(grep -c ' joined from ' "$T/b.err")" -eq 1 ] || {
	show_file "$T/b.err"
	fail "(b) expected exactly one agent"
}
# the controller listened on loopback only (kept session: its file stays)
[ -f "$T/sessions/B/connection" ] || fail "(b) --keep-session kept no connection file"
grep -q '^endpoint=tls+tcp://127\.0\.0\.1:[0-9]*$' "$T/sessions/B/connection" || {
	show_file "$T/sessions/B/connection"
	fail "(b) a --tunnel controller did not listen on 127.0.0.1 only"
}
ssh_assert_clean

# ---- (c) --tunnel-port and --remote-connect-file ----
TP=$((20000 + RANDOM % 30000))
NAME=tun-$$-$RANDOM
prun "$T/c.csv" "$T/c.err" --name "$NAME" --launch "ssh:$H1" --tunnel --tunnel-port "$TP" \
	--remote-connect-file "${SSHO[@]}" "${RA[@]}" --grid "$T/g30.csv" \
	-- sh -c 'test -s "$HOME/.parade/$1" || { echo "no $HOME/.parade/$1" >&2; exit 1; }; exec "$0" "$2" 0.02' \
	"$T/where.sh" "remote-$NAME.0.conn" {n}
expect_rc 0 "(c) run with --tunnel-port $TP --remote-connect-file" "$T/c.err"
ssh_check_rows "$T/c.csv" 30 "(c)"
grep -q "joined from 127\.0\.0\.1:[0-9]* (.*, ssh)\$" "$T/c.err" || {
	show_file "$T/c.err"
	fail "(c) no agent joined over the tunnel"
}
# the remote HOME is root's, on this same file system
rhome=$(hosts_sh exec 1 sh -c 'cd && pwd -P') || fail "(c) hosts.sh exec failed"
[ ! -e "$rhome/.parade/remote-$NAME.0.conn" ] ||
	fail "(c) the remote copy $rhome/.parade/remote-$NAME.0.conn was left behind"
ssh_assert_clean

# ---- (d) the controller's port number is taken on the host ----
# (as when the host is the controller's own machine): the far end of the
# tunnel is a port the host's sshd picks (-R 0), so it still works; and
# one host listed twice gets two tunnels (tasks of 0.3 s: the second
# agent joins long before one agent could finish them all).
for try in 1 2 3 4 5 6 7 8; do
	P=$((40000 + RANDOM % 20000))
	(exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null || break
done
holder=$(hosts_sh break 1 port "$P") || fail "(d) could not occupy port $P on host 1"
hosts_sh exec 1 timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P" 2>/dev/null ||
	fail "(d) port $P on host 1 is not taken (holder pid $holder)"
prun "$T/d.csv" "$T/d.err" --name D --launch "ssh:$H1,$H1" --tunnel --listen "tls+tcp://127.0.0.1:$P" \
	"${SSHO[@]}" "${RA[@]}" --grid "$T/g30.csv" -- "$T/where.sh" {n} 0.3
expect_rc 0 "(d) --tunnel to a host where the controller's port $P is taken" "$T/d.err"
ssh_check_rows "$T/d.csv" 30 "(d)"
[ "$(grep -c "joined from 127\.0\.0\.1:[0-9]* (.*, ssh)\$" "$T/d.err")" -eq 2 ] || {
	show_file "$T/d.err"
	fail "(d) expected two agents (the host is listed twice), each over its own tunnel"
}
grep -q 'taken' "$T/d.err" && {
	show_file "$T/d.err"
	fail "(d) a message about a taken port"
}
ssh_assert_clean
# ssh must report the port: a LogLevel that hides it is refused up front
prun "$T/e.csv" "$T/e.err" --launch "ssh:$H1" --tunnel --ssh-opt LogLevel=QUIET "${SSHO[@]}" \
	"${RA[@]}" --grid "$T/g3.csv" -- "$T/where.sh" {n}
expect_rc 2 "(d) --tunnel with --ssh-opt LogLevel=QUIET" "$T/e.err"
grep -q '^parade: error: --ssh-opt LogLevel=QUIET hides the port ssh reports for --tunnel; drop it or choose the port with --tunnel-port$' "$T/e.err" || {
	show_file "$T/e.err"
	fail "(d) LogLevel=QUIET with --tunnel: no error naming it"
}
ssh_assert_clean

info "ok"
