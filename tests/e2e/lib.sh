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

# is_alive PID: the process exists and is not a zombie (state Z or X).
is_alive() {
	local line st
	[ -r "/proc/$1/stat" ] || return 1
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	st=${line##*) }
	st=${st%% *}
	case $st in
	Z | X | x | "") return 1 ;;
	esac
	return 0
}

# cmdline_of PID: its argv joined with spaces (empty for zombies).
cmdline_of() {
	local -a a=()
	mapfile -d "" a 2>/dev/null <"/proc/$1/cmdline" || true
	echo "${a[*]:-}"
}

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
# both $T and WORD (e.g. parade-agent).
find_procs_cmd() {
	local d p c
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
		*"$T"*) case "$c" in *"$1"*) is_alive "$p" && PIDS+=("$p") ;; esac ;;
		esac
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

# E2E_TRACE=1: trace the test with time stamps (debugging aid)
if [ -n "${E2E_TRACE:-}" ]; then
	PS4='+ $(date +%s.%N) '
	set -x
fi
