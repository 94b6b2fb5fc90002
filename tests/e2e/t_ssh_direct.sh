#!/bin/bash
# t_ssh_direct.sh - agents started over ssh on two throwaway hosts
# (scripts/ssh/hosts.sh: network namespaces with a real sshd) that dial
# the controller's TLS listener directly:
#   (a) --launch ssh:H1,H2: 40 rows all ok, tasks ran on both hosts;
#   (b) one host's ssh sessions killed mid-run (sshd, agent, tasks): its
#       tasks are run again, the host is restarted and joins again, and
#       the table still has every row exactly once, all ok;
#   (c) --hostfile with per-host slots ('HOST 2', 'HOST:22 slots=3');
#   (d) `parade launch ssh` and `parade-agent ssh` joining a --launch none
#       controller.
# After each run nothing is left, neither here nor in the namespaces.
. "$(dirname "$0")/lib.sh"
# runs here take seconds: one that hangs fails the test sooner
PRUN_TIMEOUT=30

ssh_hosts_up 2
H1=${SSH_H[1]} H2=${SSH_H[2]} A1=${SSH_A[1]} A2=${SSH_A[2]}
LISTEN=tls+tcp://$SSH_TEST_HOST_ADDR:0
ssh_where_script "$T/where.sh"
RA=(--remote-agent "$AGENT")

# joined_from ERR ADDR: how many agents joined from ADDR (over ssh)
joined_from() {
	grep -c "joined from $2:[0-9]* (.*, ssh)\$" "$1"
}

# ---- (a) two hosts, 40 rows ----
{
	echo n
	seq 1 40
} >"$T/g40.csv"
prun "$T/a.csv" "$T/a.err" --launch "ssh:$H1,$H2" --listen "$LISTEN" "${SSHO[@]}" "${RA[@]}" \
	--grid "$T/g40.csv" -- "$T/where.sh" {n} 0.05
expect_rc 0 "(a) run on $H1,$H2" "$T/a.err"
ssh_check_rows "$T/a.csv" 40 "(a)"
ssh_addr_of "$T/a.csv" >"$T/a.where"
for a in "$A1" "$A2"; do
	[ "$(joined_from "$T/a.err" "$a")" -eq 1 ] || {
		show_file "$T/a.err"
		fail "(a) expected one agent joined over ssh from $a"
	}
	awk -v a="$a" '$2 == a { f = 1 } END { exit !f }' "$T/a.where" || {
		show_file "$T/a.csv"
		fail "(a) no task ran on host $a"
	}
done
# every task ran on one of the two hosts, and each agent on one host only
awk -v a1="$A1" -v a2="$A2" '
	$2 != a1 && $2 != a2 { print "row " $1 " ran at \"" $2 "\""; bad = 1 }
	{ if (($3 in at) && at[$3] != $2) { print "agent " $3 " on two hosts"; bad = 1 }; at[$3] = $2 }
	END { n = 0; for (g in at) n++; if (n != 2) { print n " agents, expected 2"; bad = 1 }; exit bad }
' "$T/a.where" >"$T/a.bad" || fail "(a) $(head -n 3 "$T/a.bad" | tr '\n' ';')"
ssh_assert_clean

# ---- (b) host 1's sessions killed in the middle of a run ----
N=60
{
	echo n
	seq 1 $N
} >"$T/g60.csv"
: >"$T/progress"
cat >"$T/slow.sh" <<EOF
#!/bin/sh
sleep 0.1
echo "\$1" >>"$T/progress"
a=\$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", \$4); print \$4; exit }')
echo "row=\$1 addr=\$a"
EOF
chmod +x "$T/slow.sh"
timeout -k 5 60 "$PARADE" run --launch "ssh:$H1,$H2" --listen "$LISTEN" "${SSHO[@]}" "${RA[@]}" \
	--grid "$T/g60.csv" -- "$T/slow.sh" {n} >"$T/b.csv" 2>"$T/b.err" &
bpid=$!
both_working() {
	[ "$(joined_from "$T/b.err" "$A1")" -ge 1 ] && [ "$(joined_from "$T/b.err" "$A2")" -ge 1 ] &&
		[ "$(wc -l <"$T/progress")" -ge 6 ]
}
wait_for 20 both_working || {
	show_file "$T/b.err"
	fail "(b) the agents of both hosts did not get going within 20 s"
}
is_alive "$bpid" || fail "(b) the run was over before host 1's sessions could be killed"
hosts_sh kill-sessions 1 --all >"$T/b.killed" 2>&1 || {
	show_file "$T/b.killed"
	fail "(b) hosts.sh kill-sessions 1 --all failed"
}
done_at_kill=$(wc -l <"$T/progress")
info "(b) killed host 1's sessions ($(wc -l <"$T/b.killed") processes) after $done_at_kill tasks"
[ "$done_at_kill" -lt $N ] || fail "(b) the run was over before host 1's sessions were killed"
wait_pid "$bpid" 60 || fail "(b) parade run did not finish within 60 s"
expect_rc 0 "(b) run whose host 1 lost its ssh sessions" "$T/b.err"
ssh_check_rows "$T/b.csv" $N "(b)"
grep -q "agent .* lost (.*); its [0-9]* task(s) requeued" "$T/b.err" || {
	show_file "$T/b.err"
	fail "(b) no 'agent ... lost ... requeued' line"
}
grep -q "^parade: warning: ssh $H1: .*; starting it again in 1 s\$" "$T/b.err" || {
	show_file "$T/b.err"
	fail "(b) no 'ssh $H1: ...; starting it again in 1 s' line"
}
[ "$(joined_from "$T/b.err" "$A1")" -eq 2 ] || {
	show_file "$T/b.err"
	fail "(b) host 1's agent did not join again after its sessions were killed"
}
[ "$(joined_from "$T/b.err" "$A2")" -eq 1 ] || {
	show_file "$T/b.err"
	fail "(b) host 2's agent joined more than once"
}
if grep -q "ssh $H2: " "$T/b.err"; then
	show_file "$T/b.err"
	fail "(b) host 2's ssh was disturbed"
