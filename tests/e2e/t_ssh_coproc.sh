#!/bin/bash
# t_ssh_coproc.sh - the coprocess handler on agents started over ssh, on two
# throwaway hosts (scripts/ssh/hosts.sh: network namespaces with a real
# sshd). The coprocess COMMAND spans several lines and holds single and
# double quotes, '$', '$(...)', backquotes, ';' and '|'; it answers each
# line with the line, the address of the host it runs on, its own pid and a
# quoted literal, so every answer shows that COMMAND reached the remote
# agent byte for byte and that the coprocess ran there:
#   (a) --launch ssh:H1,H2 --slots 2 --handler coproc:'...': 30 rows all ok
#       exactly once, both hosts used, at most 2 coprocesses per host (one
#       per slot, not one per task);
#   (b) the same through --remote-connect-file (the coprocess sees the
#       copied connection file; it is removed at the end);
#   (c) `parade launch ssh --coproc` and `parade-agent ssh --coproc`
#       joining a --launch none coproc controller;
#   (d) an agent started by `parade-agent ssh` without --coproc is refused
#       (both sides say why), takes no task, and the run goes on to finish
#       on one started with --coproc.
# After each run nothing is left, neither here nor in the namespaces, and
# no remote agent wrote a sanitizer report.
. "$(dirname "$0")/lib.sh"
# runs here take seconds: one that hangs fails the test sooner
PRUN_TIMEOUT=30

ssh_hosts_up 2
H1=${SSH_H[1]} H2=${SSH_H[2]} A1=${SSH_A[1]} A2=${SSH_A[2]}
LISTEN=tls+tcp://$SSH_TEST_HOST_ADDR:0
# The remote agents' stderr reaches the log only with -v: in a sanitizer
# build their reports go to files in $T/san instead, checked after each run.
mkdir "$T/san" || fail "mkdir $T/san"
cat >"$T/agent.sh" <<EOF
#!/bin/sh
ASAN_OPTIONS=log_path=$T/san/asan UBSAN_OPTIONS=log_path=$T/san/ubsan
export ASAN_OPTIONS UBSAN_OPTIONS
exec "$AGENT" "\$@"
EOF
chmod +x "$T/agent.sh"
RA=(--remote-agent "$T/agent.sh")

