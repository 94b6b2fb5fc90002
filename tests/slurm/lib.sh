# lib.sh - shared helpers for the Slurm end-to-end tests (sourced by
# tests/slurm/t_*.sh, which run.sh starts against a throwaway cluster).
#
# run.sh exports:
#   SLURM_CONF    the test cluster's slurm.conf
#   PSL_BIN       a world-readable folder with parade, parade-agent (and
#                 gamma-sim); the plugstack line names PSL_BIN/parade-agent
#   PSL_USER      the non-root test user (parade-test)
#   PSL_MAX_WORKERS  max_workers of the plugstack line (64)
#   PSL_TMP       where tests make their folders (world-searchable)
#
# Every test gets its own folder $T (mode 0755, short path), the marker of
# everything it starts: each command runs with PARADE_HOME=$T/... in its
# environment, the agents Slurm starts get it too (and name a connection
# file under $T), and so do the tasks they run. The cleanup trap cancels
# the test's jobs (names psl-<test>-*), reports every process still
# carrying $T as "process left behind", kills it and fails the test; then
# it removes $T.
#
# Users: WHO is root or $PSL_USER. home_of WHO is that user's PARADE_HOME
# ($T/r/ph or $T/u/ph, mode 0700, owned by WHO); dir_of WHO is a folder WHO
# may write ($T/r or $T/u). as_user WHO CMD... runs CMD as WHO with a clean
# environment.

set -u
export LC_ALL=C

TEST_NAME=$(basename "$0" .sh)

info() { echo "# $TEST_NAME: $*" >&2; }

# fail MSG: the test fails with MSG. Only from the test's main shell.
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

for v in SLURM_CONF PSL_BIN PSL_USER PSL_TMP; do
	if [ -z "${!v:-}" ]; then
		echo "FAIL: $TEST_NAME: $v is not set: run this test through tests/slurm/run.sh $TEST_NAME" >&2
		exit 1
	fi
done
: "${PSL_MAX_WORKERS:=64}"
export SLURM_CONF
PARADE=$PSL_BIN/parade
AGENT=$PSL_BIN/parade-agent
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: $TEST_NAME: must run as root (it runs jobs as root and as $PSL_USER)" >&2
	exit 1
fi
for f in "$PARADE" "$AGENT"; do
	[ -x "$f" ] || {
		echo "FAIL: $TEST_NAME: $f is missing" >&2
		exit 1
	}
done
PSL_UID=$(id -u "$PSL_USER") || {
	echo "FAIL: $TEST_NAME: no user $PSL_USER" >&2
	exit 1
}

# Nothing from the caller's environment may steer parade.
unset PARADE_AGENT PARADE_CONNECT PARADE_DEBUG PARADE_HOME PARADE_STEP_SESSION \
	PARADE_STEP_WORKERS PARADE_PORT_RANGE PARADE_SPANK_ERROR PARADE_SPANK_EXPLICIT

T=$(mktemp -d "$PSL_TMP/$TEST_NAME.XXXXXX") || {
	echo "FAIL: $TEST_NAME: mktemp -d failed" >&2
	exit 1
}
case $T in
"$PSL_TMP/$TEST_NAME".??????) ;;
*)
	echo "FAIL: $TEST_NAME: unexpected temp dir '$T'" >&2
	exit 1
	;;
esac
chmod 0755 "$T"
mkdir -p "$T/r/ph" "$T/u/ph"
chmod 0700 "$T/r" "$T/r/ph"
chown -R "$PSL_USER:$(id -gn "$PSL_USER")" "$T/u"
chmod 0755 "$T/u"
chmod 0700 "$T/u/ph"
cd "$T" || exit 1

# show_file FILE [N]: the first N lines of FILE, indented, for a failure.
show_file() {
	local n=${2:-30}
	if [ -f "$1" ]; then
		echo "  --- $1 (first $n lines):" >&2
		head -n "$n" -- "$1" | sed 's/^/  | /' >&2
	else
		echo "  --- $1: no such file" >&2
	fi
}

# ---- users ----

