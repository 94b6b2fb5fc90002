# lib.sh - shared helpers for the end-to-end tests (sourced by t_*.sh).
#
# Every test gets its own temporary folder $T (mktemp -d), which is also
# PARADE_HOME. Everything a test starts carries $T in its command line or
# in its environment (PARADE_HOME=$T is exported), so the cleanup trap can
# find what is left behind: it kills it, reports "process left behind: PID
# CMDLINE" and fails the test. Then it removes $T.
#
# Only bash, coreutils, awk, grep, sed (and gnutls-cli) are used.

set -u
export LC_ALL=C

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$E2E_DIR/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
export top_srcdir top_builddir

PARADE=$top_builddir/controller/parade
AGENT=$top_builddir/agent/parade-agent
GAMMA=$top_builddir/examples/gamma/gamma-sim
TEST_NAME=$(basename "$0" .sh)

# Nothing from the caller's environment may steer parade.
unset PARADE_AGENT PARADE_CONNECT PARADE_DEBUG

# Unix socket paths are short (108 bytes): keep $T short too.
tmpbase=${TMPDIR:-/tmp}
if [ ${#tmpbase} -gt 40 ] || [ ! -d "$tmpbase" ] || [ ! -w "$tmpbase" ]; then
	tmpbase=/tmp
fi
T=$(mktemp -d "$tmpbase/pe2e-$TEST_NAME.XXXXXX") || {
	echo "FAIL: $TEST_NAME: mktemp -d failed" >&2
	exit 1
}
case $T in
*/pe2e-"$TEST_NAME".??????) ;;
*)
	echo "FAIL: $TEST_NAME: unexpected temp dir '$T'" >&2
	exit 1
	;;
esac
export PARADE_HOME=$T

for f in "$PARADE" "$AGENT"; do
	if [ ! -x "$f" ]; then
		echo "FAIL: $TEST_NAME: $f is missing (build first; top_builddir=$top_builddir)" >&2
		rm -rf -- "$T"
		exit 1
	fi
done

# ---- reporting ----

info() { echo "# $TEST_NAME: $*" >&2; }

# fail MSG: the test fails with MSG (cleanup runs through the EXIT trap).
# Call it from the test's main shell only, not inside $(...) or a pipe.
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# skip REASON: the whole test cannot run here. It says why and exits 77,
# which run.sh reports as SKIP (never as PASS). Call it before the test
# starts anything. A test that can run only part of its checks prints
# "SKIP: NAME: part: ..." itself and goes on.
skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

# show_file FILE [N]: the first N lines of FILE, indented, for a failure.
show_file() {
	local n=${2:-20}
	if [ -f "$1" ]; then
		echo "  --- $1 (first $n lines):" >&2
		head -n "$n" -- "$1" | sed 's/^/  | /' >&2
	fi
}

# ---- time and processes ----

