# shellcheck shell=bash
# lib.sh - shared helpers for the multi-node Slurm tests (sourced by
# tests/slurm/multi/t_*.sh, which run.sh starts one at a time against a
# throwaway cluster of scripts/slurm/mcluster.sh).
#
# run.sh exports:
#   SLURM_CONF    the cluster's slurm.conf
#   PM_DIR        the cluster's state folder (for mcluster.sh)
#   PM_NODES      the node names ("pm1 pm2 pm3"); PM_CPUS their CPUs each
#   PM_HOST       the host's short name (the login node, where sbatch runs)
#   PSM_BIN       a world-readable folder with parade and parade-agent; the
#                 plugstack line names PSM_BIN/parade-agent
#   PSM_USER      the non-root test user (parade-test)
#   PSM_TMP       where tests make their folders: shared by every node
#   PSM_MCLUSTER  scripts/slurm/mcluster.sh
#
# Every test gets its own folder $T (mode 0755, shared by every node and
# the host at the same path): the jobs' working folder. PARADE_HOME is NOT
# set for jobs: each job uses its user's default ~/.parade, which is
# private to each node (every node has its own /root and /home), as on a
# cluster without shared homes. A controller on the host (--launch slurm)
# gets PARADE_HOME=$(host_home WHO), a folder in the host's /tmp that the
# nodes do not have.
#
# The cleanup trap cancels the jobs still listed (all the test's: tests run
# one at a time; their names are psm-<test>-*, or parade-* for those parade
# submits), fails the test for every process left on any node (other than
# slurmd) or on the host (carrying $T), kills them, brings back any node
# whose slurmd is gone, and removes $T.

set -u
export LC_ALL=C

TEST_NAME=$(basename "$0" .sh)

info() { echo "# $TEST_NAME: $*" >&2; }

# fail MSG: the test fails with MSG. Only from the test's main shell.
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

for v in SLURM_CONF PM_DIR PM_NODES PSM_BIN PSM_USER PSM_TMP PSM_MCLUSTER; do
	if [ -z "${!v:-}" ]; then
		echo "FAIL: $TEST_NAME: $v is not set: run this test through tests/slurm/multi/run.sh $TEST_NAME" >&2
		exit 1
	fi
done
export SLURM_CONF
: "${PM_HOST:=$(hostname -s)}"
PARADE=$PSM_BIN/parade
AGENT=$PSM_BIN/parade-agent
MC=$PSM_MCLUSTER
read -r -a NODES <<<"$PM_NODES"
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: $TEST_NAME: must run as root (it runs jobs as root and as $PSM_USER)" >&2
	exit 1
fi
for f in "$PARADE" "$AGENT"; do
	[ -x "$f" ] || {
		echo "FAIL: $TEST_NAME: $f is missing" >&2
		exit 1
	}
done
PSM_UID=$(id -u "$PSM_USER") || {
	echo "FAIL: $TEST_NAME: no user $PSM_USER" >&2
	exit 1
}

unset PARADE_AGENT PARADE_CONNECT PARADE_DEBUG PARADE_HOME PARADE_STEP_SESSION \
	PARADE_STEP_WORKERS PARADE_PORT_RANGE PARADE_SPANK_ERROR PARADE_SPANK_EXPLICIT

T=$(mktemp -d "$PSM_TMP/$TEST_NAME.XXXXXX") || {
	echo "FAIL: $TEST_NAME: mktemp -d failed" >&2
	exit 1
}
case $T in
"$PSM_TMP/$TEST_NAME".??????) ;;
*)
	echo "FAIL: $TEST_NAME: unexpected temp dir '$T'" >&2
	exit 1
	;;
esac
chmod 0755 "$T"
mkdir -p "$T/r" "$T/u"
chmod 0700 "$T/r"
chown "$PSM_USER:$(id -gn "$PSM_USER")" "$T/u"
chmod 0755 "$T/u"
# the host-only homes of a controller on the host (the nodes have no such path)
H=$(mktemp -d "/tmp/psm-home.$TEST_NAME.XXXXXX") || {
	echo "FAIL: $TEST_NAME: mktemp -d failed" >&2
	exit 1
}
chmod 0755 "$H"
mkdir -p "$H/r" "$H/u"
chmod 0700 "$H/r" "$H/u"
chown "$PSM_USER" "$H/u"
cd "$T" || exit 1

. "$(dirname "${BASH_SOURCE[0]}")/../../proc.sh"