# clean WHAT: nothing left running, no sanitizer report from a remote agent.
clean() {
	local f
	ssh_assert_clean
	for f in "$T"/san/*; do
		[ -e "$f" ] || continue
		show_file "$f" 40
		fail "$1: a remote agent's sanitizer report ($f)"
	done
}

# The literal every answer carries: it must come back unexpanded.
LIT='it'"'"'s "$HOME"; `x` $(y) | z'

# Session names: the coprocess looks for its --remote-connect-file copy,
# ~/.parade/remote-NAME.INDEX.conn (root's HOME, shared with other tests).
NAME=cp-$$-$RANDOM

# coproc_cmd [GATE_FILE TEXT...]: prints the COMMAND. With a gate, the
# coprocess first waits (up to 20 s) until GATE_FILE holds every TEXT (no
# quote in them): the tasks are quick, and without it the first agent to
# join could answer them all.
coproc_cmd() {
	local f g
	if [ $# -gt 0 ]; then
		f=$1
		shift
		for g in "$@"; do
			printf 'i=0; until grep -qF -- %s %s 2>/dev/null; do\n' "'$g'" "'$f'"
			printf '\ti=$((i + 1)); [ "$i" -ge 200 ] && exit 3; sleep 0.1\ndone\n'
		done
	fi
	printf 'p=%s\n' "$NAME"
	cat <<'EOF'
a=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
c=no; for f in "$HOME/.parade/remote-$p".*.conn; do [ -s "$f" ] && c=yes; done
m='it'\''s "$HOME"; `x` $(y) | z'
while IFS= read -r l; do
	printf '%s addr=%s pid=%s conn=%s m=%s\n' "$l" "$a" "$$" "$c" "$m"
done
EOF
}
CP=$(coproc_cmd)
# both_joined ERR: the COMMAND whose coprocesses wait for both hosts' agents
both_joined() {
	coproc_cmd "$1" "joined from $A1:" "joined from $A2:"
}
case $CP in *"'"*'"'*'$'*) ;; *) fail "the coprocess command lost its quotes: $CP" ;; esac

# check_answers CSV N WHAT [CONN]: every row ok exactly once, its answer
# 'row=N addr=A pid=P conn=CONN m=LIT' with A one of the hosts; prints
# 'addr pid' per row to CSV.where.
check_answers() {
	local csv=$1 n=$2 what=$3 conn=${4:-no} bad
	ssh_check_rows "$csv" "$n" "$what"
	bad=$(csv_flat "$csv" | awk -F'\037' -v a1="$A1" -v a2="$A2" -v lit="$LIT" \
		-v conn="$conn" -v where="$csv.where" '
		NR == 1 { next }
		{
			want = "row=" $1 " addr="
			s = substr($6, length(want) + 1)
			split(s, w, " ")
			m = s
			sub(/^[^ ]* [^ ]* [^ ]* m=/, "", m)
			if (substr($6, 1, length(want)) != want) bad = "answer \"" $6 "\""
			else if (w[1] != a1 && w[1] != a2) bad = "ran at \"" w[1] "\""
			else if (w[2] !~ /^pid=[0-9]+$/) bad = "no pid in \"" $6 "\""
			else if (w[3] != "conn=" conn) bad = w[3] ", expected conn=" conn
			else if (m != lit) bad = "literal \"" m "\", expected \"" lit "\""
			if (bad) { print "row " $1 ": " bad; exit }
			print w[1], substr(w[2], 5) > where
		}')
	if [ -n "$bad" ]; then
		show_file "$csv" 10
		fail "$what: $bad"
	fi
}

# both_hosts WHERE WHAT MAXPIDS: tasks ran on both hosts, each host's
# answers came from at most MAXPIDS coprocesses.
both_hosts() {
	local bad
	bad=$(awk -v a1="$A1" -v a2="$A2" -v max="$3" '
		{ n[$1]++; if (!(($1, $2) in p)) { p[$1, $2] = 1; np[$1]++ } }
		END {
			if (!n[a1] || !n[a2]) {
				print "not both hosts: " n[a1] + 0 " and " n[a2] + 0 " rows"
				exit
			}
			if (np[a1] > max || np[a2] > max)
				print np[a1] " and " np[a2] " coprocesses, at most " max " expected"
		}' "$1")
	[ -z "$bad" ] || fail "$2: $bad"
}

{
	echo n
	seq 1 30
} >"$T/g30.csv"

# ---- (a) --launch ssh:H1,H2 with a coprocess per slot ----
prun "$T/a.csv" "$T/a.err" --launch "ssh:$H1,$H2" --slots 2 --listen "$LISTEN" "${SSHO[@]}" \
	"${RA[@]}" --grid "$T/g30.csv" --handler coproc:"$(both_joined "$T/a.err")" -- row={n}
expect_rc 0 "(a) --launch ssh:$H1,$H2 --handler coproc:..." "$T/a.err"
check_answers "$T/a.csv" 30 "(a)"
both_hosts "$T/a.csv.where" "(a)" 2
for a in "$A1" "$A2"; do
	[ "$(grep -c "joined from $a:[0-9]* (.*, 2 slot(s), ssh)\$" "$T/a.err")" -eq 1 ] || {
		show_file "$T/a.err"
		fail "(a) expected one agent with 2 slots joined over ssh from $a"
	}
done
clean "(a)"

# ---- (b) the same through --remote-connect-file ----
prun "$T/b.csv" "$T/b.err" --name "$NAME" --launch "ssh:$H1,$H2" --remote-connect-file \
	--listen "$LISTEN" "${SSHO[@]}" "${RA[@]}" --grid "$T/g30.csv" \
	--handler coproc:"$(both_joined "$T/b.err")" -- row={n}
expect_rc 0 "(b) --remote-connect-file --handler coproc:..." "$T/b.err"
check_answers "$T/b.csv" 30 "(b)" yes
both_hosts "$T/b.csv.where" "(b)" 1
# the remote HOME is root's, on this same file system
rhome=$(hosts_sh exec 1 sh -c 'cd && pwd -P') || fail "(b) hosts.sh exec failed"
for i in 0 1; do
	[ ! -e "$rhome/.parade/remote-$NAME.$i.conn" ] ||
		fail "(b) the remote copy $rhome/.parade/remote-$NAME.$i.conn was left behind"
done
clean "(b)"

# ---- (c) parade launch ssh / parade-agent ssh --coproc for a --launch none run ----
# host 2's agent (parade-agent ssh) joins first; its coprocess answers
# only once host 1's (parade launch ssh) has joined, so both take part
timeout -k 5 60 "$PARADE" run --launch none --name "$NAME-c" --listen "$LISTEN" \
	--grid "$T/g30.csv" --handler coproc:"$CP" -- row={n} >"$T/c.csv" 2>"$T/c.err" &
cpid=$!
conn=$T/sessions/$NAME-c/connection
wait_for 10 test -s "$conn" || {
	show_file "$T/c.err"
	fail "(c) no connection file $conn"
}
timeout -k 5 60 "$AGENT" ssh "$H2" --connect "$conn" "${SSHO[@]}" "${RA[@]}" \
	--coproc "$(coproc_cmd "$T/c.err" "joined from $A1:")" >"$T/c2.out" 2>"$T/c2.err" &
l2=$!
wait_for 15 grep -q "joined from $A2:" "$T/c.err" || {
	show_file "$T/c.err"
	show_file "$T/c2.err"
	fail "(c) no agent joined from $A2 (parade-agent ssh)"
}
timeout -k 5 60 "$PARADE" launch ssh "$H1" --session "$NAME-c" "${SSHO[@]}" "${RA[@]}" \
	--coproc "$CP" >"$T/c1.out" 2>"$T/c1.err" &
l1=$!
wait_pid "$cpid" 60 || fail "(c) parade run --launch none did not finish"
expect_rc 0 "(c) coproc run served by parade launch ssh and parade-agent ssh" "$T/c.err"
check_answers "$T/c.csv" 30 "(c)"
both_hosts "$T/c.csv.where" "(c)" 1
wait_pid "$l1" 20 || fail "(c) parade launch ssh did not end after the run"
expect_rc 0 "(c) parade launch ssh --coproc" "$T/c1.err"
wait_pid "$l2" 20 || fail "(c) parade-agent ssh did not end after the run"
expect_rc 0 "(c) parade-agent ssh --coproc" "$T/c2.err"
clean "(c)"

# ---- (d) an ssh agent without --coproc is refused; one with it runs all ----
{
	echo n
	seq 1 3
} >"$T/g3.csv"
timeout -k 5 60 "$PARADE" run --launch none --name "$NAME-d" --listen "$LISTEN" \
	--grid "$T/g3.csv" --handler coproc:"$CP" -- row={n} >"$T/d.csv" 2>"$T/d.err" &
dpid=$!
conn=$T/sessions/$NAME-d/connection
wait_for 10 test -s "$conn" || {
	show_file "$T/d.err"
	fail "(d) no connection file"
}
timeout -k 5 30 "$AGENT" ssh "$H1" --session "$NAME-d" "${SSHO[@]}" "${RA[@]}" \
	>"$T/d1.out" 2>"$T/d1.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || {
	show_file "$T/d1.err"
	fail "(d) parade-agent ssh without --coproc: exit $rc, expected a refusal"
}
grep -q "refused this agent: this session's tasks go to a coprocess (--handler coproc:): start the agent with --coproc COMMAND" "$T/d1.err" || {
	show_file "$T/d1.err"
	fail "(d) the refused agent does not say why"
}
grep -q "refused connection from $A1:[0-9]*: the agent has no coprocess (--coproc)" "$T/d.err" || {
	show_file "$T/d.err"
	fail "(d) the controller does not say why it refused the agent"
}
is_alive "$dpid" || {
	show_file "$T/d.err"
	fail "(d) the run ended with no agent to run it"
}
timeout -k 5 30 "$AGENT" ssh "$H2" --session "$NAME-d" --coproc "$CP" "${SSHO[@]}" "${RA[@]}" \
	>"$T/d2.out" 2>"$T/d2.err" &
l2=$!
wait_pid "$dpid" 30 || fail "(d) the run did not finish once an agent with --coproc joined"
expect_rc 0 "(d) the run after a refused agent" "$T/d.err"
bad=$(csv_flat "$T/d.csv" | awk -F'\037' -v a="$A2" '
	NR > 1 && ($2 != "ok" || index($6, a) == 0) { print "row " $1 ": " $2 " (" $6 $7 ")"; exit }
	END { if (NR != 4) print NR - 1 " rows, expected 3" }')
[ -z "$bad" ] || {
	show_file "$T/d.csv"
	fail "(d) $bad"
}
wait_pid "$l2" 20 || fail "(d) parade-agent ssh --coproc did not end after the run"
expect_rc 0 "(d) parade-agent ssh --coproc" "$T/d2.err"
clean "(d)"

info "ok"