fi
ssh_assert_clean

# ---- (c) --hostfile with per-host slots ----
cat >"$T/hostfile" <<EOF
# two test hosts
$H1 2
$H2:22 slots=3   # the port written out
EOF
{
	echo n
	seq 1 30
} >"$T/g30.csv"
prun "$T/c.csv" "$T/c.err" --hostfile "$T/hostfile" --listen "$LISTEN" "${SSHO[@]}" "${RA[@]}" \
	--grid "$T/g30.csv" -- "$T/where.sh" {n} 0.1
expect_rc 0 "(c) run with --hostfile" "$T/c.err"
ssh_check_rows "$T/c.csv" 30 "(c)"
if ! grep -q "joined from $A1:[0-9]* (.*, 2 slot(s), ssh)\$" "$T/c.err" ||
	! grep -q "joined from $A2:[0-9]* (.*, 3 slot(s), ssh)\$" "$T/c.err"; then
	show_file "$T/c.err"
	fail "(c) expected an agent with 2 slots from $A1 and one with 3 from $A2"
fi
[ "$(grep -c ' joined from ' "$T/c.err")" -eq 2 ] || {
	show_file "$T/c.err"
	fail "(c) expected exactly two agents"
}
ssh_addr_of "$T/c.csv" | awk -v a1="$A1" -v a2="$A2" '
	$2 == a1 { n1++ } $2 == a2 { n2++ } END { exit !(n1 && n2 && n1 + n2 == 30) }' || {
	show_file "$T/c.csv"
	fail "(c) the tasks did not all run on the two hosts (both of them)"
}
ssh_assert_clean

# ---- (d) parade launch ssh / parade-agent ssh for a --launch none run ----
# host 2's agent (parade-agent ssh) joins first; the tasks wait until host
# 1's (parade launch ssh) has joined too, so both take part for sure
{
	echo n
	seq 1 20
} >"$T/g20.csv"
timeout -k 5 60 "$PARADE" run --launch none --name D --listen "$LISTEN" --grid "$T/g20.csv" \
	-- "$T/where.sh" {n} 0.02 "$T/d.err" "joined from $A1:" >"$T/d.csv" 2>"$T/d.err" &
dpid=$!
conn=$T/sessions/D/connection
wait_for 10 test -s "$conn" || {
	show_file "$T/d.err"
	fail "(d) no connection file $conn"
}
timeout -k 5 60 "$AGENT" ssh "$H2" --connect "$conn" "${SSHO[@]}" "${RA[@]}" \
	>"$T/d2.out" 2>"$T/d2.err" &
l2=$!
wait_for 15 grep -q "joined from $A2:" "$T/d.err" || {
	show_file "$T/d.err"
	show_file "$T/d2.err"
	fail "(d) no agent joined from $A2 (parade-agent ssh)"
}
timeout -k 5 60 "$PARADE" launch ssh "$H1" --session D "${SSHO[@]}" "${RA[@]}" \
	>"$T/d1.out" 2>"$T/d1.err" &
l1=$!
wait_pid "$dpid" 60 || fail "(d) parade run --launch none did not finish"
expect_rc 0 "(d) run served by parade launch ssh and parade-agent ssh" "$T/d.err"
ssh_check_rows "$T/d.csv" 20 "(d)"
wait_pid "$l1" 20 || fail "(d) parade launch ssh did not end after the run"
expect_rc 0 "(d) parade launch ssh" "$T/d1.err"
wait_pid "$l2" 20 || fail "(d) parade-agent ssh did not end after the run"
expect_rc 0 "(d) parade-agent ssh" "$T/d2.err"
for a in "$A1" "$A2"; do
	[ "$(joined_from "$T/d.err" "$a")" -eq 1 ] || {
		show_file "$T/d.err"
		fail "(d) expected one agent joined over ssh from $a"
	}
done
[ ! -e "$conn" ] || fail "(d) the connection file is still there after the run"
ssh_assert_clean

info "ok"
