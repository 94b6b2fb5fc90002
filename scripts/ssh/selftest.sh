#!/usr/bin/env bash
# selftest.sh - end-to-end check of scripts/ssh/hosts.sh (needs root).
#
# Brings up 2 direct-mode hosts and 1 --no-route host, each in a mktemp -d
# folder, and checks: ssh logins with SSH_TEST_OPTS (and SSH_TEST_CONFIG);
# that the sessions really run inside the namespaces; that in direct mode
# a host reaches SSH_TEST_HOST_ADDR, and that with --no-route it does not
# but a reverse tunnel (ssh -R) does; kill-sessions; each `break` mode and
# its ssh error; `down` after a partial `up`; and that after `down` nothing
# is left. A trap always runs `down`. Ends with "N passed, M failed" and
# exits 0 only if everything passed.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
H=$HERE/hosts.sh
T_START=$(date +%s%N)
pass=0
fail=0
DIRS=()
LISTENERS=()

now_ms() { echo $((($(date +%s%N) - T_START) / 1000000)); }
ok() {
	pass=$((pass + 1))
	echo "ok - $*"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $*"
}
# check NAME CMD...: passes if CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# expect_fail NAME REGEX CMD...: passes if CMD fails and its output matches.
expect_fail() {
	local name=$1 re=$2 out rc
	shift 2
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && grep -Eq -- "$re" <<<"$out"; then
		ok "$name (exit $rc: $(grep -Em1 -- "$re" <<<"$out"))"
	else
		not_ok "$name: exit $rc, wanted failure matching /$re/; output:"
		printf '    %s\n' "${out//$'\n'/$'\n'    }"
	fi
}
phase() { echo "# [$(now_ms) ms] $*"; }

cleanup() {
	local p d
	for p in "${LISTENERS[@]}"; do kill "$p" 2>/dev/null; done
	for d in "${DIRS[@]}"; do
		[ -e "$d" ] && "$H" down "$d"
	done
	[ -n "${W:-}" ] && rm -rf -- "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || {
	echo "selftest.sh: needs root" >&2
	exit 1
}

W=$(mktemp -d /tmp/pdt-selftest.XXXXXX)
D1=$(mktemp -d /tmp/pdt-hosts1.XXXXXX)
D2=$(mktemp -d /tmp/pdt-hosts2.XXXXXX)
D3=$(mktemp -d /tmp/pdt-hosts3.XXXXXX)
D4=$(mktemp -d /tmp/pdt-hosts4.XXXXXX)
DIRS=("$D1" "$D2" "$D3" "$D4")

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		ss -Hltn "sport = :$p" | grep -q . || break
	done
	echo "$p"
}

# listen ADDR PORT FILE: a host-side TCP listener appending what it gets to FILE.
listen() {
	local i
	socat -u "TCP-LISTEN:$2,bind=$1,reuseaddr,fork" "OPEN:$3,creat,append" </dev/null >/dev/null 2>>"$W/socat.log" &
	LISTENERS+=($!)
	for ((i = 0; i < 50; i++)); do
		ss -Hltn "src $1 and sport = :$2" | grep -q . && return 0
		sleep 0.05
	done
	echo "listener on $1:$2 did not start" >&2
	return 1
}

# wait_for FILE TEXT: up to 5 s for TEXT to show up in FILE.
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qxF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# load DIR PREFIX: copy DIR/env.sh's SSH_TEST_* into PREFIX_* variables.
load() {
	local v
	# shellcheck disable=SC1091
	. "$1/env.sh" || return 1
	for v in DIR KEY KNOWN_HOSTS CONFIG OPTS HOSTS ADDRS PORT HOST_ADDR NS MODE; do
		eval "$2_$v=\${SSH_TEST_$v}"
	done
}

# remote HOST CMD: ssh with the env options (of the last load'ed dir).
rssh() {
	local host=$1
	shift
	# shellcheck disable=SC2086
	timeout 30 ssh $OPTS "$host" "$@" </dev/null
}

