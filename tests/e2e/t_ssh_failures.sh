#!/bin/bash
# t_ssh_failures.sh - ssh hosts that do not work, each failure provoked
# for real (scripts/ssh/hosts.sh), next to a good host and alone:
#   unreachable      an address of the test subnet with no host there
#   auth             host 2's authorized_keys emptied
#   hostkey          host 3 given a new host key
#   agent missing    no agent program there (--remote-agent)
#   port taken       host 4's tunnel port occupied (--tunnel-port P)
# With a good host too, the run completes (all rows ok, on the good host)
# and stderr has a line naming the bad host with ssh's own message; with
# bad hosts only, the run ends with status 2, "no agent is left on the ssh
# hosts (K of K failed)" and a "failed:" summary line per host.
# The tasks of the mixed runs wait until the bad host's line is in the
# log, so that the run is sure to last long enough for it.
. "$(dirname "$0")/lib.sh"
# runs here take seconds: one that hangs fails the test sooner
PRUN_TIMEOUT=30

ssh_hosts_up 4
H1=${SSH_H[1]} H2=${SSH_H[2]} H3=${SSH_H[3]} H4=${SSH_H[4]} A1=${SSH_A[1]} A2=${SSH_A[2]}
LISTEN=tls+tcp://$SSH_TEST_HOST_ADDR:0
RA=(--remote-agent "$AGENT")
# hosts.sh gives host i the address .(i+1): nothing answers at .250
BADADDR=$SSH_NET.250
HU=root@$BADADDR
ssh_where_script "$T/where.sh"
{
	echo n
	seq 1 10
} >"$T/g10.csv"

# need_line ERR WHAT ERE: ERR has a line matching the extended regexp ERE
need_line() {
	grep -Eq -- "$3" "$1" || {
		show_file "$1" 40
		fail "$2: no line matching: $3"
	}
}

# mixed TAG BADHOST ARGS...: runs the 10-row grid on H1 and BADHOST
# (ARGS: further options, before the hosts' ssh options); the tasks wait
# for "ssh BADHOST: " in the log. Checks status 0, all rows ok, all on
# host 1. The log is $T/TAG.err.
mixed() {
	local tag=$1 bad=$2
	shift 2
	prun "$T/$tag.csv" "$T/$tag.err" --launch "ssh:$H1,$bad" --listen "$LISTEN" "$@" \
		"${SSHO[@]}" --grid "$T/g10.csv" -- "$T/where.sh" {n} 0 "$T/$tag.err" "ssh $bad: "
	expect_rc 0 "($tag) run on $H1 and the bad $bad" "$T/$tag.err"
	ssh_check_rows "$T/$tag.csv" 10 "($tag)"
	ssh_addr_of "$T/$tag.csv" | awk -v a="$A1" '$2 != a { bad = 1 } END { exit bad }' || {
		show_file "$T/$tag.csv"
		fail "($tag) some task did not run on the good host $A1"
	}
	need_line "$T/$tag.err" "($tag)" "joined from $A1:[0-9]* \(.*, ssh\)\$"
	[ "$(grep -c ' joined from ' "$T/$tag.err")" -eq 1 ] || {
		show_file "$T/$tag.err"
		fail "($tag) expected exactly one agent (from the good host)"
	}
}

# all_bad TAG K ARGS...: a run whose K hosts (in ARGS) all fail: status 2,
# no rows, the summary line. The log is $T/TAG.err.
all_bad() {
	local tag=$1 k=$2
	shift 2
	prun "$T/$tag.csv" "$T/$tag.err" "$@" --grid "$T/g10.csv" -- "$T/where.sh" {n}
	expect_rc 2 "($tag) run on bad hosts only" "$T/$tag.err"
	[ "$(csv_flat "$T/$tag.csv" | wc -l)" -eq 1 ] || {
		show_file "$T/$tag.csv"
		fail "($tag) rows in the table of a run without any working host"
	}
	need_line "$T/$tag.err" "($tag)" \
		"^parade: error: no agent is left on the ssh hosts \($k of $k failed\); giving up\$"
}

# ---- unreachable, alone: five tries (ConnectTimeout=2) with 1+2+4+8 s
# between them take ~25 s: it runs in the background meanwhile ----
timeout -k 5 60 "$PARADE" run --launch "ssh:$HU" --listen "$LISTEN" --ssh-opt ConnectTimeout=2 \
	"${SSHO[@]}" "${RA[@]}" --grid "$T/g10.csv" -- "$T/where.sh" {n} >"$T/u0.csv" 2>"$T/u0.err" &
u0pid=$!
SSH_BUSY=$u0pid # not a stray for the checks in between
# the retries seen: the first failure is not given up on
UNREACH='(timed out|No route to host|Network is unreachable|Connection refused)'

# ---- unreachable, with a good host ----
mixed u1 "$HU" --ssh-opt ConnectTimeout=2 "${RA[@]}"
need_line "$T/u1.err" "(u1)" \
	"^parade: warning: ssh $HU: ssh failed \[exit 255\]: .*$UNREACH.*; starting it again in 1 s\$"

