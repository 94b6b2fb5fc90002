#!/bin/bash
# scale.sh - the controller at scale (issue 6), as a Markdown table.
#
# usage: bench/scale.sh [--quick] [BUILD_DIR]
#
#   BUILD_DIR  a plain optimised build (default /work/main/build) holding
#              controller/parade, agent/parade-agent and bench/loadagents
#   --quick    10x smaller numbers (a smoke test of this script)
#
# (a) `parade run --listen tls+tcp://127.0.0.1:0 --launch none --handler
#     echo` over 200,000 tasks and bench/loadagents -n 10000 --hold: the
#     connect storm time, the controller's VmRSS before and after the storm
#     divided by the connections, and the dispatch rate once all are
#     connected (loadagents' own figure: tasks after the storm / time from
#     the storm's end to the BYE). The same with loadagents -n 2, and with
#     2 real agents (`--workers 2`, wall time of the whole run).
# (b) 500 real parade-agent processes (`ulimit -s 256`, `--workers 500`)
#     through a 5,000-row grid of `true`: wall time and peak controller RSS.
# (c) 1,000,000 queued echo tasks with 2 agents, with and without the
#     journal: peak controller RSS (VmHWM), which must stay under 500 MiB.
#
# Peak RSS is VmHWM from /proc/PID/status, polled every 0.2 s while the
# controller runs. PARADE_HOME is a fresh temporary folder, removed at exit.
set -eu

build=/work/main/build
quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) echo "scale.sh: unknown option $1" >&2; exit 2 ;;
	*) build=$1 ;;
	esac
	shift
done
build=$(cd "$build" && pwd) || { echo "scale.sh: no build folder $build" >&2; exit 2; }
parade=$build/controller/parade
agent=$build/agent/parade-agent
load=$build/bench/loadagents
for f in "$parade" "$agent" "$load"; do
	[ -x "$f" ] || { echo "scale.sh: $f is missing: build first" >&2; exit 2; }
done

if [ "$quick" = 1 ]; then
	n_conn=1000 n_disp=20000 n_real=50 n_rows=500 n_queue=100000