now_ms() {
	local s=${EPOCHREALTIME%[.,]*} f=${EPOCHREALTIME#*[.,]}
	echo $((s * 1000 + 10#${f:0:3}))
}

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

# ---- users ----

dir_of() { if [ "$1" = root ]; then echo "$T/r"; else echo "$T/u"; fi; }
uid_of() { if [ "$1" = root ]; then echo 0; else echo "$PSM_UID"; fi; }
host_home() { if [ "$1" = root ]; then echo "$H/r"; else echo "$H/u"; fi; }

# as_user WHO CMD...: CMD as WHO (root or $PSM_USER) on the host, in $T,
# with only PATH (PSM_BIN first), HOME, USER, LOGNAME, SLURM_CONF, LC_ALL
# and PSM_MARK=$T (the marker of the test's processes on the host); no
# PARADE_HOME. Put `env VAR=value` in CMD for more.
as_user() {
	local who=$1 home
	shift
	if [ "$who" = root ]; then
		(cd "$T" && exec env -i PATH="$PSM_BIN:/usr/local/bin:/usr/bin:/bin" HOME=/root \
			USER=root LOGNAME=root SLURM_CONF="$SLURM_CONF" LC_ALL=C PSM_MARK="$T" "$@")
	else
		home=$(getent passwd "$who" | cut -d: -f6)
		(cd "$T" && exec runuser -u "$who" -- env -i PATH="$PSM_BIN:/usr/local/bin:/usr/bin:/bin" \
			HOME="${home:-/tmp}" USER="$who" LOGNAME="$who" SLURM_CONF="$SLURM_CONF" LC_ALL=C \
			PSM_MARK="$T" "$@")
	fi
}

# ---- nodes ----

# on_node NODE CMD...: CMD as root on NODE (its namespaces, cwd /).
on_node() { "$MC" node "$PM_DIR" "$@"; }

# node_procs [NODE...]: prints "NODE PID COMM ARGS" for every process on
# the nodes but slurmd; true when there is none.
# shellcheck disable=SC2120 # NODE... is for tests that look at one node
node_procs() { "$MC" procs "$PM_DIR" "$@"; }

nodes_clean() { node_procs >/dev/null 2>&1; }

# assert_nodes_clean [GRACE]: fails unless, within GRACE seconds (default
# 8: slurmstepd ends what is left of a step), no process but slurmd runs on
# any node: "no process left on any node after normal end".
assert_nodes_clean() {
	local left
	wait_for "${1:-8}" nodes_clean && return 0
	left=$(node_procs 2>&1)
	echo "$left" | sed 's/^/  left: /' >&2
	kill_node_procs
	fail "processes were left on the nodes ${1:-8} s after the end (see above)"
}

# kill_node_procs: SIGKILL to every process on the nodes but slurmd.
kill_node_procs() {
	local n p rest
	node_procs 2>/dev/null | while read -r n p rest; do
		kill -KILL "$p" 2>/dev/null
	done
}

# slurmd_pid NODE: the PID of NODE's slurmd (empty if it runs not).
slurmd_pid() {
	local p
	read -r p 2>/dev/null <"$PM_DIR/run/slurmd-$1.pid" || return 0
	is_alive "$p" && echo "$p"
}

# kill_slurmd NODE: SIGKILL to NODE's slurmd only (its steps run on).
kill_slurmd() {
	local p
	p=$(slurmd_pid "$1")
	[ -n "$p" ] || fail "no slurmd runs on $1"
	kill -KILL "$p"
	wait_for 5 sh -c "! [ -d /proc/$p ] || grep -q '^State:.Z' /proc/$p/status" ||
		fail "slurmd $p of $1 survives SIGKILL"
}

# crash_node NODE: NODE dies: its slurmd and everything on it get SIGKILL.
crash_node() { "$MC" crash "$PM_DIR" "$1" >&2 || fail "mcluster.sh crash $1 failed"; }

# revive_node NODE: NODE's slurmd starts again; waits until the node is idle.
revive_node() { "$MC" revive "$PM_DIR" "$1" >&2 || fail "mcluster.sh revive $1 failed"; }

# wait_nodes_idle [SECONDS]: every node idle in sinfo (default 30 s).
wait_nodes_idle() { "$MC" wait-idle "$PM_DIR" "${1:-30}" >&2 || fail "the nodes are not idle"; }

# ---- host processes ----

# find_procs: PIDS gets every live process on the host or a node that
# carries $T in its command line or environment (not this shell).
find_procs() {
	local d p c e
	local -a a b
	PIDS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		a=()
		mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
		[ ${#a[@]} -gt 0 ] || continue
		c="${a[*]}"
		b=()
		mapfile -d "" b 2>/dev/null <"$d/environ" || true
		e=" ${b[*]:-} "
		case "$c$e" in
		*"$T"*) ;;
		*) continue ;;
		esac
		is_alive "$p" && PIDS+=("$p")
	done
	return 0
}

no_procs() {
	find_procs
	[ ${#PIDS[@]} -eq 0 ]
}

report_left() {
	local p
	for p in "${PIDS[@]}"; do
		echo "FAIL: $TEST_NAME: process left behind: $p $(cmdline_of "$p")" >&2
	done
}

# ---- Slurm ----

# job_ids NAME: the ids of the jobs named NAME, finished ones included.
job_ids() {
	squeue -h -t all -n "$1" -o %i 2>/dev/null | sort -n | tr '\n' ' ' | sed 's/ $//'
}

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

job_running() { [ "$(job_state "$1")" = RUNNING ]; }

job_done() {
	JOB_STATE=$(job_state "$1")
	case $JOB_STATE in
	PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | REQUEUED* | RESIZING | SIGNALING | STAGE_OUT | RESV_DEL_HOLD) return 1 ;;
	esac
	return 0
}

# wait_job_end JOB SECONDS: JOB_STATE gets the final state; fails on timeout.
wait_job_end() {
	wait_for "$2" job_done "$1" ||
		fail "job $1 did not end within $2 s (state $JOB_STATE)"
}

# ---- inputs and results ----

# grid FILE N: a one-column grid x = 1..N.
grid() {
	{
		echo x
		seq 1 "$2"
	} >"$1"
	chmod 0644 "$1"
}

# cmd.sh X [SECONDS]: a task of SECONDS (0.2) telling where it ran.
cat >"$T/cmd.sh" <<'EOF'
#!/bin/sh
sleep "${2:-0.2}"
echo "x=$1 node=$(hostname) uid=$(id -u)"
EOF
# long.sh: a task that runs until it is killed (its argv[0] keeps $T).
cat >"$T/long.sh" <<'EOF'
#!/bin/bash
exec -a "$0" sleep 300
EOF
chmod 0755 "$T/cmd.sh" "$T/long.sh"
grid "$T/g12.csv" 12
grid "$T/g36.csv" 36
grid "$T/g3.csv" 3

# check_rows FILE ROWS UID: FILE is parade's CSV table of cmd.sh {x} over
# x = 1..ROWS: the header once, every x exactly once, in grid order, each
# row ok and run as UID on a node of the cluster.
check_rows() {
	local file=$1 rows=$2 uid=$3 bad n
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
		show_file "$file" 60
		fail "$n rows in $file, expected $rows (each exactly once)"
	}
	bad=$(tail -n +2 "$file" | awk -F, -v uid="$uid" -v nodes=" $PM_NODES " '
		NF != 7 { print "row " NR ": " NF " fields: " $0; exit }
		$1 != NR { print "row " NR " has x=" $1; exit }
		$2 != "ok" { print "row " NR ": status " $2 ", error: " $7; exit }
		{ split($6, w, " "); node = substr(w[2], 6) }
		$6 != "x=" NR " node=" node " uid=" uid || index(nodes, " " node " ") == 0 {
			print "row " NR ": stdout \"" $6 "\", expected \"x=" NR " node=<a node> uid=" uid "\""; exit }
		{ split($5, a, ":"); if (a[1] != node) { print "row " NR ": agent " $5 " but the task ran on " node; exit } }')
	[ -z "$bad" ] || {
		show_file "$file" 60
		fail "$file: $bad"
	}
}

# agents_per_node FILE: "NODE=COUNT ..." (sorted by node) of the distinct
# agents (HOST:PID, the agent column) that ran the rows of FILE.
agents_per_node() {
	tail -n +2 "$1" | cut -d, -f5 | sort -u | cut -d: -f1 | sort | uniq -c |
		awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'
}

# expect_spread FILE WANT: agents_per_node FILE is WANT ("pm1=2 pm2=2 pm3=2").
expect_spread() {
	local got
	got=$(agents_per_node "$1")
	[ "$got" = "$2" ] || {
		show_file "$1" 40
		fail "$1: agents per node: '$got', expected '$2'"
	}
}

# joined_per_node ERRFILE: "NODE=COUNT ..." (sorted by node) of the
# distinct agents that parade run's stderr ERRFILE says joined ("parade:
# agent HOST:PID joined from ... (host HOST, ...)").
joined_per_node() {
	sed -n 's/^parade: agent \([^ ]*\) joined from .*/\1/p' "$1" | sort -u | cut -d: -f1 |
		sort | uniq -c | awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'
}

# expect_joined ERRFILE WANT: joined_per_node ERRFILE is WANT.
expect_joined() {
	local got
	got=$(joined_per_node "$1")
	[ "$got" = "$2" ] || {
		show_file "$1" 40
		fail "$1: agents joined per node: '$got', expected '$2'"
	}
}

# barrier.sh DIR N X: a task that waits (up to 30 s) until N tasks have
# reached DIR (a shared folder), then prints as cmd.sh does. With 1-slot
# agents, N tasks run at once only on N different agents. An agent holds up
# to slots + 2 tasks (the dispatcher's prefetch), so the first agents to
# join may hold every task of a small grid: give N agents more than 3 x N
# tasks (g36 for 6 agents) so that the late ones get some.
cat >"$T/barrier.sh" <<'EOF'
#!/bin/sh
touch "$1/$3"
i=0
while [ "$(ls "$1" | wc -l)" -lt "$2" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "x=$3 node=$(hostname) uid=$(id -u)"
EOF
chmod 0755 "$T/barrier.sh"

# gate.sh MARKS FLAG X: a task that leaves a mark MARKS/m.X.PID, waits
# (up to 90 s) until the file FLAG exists, then prints as cmd.sh does. A test
# lets tasks run while it cancels, times out or crashes their job, then
# opens the gate so that the run can complete.
cat >"$T/gate.sh" <<'EOF'
#!/bin/sh
: >"$1/m.$3.$$"
i=0
while [ ! -e "$2" ] && [ $i -lt 900 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "x=$3 node=$(hostname) uid=$(id -u)"
EOF
chmod 0755 "$T/gate.sh"

# marks DIR N: at least N tasks of gate.sh left their mark in DIR.
marks() { [ "$(find "$1" -name 'm.*' | wc -l)" -ge "$2" ]; }

# new_barrier WHO: a fresh empty folder for barrier.sh, writable by WHO.
new_barrier() {
	local b
	b=$(mktemp -d "$(dir_of "$1")/bar.XXXXXX") || fail "mktemp failed"
	chmod 0755 "$b"
	[ "$1" = root ] || chown "$PSM_USER" "$b"
	echo "$b"
}

# bg_track PID: a background command of the test (parade run, srun) that the
# clean-up ends first (SIGTERM, so that a controller ends its own jobs)
# when the test fails while it runs.
BG_PIDS=()
bg_track() { BG_PIDS+=("$1"); }

# tree PID: PIDS gets PID and every live descendant of it (a background
# as_user is a subshell whose child runs the command).
tree() {
	local d p line rest ppid
	local -A kids=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		read -r line 2>/dev/null <"$d/stat" || continue
		rest=${line##*) }
		read -r _ ppid _ <<<"$rest"
		kids[$ppid]+=" $p"
	done
	PIDS=()
	local todo=("$1")
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		is_alive "$p" && PIDS+=("$p")
		# shellcheck disable=SC2206
		[ -n "${kids[$p]:-}" ] && todo+=(${kids[$p]})
	done
	return 0
}

# ---- cleanup ----

cleanup() {
	local rc=$? ids n
	trap - EXIT INT TERM HUP
	# a test's own undo (say, a mount on a node), if it defines one
	if declare -F test_cleanup >/dev/null; then
		test_cleanup || rc=1
	fi
	for n in "${BG_PIDS[@]}"; do
		tree "$n"
		[ ${#PIDS[@]} -gt 0 ] && kill -TERM "${PIDS[@]}" 2>/dev/null
	done
	for n in "${BG_PIDS[@]}"; do
		wait_for 10 eval "tree $n; [ \${#PIDS[@]} -eq 0 ]"
	done
	# the tests run one at a time: every job still listed is this test's
	# (its own psm-<test>-* jobs and those parade submitted, parade-*)
	ids=$(squeue -h -o '%i' 2>/dev/null)
	if [ -n "$ids" ]; then
		echo "# $TEST_NAME: cancelling leftover jobs: $(echo "$ids" | tr '\n' ' ')" >&2
		# shellcheck disable=SC2086
		scancel $ids 2>/dev/null
	fi
	if ! wait_for 8 no_procs; then
		report_left
		kill -9 "${PIDS[@]}" 2>/dev/null
		echo "FAIL: $TEST_NAME: processes of the test were left behind (killed now)" >&2
		rc=1
	fi
	if ! wait_for 8 nodes_clean; then
		node_procs 2>&1 | sed "s/^/FAIL: $TEST_NAME: process left on a node: /" >&2
		kill_node_procs
		rc=1
	fi
	# a node whose slurmd a test killed comes back for the next test
	for n in "${NODES[@]}"; do
		[ -n "$(slurmd_pid "$n")" ] && continue
		echo "# $TEST_NAME: starting the slurmd of $n again" >&2
		"$MC" revive "$PM_DIR" "$n" >&2 || rc=1
	done
	"$MC" wait-idle "$PM_DIR" 30 >&2 || rc=1
	case $T in
	"$PSM_TMP/$TEST_NAME".??????) rm -rf -- "$T" ;;
	esac
	case $H in
	/tmp/psm-home."$TEST_NAME".??????) rm -rf -- "$H" ;;
	esac
	exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"' INT TERM HUP

if [ -n "${PSM_TRACE:-}" ]; then
	PS4='+ $(date +%s.%N) '
	set -x
fi