now_ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local s=${EPOCHREALTIME%[.,]*} f=${EPOCHREALTIME#*[.,]}
		echo $((s * 1000 + 10#${f:0:3}))
	else
		echo $(($(date +%s%N) / 1000000))
	fi
}

. "$(dirname "${BASH_SOURCE[0]}")/../proc.sh"

# find_procs: PIDS gets every live process whose command line or
# environment contains $T, except this shell. Builtins only, so that the
# search itself never shows up.
find_procs() {
	local d p c e
	local -a a
	PIDS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		a=()
		mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
		c="${a[*]:-}"
		a=()
		mapfile -d "" a 2>/dev/null <"$d/environ" || true
		e="${a[*]:-}"
		case "$c $e" in
		*"$T"*) is_alive "$p" && PIDS+=("$p") ;;
		esac
	done
	return 0
}

# find_procs_cmd WORD: PIDS gets live processes whose command line holds
# both $T and WORD (e.g. parade-agent). A child between fork and exec
# still shows its parent's command line (an agent starting a task, slower
# under the sanitizers): a process whose parent has the same command line
# is not counted.
find_procs_cmd() {
	local d p c st pp
	local -a a
	PIDS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		a=()
		mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
		c="${a[*]:-}"
		case "$c" in
		*"$T"*) case "$c" in *"$1"*) ;; *) continue ;; esac ;;
		*) continue ;;
		esac
		st=$(cat "$d/stat" 2>/dev/null) || continue
		st=${st##*) }
		pp=${st#* }
		pp=${pp%% *}
		a=()
		mapfile -d "" a 2>/dev/null <"/proc/$pp/cmdline" || true
		[ "${a[*]:-}" = "$c" ] && continue
		is_alive "$p" && PIDS+=("$p")
	done
	return 0
}

# count_procs_cmd WORD: prints how many such processes run.
count_procs_cmd() {
	find_procs_cmd "$1"
	echo "${#PIDS[@]}"
}

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds (0) or
# the time is up (1).
wait_for() {
	local limit=$1 end
	shift
	end=$(($(now_ms) + ${limit%.*} * 1000))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# wait_pid PID SECONDS: waits for a background child of this shell to end
# and sets RC to its exit status; RC=timeout if it is still running then.
wait_pid() {
	local pid=$1 limit=$2 end
	end=$(($(now_ms) + limit * 1000))
	while is_alive "$pid"; do
		if [ "$(now_ms)" -ge "$end" ]; then
			RC=timeout
			return 1
		fi
		sleep 0.05
	done
	RC=0
	wait "$pid" || RC=$?
	return 0
}

no_procs_left() {
	find_procs
	[ ${#PIDS[@]} -eq 0 ]
}

# report_left: prints one "process left behind" line per process in PIDS.
report_left() {
	local p
	for p in "${PIDS[@]}"; do
		echo "FAIL: $TEST_NAME: process left behind: $p $(cmdline_of "$p")" >&2
	done
}

# assert_no_procs [GRACE]: fails the test if, after GRACE seconds (default
# 3), anything started by the test still runs.
assert_no_procs() {
	if ! wait_for "${1:-3}" no_procs_left; then
		report_left
		kill -9 "${PIDS[@]}" 2>/dev/null
		PIDS=()
		fail "processes were left behind (see above)"
	fi
}

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM HUP
	# a moment for processes that are already on their way out
	if ! wait_for 2 no_procs_left; then
		report_left
		for p in "${PIDS[@]}"; do
			kill -9 "$p" 2>/dev/null
		done
		wait_for 5 no_procs_left || report_left
		echo "FAIL: $TEST_NAME: processes were left behind (killed now)" >&2
		rc=1
	fi
	case $T in
	*/pe2e-"$TEST_NAME".??????) rm -rf -- "$T" ;;
	esac
	exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"' INT TERM HUP

# ---- running parade ----

# wait_endpoint NAME [ERRFILE]: waits up to 10 s for session NAME's
# connection file to name a tls+tcp:// endpoint on 127.0.0.1 (a controller
# started with --listen tls+tcp://127.0.0.1:0); conn gets the file's path
# and port its port. Fails, showing ERRFILE (the controller's stderr,
# default $T/err), if none comes.
wait_endpoint() {
	conn=$T/sessions/$1/connection
	has_endpoint() { grep -q '^endpoint=tls+tcp://127\.0\.0\.1:[0-9][0-9]*$' "$conn" 2>/dev/null; }
	wait_for 10 has_endpoint || {
		show_file "${2:-$T/err}"
		fail "no connection file with a tls+tcp endpoint at $conn"
	}
	port=$(sed -n 's|^endpoint=tls+tcp://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$conn")
}

# prun OUT ERR ARGS...: `parade run ARGS` (stdin as given) with stdout to
# OUT and stderr to ERR, never longer than PRUN_TIMEOUT (60) seconds; RC
# gets the exit status (124 or 137 when it had to be stopped).
prun() {
	local out=$1 err=$2
	shift 2
	RC=0
	timeout -k 5 "${PRUN_TIMEOUT:-60}" "$PARADE" run "$@" >"$out" 2>"$err" || RC=$?
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		show_file "$err"
		fail "parade run $* did not finish within ${PRUN_TIMEOUT:-60} s"
	fi
}

# expect_rc WANT WHAT: fails unless RC is WANT.
expect_rc() {
	if [ "$RC" != "$1" ]; then
		[ -n "${3:-}" ] && show_file "$3"
		fail "$2: exit status $RC, expected $1"
	fi
}

# csv_flat FILE: prints one line per CSV record, fields separated by the
# unit separator \037; CR and LF inside fields become \r and \n (and a
# backslash becomes \\) so that every record is a single line.
csv_flat() {
	awk '
	function put(f) { rec = (nf++ ? rec "\037" : "") f }
	BEGIN { inq = 0; rec = ""; nf = 0; field = "" }
	{
		s = $0
		if (inq) field = field "\\n"
		n = length(s)
		for (i = 1; i <= n; i++) {
			c = substr(s, i, 1)
			if (inq) {
				if (c == "\"") {
					if (substr(s, i + 1, 1) == "\"") { field = field "\""; i++ }
					else inq = 0
				} else if (c == "\\") field = field "\\\\"
				else if (c == "\r") field = field "\\r"
				else field = field c
			} else if (c == "\"") inq = 1
			else if (c == ",") { put(field); field = "" }
			else if (c == "\\") field = field "\\\\"
			else if (c == "\r") field = field "\\r"
			else field = field c
		}
		if (!inq) { put(field); print rec; rec = ""; nf = 0; field = "" }
	}
	END { if (inq) { print "csv_flat: unterminated quote at the end" > "/dev/stderr"; exit 1 } }
	' "$1"
}

# ---- another host (t_homefs_*.sh) ----

# other_host_ok: true when "another host" can be made here (root,
# unshare --uts --mount); else the caller SKIPs that part, loudly. Then
# "${OTHER_HOST[@]}" CMD... runs CMD on "another host": a new UTS and
# mount namespace with its own host name (parade-other-host), a private
# /tmp (so no runtime folder of this host, nor $T, is there) and no
# XDG_RUNTIME_DIR. PARADE_HOME is bound back in, the same folder, as a
# network home shows it on every host, and so are the source and build
# trees (the programs: a clean clone may be under /tmp); other files CMD
# needs must be in PARADE_HOME (or outside /tmp). It is a command (timeout
# can run it), not a function.
OTHER_HOST=()
other_host_ok() {
	[ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare --uts --mount true 2>/dev/null ||
		return 1
	cat >"$T/other-host.sh" <<'EOF'
set -e
mount --make-rprivate /
hostname parade-other-host
keep=("$top_srcdir" "$top_builddir" "$PARADE_HOME")
fd=10
for d in "${keep[@]}"; do
	eval "exec $fd<\"\$d\""
	fd=$((fd + 1))
done
mount -t tmpfs tmpfs /tmp
fd=10
for d in "${keep[@]}"; do
	mkdir -p "$d"
	mount -c --bind "/proc/$$/fd/$fd" "$d"
	eval "exec $fd<&-"
	fd=$((fd + 1))
done
unset XDG_RUNTIME_DIR
exec "$@"
EOF
	OTHER_HOST=(unshare --uts --mount bash "$T/other-host.sh")
}

# E2E_TRACE=1: trace the test with time stamps (debugging aid)
if [ -n "${E2E_TRACE:-}" ]; then
	PS4='+ $(date +%s.%N) '
	set -x
fi

# ==== ssh helpers (t_ssh_*.sh) ====
# Throwaway ssh "hosts" made by scripts/ssh/hosts.sh: network namespaces
# on this machine, each running a real sshd as root. Their folder is
# $T/hosts, so the sshd listeners (whose command lines hold it) and every
# ssh client parade starts (-o IdentityFile=$T/hosts/...) carry $T.
# ssh_hosts_up installs an EXIT trap that, before lib's cleanup, checks
# that nothing but the listeners is left (on this machine or in the
# namespaces) and then runs `hosts.sh down`.

HOSTS_SH=$top_srcdir/scripts/ssh/hosts.sh
SSH_HOSTS_DIR=

# ssh_hosts_up N [--no-route]: makes the hosts (a failure fails the test,
# loudly: no skip), sources their env.sh and sets SSHO (an --ssh-opt for
# each -o of SSH_TEST_OPTS), SSH_H (user@addr by host number, 1-based),
# SSH_A (addresses by host number) and SSH_NET (the /24's first three
# parts, e.g. 10.213.7).
ssh_hosts_up() {
	local w i=0
	[ -x "$HOSTS_SH" ] || fail "$HOSTS_SH is missing"
	[ "$(id -u)" -eq 0 ] || skip "the ssh tests need root (network namespaces and sshd); this one did not run"
	SSH_HOSTS_DIR=$T/hosts
	trap ssh_cleanup EXIT
	if ! "$HOSTS_SH" up "$SSH_HOSTS_DIR" "$@" >"$T/hosts-up.log" 2>&1; then
		show_file "$T/hosts-up.log" 60
		fail "scripts/ssh/hosts.sh up $SSH_HOSTS_DIR $* failed (see above)"
	fi
	[ -f "$SSH_HOSTS_DIR/env.sh" ] || fail "hosts.sh up made no $SSH_HOSTS_DIR/env.sh"
	# shellcheck disable=SC1091
	. "$SSH_HOSTS_DIR/env.sh"
	SSHO=()
	for w in $SSH_TEST_OPTS; do
		[ "$w" = -o ] || SSHO+=(--ssh-opt "$w")
	done
	SSH_H=('')
	SSH_A=('')
	for w in $SSH_TEST_ADDRS; do
		i=$((i + 1))
		SSH_A[i]=$w
		SSH_H[i]=root@$w
	done
	[ "$i" -ge 1 ] || fail "hosts.sh up made no hosts"
	SSH_NET=${SSH_TEST_HOST_ADDR%.*}
}

# hosts_sh ARGS...: scripts/ssh/hosts.sh ARGS on our hosts' folder
# (e.g. hosts_sh break 2 auth); its output goes to stdout/stderr.
hosts_sh() {
	local cmd=$1
	shift
	"$HOSTS_SH" "$cmd" "$SSH_HOSTS_DIR" "$@"
}

# ssh_allowed: ALLOWED gets the pids that may outlive a run: the sshd
# listeners and the `hosts.sh break port` holders (from their pid files).
ssh_allowed() {
	local f p
	ALLOWED=" "
	for f in "$SSH_HOSTS_DIR"/sshd-*.pid "$SSH_HOSTS_DIR"/break-port-*.pid; do
		[ -s "$f" ] || continue
		read -r p <"$f" || continue
		ALLOWED="$ALLOWED$p "
	done
}

# ssh_under PID ROOTS: true if PID is one of the pids in ROOTS (a blank
# separated list) or descends from one of them.
ssh_under() {
	local p=$1 line n=0
	while [ "$p" -gt 1 ] && [ $n -lt 64 ]; do
		case " $2 " in *" $p "*) return 0 ;; esac
		read -r line 2>/dev/null <"/proc/$p/stat" || return 1
		line=${line##*) }
		read -r _ p _ <<<"$line"
		n=$((n + 1))
	done
	return 1
}

# ssh_no_strays: true when no process of the test runs but the allowed
# ones: neither on this machine (find_procs: $T in the command line or
# environment) nor inside the hosts' namespaces (ip netns pids, which
# finds the remote agents and their tasks). PIDS gets the strays.
# SSH_BUSY may list pids of runs still going on purpose (in the
# background): they and their descendants are not strays.
SSH_BUSY=
ssh_no_strays() {
	local ns p more=()
	ssh_allowed
	find_procs
	for ns in ${SSH_TEST_NS:-}; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			is_alive "$p" && more+=("$p")
		done
	done
	local -A seen=()
	local out=()
	for p in "${PIDS[@]}" "${more[@]}"; do
		case $ALLOWED in *" $p "*) continue ;; esac
		[ -n "${seen[$p]:-}" ] && continue
		[ -n "$SSH_BUSY" ] && ssh_under "$p" "$SSH_BUSY" && continue
		seen[$p]=1
		out+=("$p")
	done
	PIDS=("${out[@]}")
	[ ${#PIDS[@]} -eq 0 ]
}

# ssh_assert_clean [GRACE]: fails the test if, after GRACE seconds
# (default 5), anything but the listeners is left (see ssh_no_strays).
ssh_assert_clean() {
	if ! wait_for "${1:-5}" ssh_no_strays; then
		report_left
		kill -9 "${PIDS[@]}" 2>/dev/null
		PIDS=()
		fail "processes were left behind after the run (see above)"
	fi
}

# The EXIT trap while hosts are up: reports strays, takes the hosts down,
# then hands over to lib's cleanup (with the test's exit status).
ssh_cleanup() {
	local rc=$?
	trap - EXIT
	# runs left going in the background by a failing test
	if [ -n "$SSH_BUSY" ]; then
		# shellcheck disable=SC2086
		kill $SSH_BUSY 2>/dev/null
		SSH_BUSY=
		rc=1
	fi
	if [ -n "$SSH_HOSTS_DIR" ] && [ -e "$SSH_HOSTS_DIR" ]; then
		if [ -f "$SSH_HOSTS_DIR/env.sh" ] && ! wait_for 3 ssh_no_strays; then
			report_left
			echo "FAIL: $TEST_NAME: processes were left behind (the hosts go down now)" >&2
			rc=1
		fi
		if ! "$HOSTS_SH" down "$SSH_HOSTS_DIR" >"$T/hosts-down.log" 2>&1; then
			show_file "$T/hosts-down.log" 40
			echo "FAIL: $TEST_NAME: scripts/ssh/hosts.sh down failed (see above)" >&2
			rc=1
		elif grep -q 'killing leftover' "$T/hosts-down.log"; then
			show_file "$T/hosts-down.log" 40
			echo "FAIL: $TEST_NAME: hosts.sh down had to kill leftover processes" >&2
			rc=1
		fi
	fi
	(exit "$rc")
	cleanup
}

# ssh_check_rows CSV N WHAT: CSV (first column n = 1..N) holds exactly N
# rows, each row number once, every one ok.
ssh_check_rows() {
	local got
	got=$(csv_flat "$1" | awk -F'\037' -v n="$2" '
		NR == 1 { if ($1 != "n" || $2 != "status") { print "bad header: " $0; bad = 1 }; next }
		{ rows++; seen[$1]++
		  if ($2 != "ok") { print "row " $1 ": status " $2 " (" $7 ")"; bad = 1 } }
		END {
			if (rows != n) { print rows + 0 " rows, expected " n; bad = 1 }
			for (i = 1; i <= n; i++) if (seen[i] != 1) { print "row " i " seen " seen[i] + 0 " times"; bad = 1; break }
			if (!bad) print "ok"
		}')
	if [ "$got" != ok ]; then
		show_file "$1" 10
		fail "$3: $(echo "$got" | head -n 3 | tr '\n' ';')"
	fi
}

# ssh_where_script FILE: writes a task script that waits $2 seconds (if
# given), then prints 'row=$1 addr=ADDR' with the IPv4 address of the
# host (namespace) it runs on; with $3 and $4 it first waits (up to 20 s)
# until file $3 holds the text $4, and exits 3 if it never does.
ssh_where_script() {
	cat >"$1" <<'EOS'
#!/bin/sh
if [ -n "${3:-}" ]; then
	i=0
	until grep -qF -- "$4" "$3" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -ge 200 ] && { echo "gate: '$4' never showed up in $3" >&2; exit 3; }
		sleep 0.1
	done
fi
[ "${2:-0}" = 0 ] || sleep "$2"
a=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
echo "row=$1 addr=$a"
EOS
	chmod +x "$1"
}

# ssh_addr_of CSV: prints 'n addr agent' for every row of a result table
# whose tasks ran a ssh_where_script.
ssh_addr_of() {
	csv_flat "$1" | awk -F'\037' 'NR > 1 {
		a = $6; sub(/.*addr=/, "", a); sub(/[^0-9.].*/, "", a)
		print $1, a, $5 }'
}