# everything that must be gone after `down` of DIR (whose hosts file was
# saved in SAVED): namespaces, links, processes in them or naming DIR/.
nothing_left() {
	local dir=$1 saved=$2 i ns vh inode bad=0 p l
	[ -e "$dir" ] && {
		echo "    $dir still exists"
		bad=1
	}
	while read -r i ns vh _ _ _ _ inode; do
		if ip netns list | awk '{print $1}' | grep -qxF -- "$ns"; then
			echo "    namespace $ns still exists"
			bad=1
		fi
		if ip link show dev "$vh" >/dev/null 2>&1; then
			echo "    link $vh still exists"
			bad=1
		fi
		for p in /proc/[0-9]*; do
			l=$(readlink "$p/ns/net" 2>/dev/null) || continue
			if [ "$l" = "net:[$inode]" ]; then
				echo "    process ${p#/proc/} still in $ns"
				bad=1
			fi
		done
	done <"$saved"
	for p in $(grep -laF -- "$dir/" /proc/[0-9]*/cmdline 2>/dev/null || true); do
		p=${p%/cmdline}
		[ "${p#/proc/}" = $$ ] && continue
		if grep -qaF -- "$dir/" "$p/cmdline" 2>/dev/null; then
			echo "    process ${p#/proc/} names $dir/: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
			bad=1
		fi
	done
	return $bad
}

echo "# hosts.sh selftest"

# --- direct mode: 2 hosts ---------------------------------------------------
phase "up $D1 2"
t=$(now_ms)
check "up 2 hosts (direct)" "$H" up "$D1" 2
echo "#   up took $(($(now_ms) - t)) ms"
load "$D1" A || not_ok "load $D1/env.sh"
cp "$D1/hosts" "$W/hosts1"
OPTS=$A_OPTS
check "env.sh: all SSH_TEST_ variables set" test -n "$A_KEY" -a -n "$A_KNOWN_HOSTS" -a -n "$A_OPTS" \
	-a -n "$A_HOSTS" -a -n "$A_HOST_ADDR" -a -n "$A_NS" -a "$A_MODE" = direct