home_of() { if [ "$1" = root ]; then echo "$T/r/ph"; else echo "$T/u/ph"; fi; }
dir_of() { if [ "$1" = root ]; then echo "$T/r"; else echo "$T/u"; fi; }
uid_of() { if [ "$1" = root ]; then echo 0; else echo "$PSL_UID"; fi; }

# as_user WHO CMD...: CMD as WHO (root or $PSL_USER), in $T, with only
# PATH (PSL_BIN first), HOME, USER, LOGNAME, SLURM_CONF, LC_ALL and
# PARADE_HOME=$(home_of WHO). Put `env VAR=value` in CMD for more.
as_user() {
	local who=$1 home
	shift
	if [ "$who" = root ]; then
		home=/root
		(cd "$T" && exec env -i PATH="$PSL_BIN:/usr/local/bin:/usr/bin:/bin" HOME=$home \
			USER=root LOGNAME=root SLURM_CONF="$SLURM_CONF" LC_ALL=C \
			PARADE_HOME="$(home_of root)" "$@")
	else
		home=$(getent passwd "$who" | cut -d: -f6)
		(cd "$T" && exec runuser -u "$who" -- env -i PATH="$PSL_BIN:/usr/local/bin:/usr/bin:/bin" \
			HOME="${home:-/tmp}" USER="$who" LOGNAME="$who" SLURM_CONF="$SLURM_CONF" LC_ALL=C \
			PARADE_HOME="$(home_of "$who")" "$@")
	fi
}

# ---- time and processes ----

now_ms() {
	local s=${EPOCHREALTIME%[.,]*} f=${EPOCHREALTIME#*[.,]}
	echo $((s * 1000 + 10#${f:0:3}))
}

. "$(dirname "${BASH_SOURCE[0]}")/../proc.sh"

# find_procs [JOB [WORD]]: PIDS gets every live process that carries $T in
# its command line or environment (not this shell); with JOB only those
# whose environment has SLURM_JOB_ID=JOB; with WORD only those whose
# command line starts with WORD (argv[0] is WORD). Builtins only, so the search never finds
# itself.
find_procs() {
	local job=${1:-} word=${2:-} d p c e
	local -a a b
	PIDS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		a=()
		mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
		[ ${#a[@]} -gt 0 ] || continue # zombie or kernel thread
		c="${a[*]}"
		b=()
		mapfile -d "" b 2>/dev/null <"$d/environ" || true
		e=" ${b[*]:-} "
		case "$c$e" in
		*"$T"*) ;;
		*) continue ;;
		esac
		if [ -n "$job" ]; then
			case $e in
			*" SLURM_JOB_ID=$job "*) ;;
			*) continue ;;
			esac
		fi
		if [ -n "$word" ]; then
			case $c in
			"$word" | "$word "*) ;;
			*) continue ;;
			esac
		fi
		is_alive "$p" && PIDS+=("$p")
	done
	return 0
}

# count_agents JOB: how many parade-agent processes of JOB run.
count_agents() {
	find_procs "$1" "$AGENT"
	echo "${#PIDS[@]}"
}

# count_tasks JOB: how many long.sh task processes of JOB run.
count_tasks() {
	find_procs "$1" "$T/long.sh"
	echo "${#PIDS[@]}"
}

report_left() {
	local p
	for p in "${PIDS[@]}"; do
		echo "FAIL: $TEST_NAME: process left behind: $p $(cmdline_of "$p")" >&2
	done
}

# wait_for SECONDS CMD...: polls CMD every 100 ms until it succeeds (0) or
# the time is up (1).
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