# ---- agent program missing, with a good host: the same program path on
# both (one file system), a wrapper that finds no agent on host 2 only ----
cat >"$T/agent-or-none.sh" <<EOF
#!/bin/sh
# host 2 ($A2) has no agent program; the others run $AGENT
case " \$(ip -4 -o addr show scope global) " in
*" $A2/"*) exec /nonexistent/parade-agent "\$@" ;;
esac
exec "$AGENT" "\$@"
EOF
chmod +x "$T/agent-or-none.sh"
mixed m1 "$H2" --remote-agent "$T/agent-or-none.sh"
need_line "$T/m1.err" "(m1)" "^parade: error: ssh $H2: giving up: the agent program was not found there \(see --remote-agent\) \[exit 127\]: .*/nonexistent/parade-agent: (not found|No such file or directory)\$"

# ---- agent program missing, alone (the real --remote-agent path) ----
all_bad m0 2 --launch "ssh:$H1,$H2" --listen "$LISTEN" "${SSHO[@]}" \
	--remote-agent /nonexistent/parade-agent
for h in "$H1" "$H2"; do
	need_line "$T/m0.err" "(m0)" "^parade: error: ssh $h: failed: the agent program was not found there \(see --remote-agent\) \[exit 127\]: .*/nonexistent/parade-agent: No such file or directory\$"
done
ssh_assert_clean

# ---- authentication refused ----
hosts_sh break 2 auth >"$T/break.log" 2>&1 || {
	show_file "$T/break.log"
	fail "hosts.sh break 2 auth failed"
}
mixed a1 "$H2" "${RA[@]}"
need_line "$T/a1.err" "(a1)" \
	"^parade: error: ssh $H2: giving up: authentication refused \[exit 255\]: .*Permission denied.*\$"

# ---- host key mismatch ----
hosts_sh break 3 hostkey >"$T/break.log" 2>&1 || {
	show_file "$T/break.log"
	fail "hosts.sh break 3 hostkey failed"
}
mixed k1 "$H3" "${RA[@]}"
need_line "$T/k1.err" "(k1)" \
	"^parade: error: ssh $H3: giving up: host key verification failed \[exit 255\]: .*Host key verification failed.*\$"

# ---- the tunnel's remote port taken ----
TP=$((20000 + RANDOM % 30000))
hosts_sh break 4 port "$TP" >"$T/break.log" 2>&1 || {
	show_file "$T/break.log"
	fail "hosts.sh break 4 port $TP failed"
}
prun "$T/p1.csv" "$T/p1.err" --launch "ssh:$H1,$H4" --tunnel --tunnel-port "$TP" "${RA[@]}" \
	"${SSHO[@]}" --grid "$T/g10.csv" -- "$T/where.sh" {n} 0 "$T/p1.err" "ssh $H4: "
expect_rc 0 "(p1) --tunnel run on $H1 and $H4 (port $TP taken there)" "$T/p1.err"
ssh_check_rows "$T/p1.csv" 10 "(p1)"
ssh_addr_of "$T/p1.csv" | awk -v a="$A1" '$2 != a { bad = 1 } END { exit bad }' || {
	show_file "$T/p1.csv"
	fail "(p1) some task did not run on the good host $A1"
}
need_line "$T/p1.err" "(p1)" "joined from 127\.0\.0\.1:[0-9]* \(.*, ssh\)\$"
need_line "$T/p1.err" "(p1)" \
	"^parade: error: ssh $H4: giving up: the tunnel's remote port $TP is taken on that host \(choose another with --tunnel-port, or leave it out\) \[exit 255\]: .*remote port forwarding failed for listen port $TP\$"
ssh_assert_clean

# ---- auth, host key and port, all at once and alone ----
all_bad x0 3 --launch "ssh:$H2,$H3,$H4" --tunnel --tunnel-port "$TP" "${RA[@]}" "${SSHO[@]}"
need_line "$T/x0.err" "(x0)" "^parade: error: ssh $H2: failed: authentication refused \[exit 255\]: .*Permission denied"
need_line "$T/x0.err" "(x0)" "^parade: error: ssh $H3: failed: host key verification failed \[exit 255\]: .*Host key verification failed"
need_line "$T/x0.err" "(x0)" "^parade: error: ssh $H4: failed: the tunnel's remote port $TP is taken .*remote port forwarding failed"
ssh_assert_clean

# ---- unreachable, alone: the background run ----
wait_pid "$u0pid" 60 || fail "(u0) the run on an unreachable host did not end"
SSH_BUSY=
expect_rc 2 "(u0) run on an unreachable host only" "$T/u0.err"
[ "$(csv_flat "$T/u0.csv" | wc -l)" -eq 1 ] || {
	show_file "$T/u0.csv"
	fail "(u0) rows in the table of a run without any working host"
}
[ "$(grep -c "^parade: warning: ssh $HU: ssh failed \[exit 255\]: .*; starting it again in" "$T/u0.err")" -eq 4 ] || {
	show_file "$T/u0.err"
	fail "(u0) expected 4 retries (1, 2, 4, 8 s) before giving up"
}
need_line "$T/u0.err" "(u0)" \
	"^parade: error: ssh $HU: giving up: ssh failed, 5 times in a row \[exit 255\]: .*$UNREACH"
need_line "$T/u0.err" "(u0)" \
	"^parade: error: no agent is left on the ssh hosts \(1 of 1 failed\); giving up\$"
need_line "$T/u0.err" "(u0)" "^parade: error: ssh $HU: failed: ssh failed, 5 times in a row \[exit 255\]: .*$UNREACH"
ssh_assert_clean

info "ok"