else
	n_conn=10000 n_disp=200000 n_real=500 n_rows=5000 n_queue=1000000
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parade-scale.XXXXXX")
PARADE_HOME=$work/home
mkdir -m 700 "$PARADE_HOME"
PARADE_AGENT=$agent
export PARADE_HOME PARADE_AGENT LC_ALL=C
unset PARADE_DEBUG PARADE_CONNECT 2>/dev/null || true
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notes=$work/notes
: >"$notes"
note() {
	echo "- $*" >>"$notes"
	echo "scale.sh: $*" >&2
}
now() { date +%s.%N; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# watch_hwm PID FILE: keeps FILE holding PID's VmHWM (kB) until it exits
watch_hwm() {
	while v=$(status_kb "$1" VmHWM) && [ -n "$v" ]; do
		echo "$v" >"$2"
		sleep 0.2
	done
}
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }
wait_file() { # wait_file FILE SECONDS
	local i=0
	while [ ! -s "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ]
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- limits: the controller and loadagents each need n_conn + spare fds ----
need=$((n_conn + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	if ulimit -Hn "$need" 2>/dev/null && ulimit -Sn "$need" 2>/dev/null; then
		note "raised the hard open-file limit from $hard to $need for this run."
	else
		note "the hard open-file limit is $hard < $need (root could raise it with prlimit --nofile): $n_conn connections cannot be held."
	fi
fi
ports=$(awk '{ print $2 - $1 + 1 }' /proc/sys/net/ipv4/ip_local_port_range)
[ "$ports" -ge "$n_conn" ] || note "only $ports local ports (net.ipv4.ip_local_port_range) for $n_conn connections."

# ---- (a) n_conn load agents over TLS ----
# load_run NAME N: controller + loadagents -n N; sets storm_s rss0 rss1 tps
load_run() {
	local name=$1 n=$2 conn cpid lpid line
	storm_s=n/a rss0= rss1= tps=n/a connected=0
	seq "$n_disp" >"$work/in"
	"$parade" run --name "$name" --listen tls+tcp://127.0.0.1:0 --launch none \
		--handler echo -o /dev/null -- x '{}' <"$work/in" 2>"$work/$name.err" &
	cpid=$!
	pids="$pids $cpid"
	conn=$PARADE_HOME/sessions/$name/connection
	if ! wait_file "$conn" 20; then
		note "$name: the controller wrote no connection file"
		return
	fi
	sleep 0.5
	rss0=$(status_kb "$cpid" VmRSS)
	"$load" -n "$n" --connect "$conn" --hold --report --rate 256 --grace 60 \
		>"$work/$name.load" 2>"$work/$name.lerr" &
	lpid=$!
	pids="$pids $lpid"
	wait_file "$work/$name.load" 300 || true
	rss1=$(status_kb "$cpid" VmRSS)
	line=$(cat "$work/$name.load" 2>/dev/null)
	connected=$(field "$line" connected)
	[ "$(field "$line" state)" = complete ] && storm_s=$(field "$line" storm_s)
	wait "$cpid" || note "$name: parade run exited $?"
	wait "$lpid" || note "$name: loadagents exited $?"
	[ "$storm_s" != n/a ] || { note "$name: the storm did not complete:"; sed 's/^/    /' "$work/$name.lerr" | tail -3 >>"$notes"; }
	tps=$(sed -n 's/.*after the storm in .* (\([0-9]*\) tasks\/s).*/\1/p' "$work/$name.lerr")
	[ -n "$tps" ] || tps=n/a
}

echo "scale.sh: (a) $n_conn TLS load agents, $n_disp echo tasks" >&2
load_run LN "$n_conn"
a_storm=$storm_s a_conn=$connected a_tps=$tps
a_per=n/a
[ -n "$rss0" ] && [ -n "$rss1" ] && [ "${connected:-0}" -gt 0 ] &&
	a_per=$(awk -v a="$rss0" -v b="$rss1" -v n="$connected" 'BEGIN { printf "%.1f", (b - a) / n }')
a_rss0=$(mib "$rss0") a_rss1=$(mib "$rss1")
echo "scale.sh: storm $a_storm s, RSS $a_rss0 -> $a_rss1 MiB, $a_tps tasks/s" >&2

echo "scale.sh: (a') 2 TLS load agents, $n_disp echo tasks" >&2
load_run L2 2
a2_tps=$tps

echo "scale.sh: (a'') 2 real agents (--workers 2), $n_disp echo tasks" >&2
seq "$n_disp" >"$work/in"
s=$(now)
"$parade" run --workers 2 --handler echo -o /dev/null -- x '{}' <"$work/in" 2>"$work/w2.err" ||
	note "--workers 2 run exited $?"
e=$(now)
w2_tps=$(awk -v n="$n_disp" -v s="$s" -v e="$e" 'BEGIN { printf "%.0f", n / (e - s) }')

# ---- (b) n_real real agents ----
echo "scale.sh: (b) $n_real parade-agent processes, $n_rows tasks of true" >&2
seq "$n_rows" >"$work/rows"
s=$(now)
(
	ulimit -s 256
	exec "$parade" run --workers "$n_real" -o /dev/null -- true <"$work/rows" 2>"$work/real.err"
) &
cpid=$!
pids="$pids $cpid"
watch_hwm "$cpid" "$work/real.hwm" &
b_ok=1
wait "$cpid" || { b_ok=0; note "the $n_real-agent run exited $?:"; tail -3 "$work/real.err" | sed 's/^/    /' >>"$notes"; }
e=$(now)
b_time=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')
sleep 0.3
b_hwm=$(mib "$(cat "$work/real.hwm" 2>/dev/null)")
[ "$b_ok" = 1 ] || b_time="failed after $b_time"

# ---- (c) n_queue queued tasks ----
seq "$n_queue" >"$work/queue"
# queue_run NAME ARGS...: sets q_hwm (MiB) and q_time (s)
queue_run() {
	local name=$1 cpid s e
	shift
	s=$(now)
	"$parade" run --workers 2 --handler echo -o /dev/null "$@" -- x '{}' <"$work/queue" \
		2>"$work/$name.err" &
	cpid=$!
	pids="$pids $cpid"
	watch_hwm "$cpid" "$work/$name.hwm" &
	wait "$cpid" || note "$name: parade run exited $?"
	e=$(now)
	sleep 0.3
	q_hwm=$(mib "$(cat "$work/$name.hwm" 2>/dev/null)")
	q_time=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", e - s }')
}
echo "scale.sh: (c) $n_queue queued echo tasks, --no-journal and with the journal" >&2
queue_run qnj --no-journal
c_nj_hwm=$q_hwm c_nj_time=$q_time
queue_run qj
c_j_hwm=$q_hwm c_j_time=$q_time
verdict() { awk -v v="$1" 'BEGIN { if (v == "n/a") print "n/a"; else if (v < 500) print "met"; else print "**missed**" }'; }

load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----
cat <<EOF
Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); open-file limit $(ulimit -Hn); load average before: $load0, after: $load1.

| measurement | figure |
|---|---|
| (a) connect storm, $n_conn TLS agents (loadagents --rate 256) | $a_storm s ($a_conn connected) |
| (a) controller VmRSS before / after the storm | $a_rss0 / $a_rss1 MiB |
| (a) controller RSS per connected agent | $a_per KiB |
| (a) echo dispatch, $n_disp tasks, $n_conn agents connected | $a_tps tasks/s |
| (a) echo dispatch, same way, 2 load agents | $a2_tps tasks/s |
| (a) echo dispatch, 2 real agents (--workers 2, whole run) | $w2_tps tasks/s |
| (b) $n_real real agents (ulimit -s 256), $n_rows x true | $b_time s |
| (b) peak controller RSS (VmHWM) | $b_hwm MiB |
| (c) $n_queue queued echo tasks, --no-journal: peak RSS | $c_nj_hwm MiB ($(verdict "$c_nj_hwm") < 500 MiB), $c_nj_time s |
| (c) $n_queue queued echo tasks, journal: peak RSS | $c_j_hwm MiB ($(verdict "$c_j_hwm") < 500 MiB), $c_j_time s |
EOF
if [ -s "$notes" ]; then
	echo
	echo "Notes:"
	echo
	cat "$notes"
fi