read -r -a A_H <<<"$A_HOSTS"
read -r -a A_A <<<"$A_ADDRS"
check "2 hosts listed" test ${#A_H[@]} -eq 2

my_netns=$(readlink /proc/self/ns/net)
for n in 0 1; do
	out=$(rssh "${A_H[n]}" 'ip -4 -o addr show; readlink /proc/self/ns/net' 2>&1)
	if grep -qF " ${A_A[n]}/32 " <<<"$out" && ! grep -qxF "$my_netns" <<<"$out"; then
		ok "ssh login to ${A_H[n]} runs inside its namespace"
	else
		not_ok "ssh login to ${A_H[n]}: $out"
	fi
done
check "ssh -F SSH_TEST_CONFIG works" timeout 30 ssh -F "$A_CONFIG" "${A_A[0]}" true </dev/null
check "exec runs inside host 1" bash -c "'$H' exec '$D1' 1 ip -4 -o addr show | grep -qF ' ${A_A[0]}/32 '"

P=$(free_port)
listen "$A_HOST_ADDR" "$P" "$W/direct.txt" || not_ok "start listener"
check "direct: host 1 reaches $A_HOST_ADDR:$P (exec)" \
	"$H" exec "$D1" 1 timeout 5 bash -c "echo direct-1 > /dev/tcp/$A_HOST_ADDR/$P"
check "direct: host 2 reaches $A_HOST_ADDR:$P (ssh session)" \
	rssh "${A_H[1]}" "timeout 5 bash -c 'echo direct-2 > /dev/tcp/$A_HOST_ADDR/$P'"
both_arrived() { wait_for "$W/direct.txt" direct-1 && wait_for "$W/direct.txt" direct-2; }
check "direct: listener got both" both_arrived

# --- no-route mode: 1 host ----------------------------------------------------
phase "up $D2 1 --no-route"
t=$(now_ms)
check "up 1 host (--no-route)" "$H" up "$D2" 1 --no-route
echo "#   up took $(($(now_ms) - t)) ms"
load "$D2" B || not_ok "load $D2/env.sh"
cp "$D2/hosts" "$W/hosts2"
OPTS=$B_OPTS
check "no-route: mode recorded" test "$B_MODE" = no-route
check "no-route: ssh login works" rssh "$B_HOSTS" true
P2=$(free_port)
listen "$B_HOST_ADDR" "$P2" "$W/noroute.txt" || not_ok "start listener"
listen 127.0.0.1 "$P2" "$W/tunnel.txt" || not_ok "start listener"
expect_fail "no-route: host cannot reach $B_HOST_ADDR:$P2" 'unreachable|timed out|refused' \
	"$H" exec "$D2" 1 timeout 5 bash -c "echo leak > /dev/tcp/$B_HOST_ADDR/$P2"
expect_fail "no-route: not from an ssh session either" 'unreachable|timed out|refused' \
	rssh "$B_HOSTS" "timeout 5 bash -c 'echo leak > /dev/tcp/$B_HOST_ADDR/$P2'"
P3=$(free_port)
check "no-route: reverse tunnel (ssh -R) reaches the host's listener" \
	rssh "$B_HOSTS" -o ExitOnForwardFailure=yes -R "127.0.0.1:$P3:127.0.0.1:$P2" \
	"timeout 5 bash -c 'echo hi > /dev/tcp/127.0.0.1/$P3'"
check "no-route: listener got 'hi' through the tunnel" wait_for "$W/tunnel.txt" hi
check "no-route: nothing leaked to $B_HOST_ADDR:$P2" test ! -s "$W/noroute.txt"

# --- kill-sessions -------------------------------------------------------------
phase "kill-sessions"
rssh "$B_HOSTS" 'sleep 60' >"$W/killed.out" 2>&1 &
sshpid=$!
killed=
for ((i = 0; i < 100; i++)); do
	killed=$("$H" kill-sessions "$D2" 1 2>/dev/null) && break
	sleep 0.05
done
check "kill-sessions killed something (${killed//$'\n'/ })" test -n "$killed"
rc=0
for ((i = 0; i < 100; i++)); do
	kill -0 "$sshpid" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$sshpid" 2>/dev/null; then
	kill "$sshpid"
	not_ok "ssh still running 5 s after kill-sessions"
else
	wait "$sshpid"
	rc=$?
	check "ssh session ended with 255 ($(tr -d '\r' <"$W/killed.out" | head -n1))" test $rc -eq 255
fi
check "listener survives kill-sessions: login works" rssh "$B_HOSTS" true

# --- break -----------------------------------------------------------------------
phase "break"
OPTS=$A_OPTS
P4=$(free_port)
holder=$("$H" break "$D1" 1 port "$P4")
check "break port printed the pid of a process inside host 1 ($holder)" \
	test -n "$holder" -a "$(ip netns identify "$holder" 2>/dev/null)" = "$(awk '$1 == 1 { print $2 }' "$D1/hosts")"
expect_fail "break port: ssh -R fails" "remote port forwarding failed for listen port $P4" \
	rssh "${A_H[0]}" -o ExitOnForwardFailure=yes -R "127.0.0.1:$P4:127.0.0.1:$P" true
"$H" break "$D1" 1 auth
expect_fail "break auth: ssh fails" 'Permission denied \(publickey\)' rssh "${A_H[0]}" true
"$H" break "$D1" 2 hostkey
expect_fail "break hostkey: ssh fails" 'Host key verification failed' rssh "${A_H[1]}" true
OPTS=$B_OPTS
check "other dirs' hosts unaffected" rssh "$B_HOSTS" true

# --- partial up ---------------------------------------------------------------------
phase "partial up"
PDT_HOSTS_FAIL_AT=sshd-2 PDT_HOSTS_KEEP=1 "$H" up "$D3" 2 >"$W/partial.out" 2>&1
check "up stopped on purpose at host 2's sshd fails" test $? -ne 0
cp "$D3/hosts" "$W/hosts3" 2>/dev/null || : >"$W/hosts3"
check "and kept what it made (PDT_HOSTS_KEEP=1)" test -s "$W/hosts3" -a -s "$D3/sshd-1.pid"
check "down after a partial up" "$H" down "$D3"
check "nothing left of the partial up" nothing_left "$D3" "$W/hosts3"
PDT_HOSTS_FAIL_AT=ns-2 "$H" up "$D4" 2 >"$W/partial4.out" 2>&1
check "up failing at host 2's namespace fails" test $? -ne 0
tag4=$(grep -Eo 'pdt-[0-9a-f]{6}-' "$W/partial4.out" | head -n1)
check "a failed up removes what it made (${tag4}*)" \
	test -n "$tag4" -a ! -e "$D4" -a -z "$(ip netns list | grep -F -- "$tag4")"

# --- down ------------------------------------------------------------------------
phase "down"
t=$(now_ms)
check "down $D1" "$H" down "$D1"
check "down $D2" "$H" down "$D2"
echo "#   down took $(($(now_ms) - t)) ms"
check "nothing left of $D1" nothing_left "$D1" "$W/hosts1"
check "nothing left of $D2" nothing_left "$D2" "$W/hosts2"
check "down again is a no-op" "$H" down "$D1"

phase "done"
echo "# total $(now_ms) ms"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