no_procs() {
	find_procs "${1:-}"
	[ ${#PIDS[@]} -eq 0 ]
}

# assert_job_clean JOB [GRACE]: fails unless, within GRACE seconds (default
# 5: slurmstepd ends what is left of a step), no process of JOB is left
# (agents, their tasks, parade run, the batch script).
assert_job_clean() {
	if ! wait_for "${2:-5}" no_procs "$1"; then
		report_left
		kill -9 "${PIDS[@]}" 2>/dev/null
		fail "processes of job $1 were left behind ${2:-5} s after it ended (see above)"
	fi
}

# wait_pid PID SECONDS: waits for a background child of this shell; RC gets
# its exit status, or "timeout" (and the return status is 1).
# shellcheck disable=SC2034
wait_pid() {
	local pid=$1 end=$(($(now_ms) + $2 * 1000))
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

# ---- Slurm ----

# job_ids NAME: the ids of the jobs named NAME, finished ones included
# (slurmctld keeps them for MinJobAge=30 s).
job_ids() {
	squeue -h -t all -n "$1" -o %i 2>/dev/null | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# job_known NAME: a job named NAME exists (or existed lately).
job_known() { [ -n "$(job_ids "$1")" ]; }

# job_id NAME: JOB gets the id of the one job named NAME, or the test fails.
job_id() {
	JOB=$(job_ids "$1")
	case $JOB in
	'' | *[!0-9]*) fail "expected exactly one job named $1, squeue shows: '${JOB}'" ;;
	esac
}

# job_state JOB: its JobState (RUNNING, COMPLETED, ...), or GONE.
job_state() {
	local s
	s=$(scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
	echo "${s:-GONE}"
}

job_done() {
	JOB_STATE=$(job_state "$1")
	case $JOB_STATE in
	PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | REQUEUED* | RESIZING | SIGNALING | STAGE_OUT | RESV_DEL_HOLD) return 1 ;;
	esac
	return 0
}

# wait_job_end JOB SECONDS: waits until JOB has ended (JOB_STATE gets the
# final state, GONE when slurmctld forgot it); fails on timeout.
wait_job_end() {
	wait_for "$2" job_done "$1" ||
		fail "job $1 did not end within $2 s (state $JOB_STATE)"
}

# ---- inputs ----

# grid FILE N: a one-column grid x = 1..N.
grid() {
	{
		echo x
		seq 1 "$2"
	} >"$1"
	chmod 0644 "$1"
}

# cmd.sh X [SECONDS]: a task of SECONDS (0.2) telling who and where it ran. It fails
# (exit 3) if it sees a secret of parade's in its environment: the step's
# (PARADE_STEP_KEY, PARADE_STEP_PORT, PARADE_STEP_FD) or a session's
# (PARADE_SECRET*). Tests put PSL_JOB_ONLY=1 in the job's environment,
# which the tasks of plugin-started agents get (t_srun checks that).
cat >"$T/cmd.sh" <<'EOF'
#!/bin/sh
leak=$(env | grep -E '^(PARADE_STEP_KEY|PARADE_STEP_PORT|PARADE_STEP_FD|PARADE_SECRET)' | cut -d= -f1)
if [ -n "$leak" ]; then
	echo "a secret of parade's reached the task: $leak" >&2
	exit 3
fi
sleep "${2:-0.2}"
echo "x=$1 job=${SLURM_JOB_ID:-none} step=${SLURM_STEP_ID:-none} uid=$(id -u)"
EOF
# long.sh: a task that runs until it is killed (its argv[0] keeps $T).
cat >"$T/long.sh" <<'EOF'
#!/bin/bash
exec -a "$0" sleep 300
EOF
chmod 0755 "$T/cmd.sh" "$T/long.sh"
grid "$T/g20.csv" 20
grid "$T/g3.csv" 3

# ---- checking results ----

# check_table FILE ROWS JOB STEP UID AGENTS: FILE is parade's CSV table of
# a run of cmd.sh {x} over x = 1..ROWS: every row ok, its stdout says it ran
# in job JOB step STEP as UID, in grid order; exactly AGENTS distinct agents
# ran them (AGENTS "-": any number). TABLE_AGENTS gets their names (sorted,
# one line each).
check_table() {
	local file=$1 rows=$2 job=$3 step=$4 uid=$5 nagents=$6 bad n
	[ -s "$file" ] || {
		show_file "$file"
		fail "no result table in $file"
	}
	[ "$(head -n 1 "$file")" = "x,status,exit_code,seconds,agent,stdout,error" ] || {
		show_file "$file"
		fail "unexpected table header in $file: $(head -n 1 "$file")"
	}
	n=$(($(wc -l <"$file") - 1))
	[ "$n" -eq "$rows" ] || {
		show_file "$file"
		fail "$n rows in $file, expected $rows"
	}
	bad=$(tail -n +2 "$file" | awk -F, -v job="$job" -v step="$step" -v uid="$uid" '
		NF != 7 { print "row " NR ": " NF " fields: " $0; exit }
		$1 != NR { print "row " NR " has x=" $1; exit }
		$2 != "ok" { print "row " NR ": status " $2 ", error: " $7; exit }
		$6 != "x=" NR " job=" job " step=" step " uid=" uid {
			print "row " NR ": stdout \"" $6 "\", expected \"x=" NR " job=" job " step=" step " uid=" uid "\""; exit }')
	[ -z "$bad" ] || {
		show_file "$file"
		fail "$file: $bad"
	}
	TABLE_AGENTS=$(tail -n +2 "$file" | cut -d, -f5 | sort -u)
	n=$(echo "$TABLE_AGENTS" | grep -c .)
	[ "$nagents" = - ] || [ "$n" -eq "$nagents" ] || {
		show_file "$file"
		fail "$file: the tasks ran on $n distinct agents ($(echo "$TABLE_AGENTS" | tr '\n' ' ')), expected $nagents"
	}
}

# check_joined ERRFILE JOB STEP N: parade run's stderr ERRFILE has exactly N
# "agent A joined ... slurm job JOB step STEP)" lines, for N distinct
# agents, and no joined line for any other job or step; JOINED_AGENTS gets
# the names (sorted). With TABLE_AGENTS set, every agent of the table must
# be among them.
check_joined() {
	local err=$1 job=$2 step=$3 n=$4 lines other a
	lines=$(grep -E "^parade: agent [^ ]+ joined from .*, slurm, slurm job $job step $step\)\$" "$err")
	other=$(grep -E '^parade: agent [^ ]+ joined' "$err" |
		grep -vE "^parade: agent [^ ]+ joined from .*, slurm, slurm job $job step $step\)\$")
	[ -z "$other" ] || {
		show_file "$err"
		fail "$err: agents joined that are not from job $job step $step: $other"
	}
	JOINED_AGENTS=$(echo "$lines" | sed -n 's/^parade: agent \([^ ]*\) joined.*/\1/p' | sort -u)
	a=$(echo "$JOINED_AGENTS" | grep -c .)
	if [ "$a" -ne "$n" ] || [ "$(echo "$lines" | grep -c .)" -ne "$n" ]; then
		show_file "$err"
		fail "$err: $a distinct agents joined from slurm job $job step $step, expected $n"
	fi
	for a in ${TABLE_AGENTS:-}; do
		echo "$JOINED_AGENTS" | grep -qxF -- "$a" || {
			show_file "$err"
			fail "agent $a ran tasks but did not report joining from slurm job $job step $step"
		}
	done
}

# ---- cleanup ----

cleanup() {
	local rc=$? ids p
	trap - EXIT INT TERM HUP
	# the test's jobs that are still known to Slurm
	ids=$(squeue -h -o '%i %j' 2>/dev/null | awk -v p="psl-$TEST_NAME-" 'index($2, p) == 1 { print $1 }')
	if [ -n "$ids" ]; then
		echo "# $TEST_NAME: cancelling leftover jobs: $(echo "$ids" | tr '\n' ' ')" >&2
		# shellcheck disable=SC2086
		scancel $ids 2>/dev/null
	fi
	if ! wait_for 8 no_procs; then
		report_left
		for p in "${PIDS[@]}"; do
			kill -9 "$p" 2>/dev/null
		done
		wait_for 5 no_procs || report_left
		echo "FAIL: $TEST_NAME: processes were left behind (killed now)" >&2
		rc=1
	fi
	case $T in
	"$PSL_TMP/$TEST_NAME".??????) rm -rf -- "$T" ;;
	esac
	exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"' INT TERM HUP

if [ -n "${PSL_TRACE:-}" ]; then
	PS4='+ $(date +%s.%N) '
	set -x
fi
