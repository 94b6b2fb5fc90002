#!/bin/sh
# run.sh - parade's benchmarks, side by side in one run, as a Markdown report.
#
# usage: bench/run.sh [--write] [--repeat R] [--quick] [BUILD_DIR]
#
#   BUILD_DIR   a configured and built tree (default /work/main/build); it
#               should be an optimised build WITHOUT sanitizers (plain
#               `configure && make`: -O2), or the figures mean little
#   --write     also store the report in bench/RESULTS.md (only the part
#               between the "run.sh" markers is replaced if they are there,
#               so hand-written notes around it survive)
#   --repeat R  run every throughput measurement R times (default 3) and
#               report the median; the runs of the different tools are
#               interleaved so background load hits them alike
#   --quick     smaller task counts (a smoke test of this script; the
#               figures are not comparable with the targets)
#
# Everything runs on this machine: the rtt benchmark (bench/rtt) over a Unix
# socket and over TLS, `parade run` with the echo built-in and 2 agents
# unbatched (with and without its journal) and with --chunk 64, and 20,000 `true` processes through
# parade, xargs -P2 and GNU parallel -j2. PARADE_HOME is a fresh temporary
# folder, removed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=/work/main/build
write=0
repeat=3
quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--write) write=1 ;;
	--repeat)
		[ $# -ge 2 ] || { echo "run.sh: --repeat needs a number" >&2; exit 2; }
		repeat=$2
		shift
		;;
	--quick) quick=1 ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) build=$1 ;;
	esac
	shift
done
case $repeat in
'' | *[!0-9]* | 0) echo "run.sh: --repeat wants a whole number >= 1" >&2; exit 2 ;;
esac

build=$(cd "$build" && pwd) || { echo "run.sh: no build folder $build" >&2; exit 2; }
parade=$build/controller/parade
agent=$build/agent/parade-agent
rtt=$build/bench/rtt
for f in "$parade" "$agent" "$rtt"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is missing: build first (make -C $build)" >&2
		exit 2
	fi
done

if [ "$quick" = 1 ]; then
	n_rtt=2000 n_echo=20000 n_shell=2000
else
	n_rtt=10000 n_echo=200000 n_shell=20000
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parade-bench.XXXXXX")
PARADE_HOME=$work/home
mkdir -m 700 "$PARADE_HOME"
PARADE_AGENT=$agent
export PARADE_HOME PARADE_AGENT
unset PARADE_DEBUG PARADE_CONNECT 2>/dev/null || true
cleanup() {
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notes=$work/notes
: >"$notes"
note() {
	echo "$*" >>"$notes"
	echo "run.sh: $*" >&2
}

# ---- GNU parallel ----
if ! command -v parallel >/dev/null 2>&1 || ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
	echo "run.sh: GNU parallel is missing; installing it with apt-get" >&2
	sudo=
	[ "$(id -u)" = 0 ] || sudo="sudo -n"
	if command -v apt-get >/dev/null 2>&1 &&
		{ $sudo apt-get install -y -q parallel >&2 ||
			{ $sudo apt-get update -q >&2 && $sudo apt-get install -y -q parallel >&2; }; }; then
		note "GNU parallel was not installed; run.sh installed it with apt-get."
	else
		note "GNU parallel is not installed and could not be installed: its row is missing."
	fi
fi
have_parallel=0
if command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
	have_parallel=1
fi

# ---- helpers ----

now() {
	date +%s.%N
}

# rate N START END: tasks per second
rate() {
	awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.0f", n / (e - s) }'
}

# median of the numbers on stdin (one a line)
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# thousands separators for the report
fmt() {
	echo "$1" | awk '{ s = sprintf("%d", $1); o = "";
		while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
		print s o }'
}

# timed NAME N CMD...: runs CMD with seq N on stdin, appends tasks/s to $work/NAME
timed() {
	name=$1 n=$2
	shift 2
	seq "$n" >"$work/input"
	s=$(now)
	if "$@" <"$work/input" >/dev/null 2>>"$work/$name.log"; then
		e=$(now)
		r=$(rate "$n" "$s" "$e")
		echo "$r" >>"$work/$name"
		echo "run.sh: $name: $r tasks/s" >&2
	else
		note "$name: the command failed (exit $?); see its log lines below."
		sed 's/^/    /' "$work/$name.log" | tail -5 >>"$notes"
	fi
}

# ---- the machine ----
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(uname -m)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
kernel=$(uname -srm)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
gccv=$(gcc --version 2>/dev/null | head -n 1 || echo "?")
parv=$(parallel --version 2>/dev/null | head -n 1 || echo "not installed")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
cflags=$(sed -n 's/^CFLAGS = //p' "$build/Makefile" 2>/dev/null | head -n 1)
san=$(sed -n 's/^SAN_CFLAGS = //p' "$build/Makefile" 2>/dev/null | head -n 1)
case "$cflags $san" in
*-fsanitize*) note "this build uses sanitizers ($san): the figures are not representative; use a plain build." ;;
esac
case "$cflags" in
*-O0* | "") note "this build is not optimised (CFLAGS '$cflags'): use a plain -O2 build." ;;
esac

# ---- rtt ----
echo "run.sh: rtt over ipc and tls, $repeat x $n_rtt round trips each" >&2
i=0
while [ "$i" -lt "$repeat" ]; do
	for t in ipc tls; do
		if line=$("$rtt" --transport "$t" --n "$n_rtt" --agent "$agent" 2>>"$work/rtt.log"); then
			echo "$line" >>"$work/rtt-$t"
			echo "run.sh: $line" >&2
		else
			note "rtt over $t failed."
			sed 's/^/    /' "$work/rtt.log" | tail -5 >>"$notes"
		fi
	done
	i=$((i + 1))
done

# placement: both sides on one CPU, then on two different CPUs
cpus=$(awk -F, '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-");
	lo = r[1]; hi = n > 1 ? r[2] : r[1]; for (c = lo; c <= hi; c++) printf "%d ", c } }' \
	/sys/devices/system/cpu/online 2>/dev/null || true)
cpu_a=$(echo "$cpus" | awk '{ print $1 }')
cpu_b=$(echo "$cpus" | awk '{ print $2 }')
if [ -n "$cpu_a" ]; then
	for t in ipc tls; do
		"$rtt" --transport "$t" --n "$n_rtt" --agent "$agent" --cpu "$cpu_a" \
			--agent-cpu "$cpu_a" >"$work/rtt-$t-same" 2>>"$work/rtt.log" || : >"$work/rtt-$t-same"
		if [ -n "$cpu_b" ]; then
			"$rtt" --transport "$t" --n "$n_rtt" --agent "$agent" --cpu "$cpu_a" \
				--agent-cpu "$cpu_b" >"$work/rtt-$t-split" 2>>"$work/rtt.log" ||
				: >"$work/rtt-$t-split"
		fi
	done
fi

# field FILE KEY: the run with the median p50 (by sorting), its KEY value
rtt_pick() {
	[ -s "$1" ] || { echo ""; return; }
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^p50_us=/) { split($i, a, "="); print a[2], $0 } }' "$1" |
		sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }' | cut -d' ' -f2-
}
rtt_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# rtt_row LABEL LINE: one table row from an rtt output line
rtt_row() {
	if [ -n "$2" ]; then
		echo "| $1 | $(rtt_field "$2" p50_us) | $(rtt_field "$2" p90_us) | $(rtt_field "$2" p99_us) | $(rtt_field "$2" mean_us) | $(rtt_field "$2" max_us) |"
	else
		echo "| $1 | failed | | | | |"
	fi
}

# ---- throughput: echo built-in, 2 agents ----
echo "run.sh: echo and sh-coprocess throughput, $repeat x $n_echo tasks, --chunk 1 and 64" >&2
i=0
while [ "$i" -lt "$repeat" ]; do
	timed echo1 "$n_echo" "$parade" run --workers 2 --handler echo --chunk 1 -o /dev/null -- x '{}'
	timed echo1nj "$n_echo" "$parade" run --workers 2 --handler echo --chunk 1 --no-journal -o /dev/null -- x '{}'
	timed echo64 "$n_echo" "$parade" run --workers 2 --handler echo --chunk 64 -o /dev/null -- x '{}'
	timed coproc1 "$n_echo" "$parade" run --workers 2 --chunk 1 -o /dev/null \
		--handler coproc:"sh $here/../examples/coproc/loop.sh" -- x '{}'
	i=$((i + 1))
done

# ---- shell tasks: 2 at a time ----
echo "run.sh: $n_shell 'true' processes, $repeat x parade / xargs / parallel" >&2
i=0
while [ "$i" -lt "$repeat" ]; do
	timed true_parade "$n_shell" "$parade" run --workers 2 -o /dev/null -- true
	timed true_xargs "$n_shell" xargs -P2 -n1 true
	if [ "$have_parallel" = 1 ]; then
		timed true_parallel "$n_shell" parallel --will-cite -j2 true
	fi
	i=$((i + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----
med() {
	if [ -s "$work/$1" ]; then median <"$work/$1"; else echo "n/a"; fi
}
runs() {
	if [ -s "$work/$1" ]; then
		tr '\n' ' ' <"$work/$1" | sed 's/ $//; s/ /, /g'
	else
		echo "-"
	fi
}
# verdict VALUE OP LIMIT
verdict() {
	case $1 in n/a | "") echo "n/a"; return ;; esac
	if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
		ok = (op == "<") ? v < l : (op == ">=") ? v >= l : 0; exit !ok }'; then
		echo "met"
	else
		echo "**missed**"
	fi
}

e1=$(med echo1)
e1nj=$(med echo1nj)
jcost=n/a
if [ "$e1" != n/a ] && [ "$e1nj" != n/a ]; then
	jcost=$(awk -v a="$e1nj" -v b="$e1" 'BEGIN { printf "%.2f", a / b }')
fi
e64=$(med echo64)
cp1=$(med coproc1)
tp=$(med true_parade)
tx=$(med true_xargs)
tg=$(med true_parallel)
ipc=$(rtt_pick "$work/rtt-ipc")
tls=$(rtt_pick "$work/rtt-tls")
tls50=$(rtt_field "$tls" p50_us)
[ -n "$tls50" ] || tls50=n/a
ratio_par=n/a
ratio_x=n/a
if [ "$tp" != n/a ] && [ "$tg" != n/a ]; then
	ratio_par=$(awk -v a="$tp" -v b="$tg" 'BEGIN { printf "%.2f", a / b }')
fi
if [ "$tp" != n/a ] && [ "$tx" != n/a ]; then
	ratio_x=$(awk -v a="$tp" -v b="$tx" 'BEGIN { printf "%.2f", a / b }')
fi

report=$work/report.md
{
	echo "<!-- BEGIN run.sh: generated by bench/run.sh; edit outside these markers -->"
	echo "## Run of $when"
	echo
	echo "### Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPUs (nproc) | $(nproc) |"
	echo "| CPU model | $cpu |"
	echo "| Memory | $mem |"
	echo "| Kernel | $kernel |"
	echo "| Date | $when |"
	echo "| Compiler | $gccv |"
	echo "| Build | \`$build\`, CFLAGS \`${cflags:-?}\`, sanitizers: ${san:-none} |"
	echo "| GNU parallel | $parv |"
	echo "| Load average (1/5/15 min) | before $load0, after $load1 |"
	echo
	echo "### Latency: one echo task at a time, one agent (bench/rtt)"
	echo
	echo "$n_rtt timed round trips after 200 warm-up ones; of $repeat runs per transport, the run"
	echo "with the median p50 is shown. Microseconds."
	echo
	echo "| Transport | p50 | p90 | p99 | mean | max |"
	echo "|---|---:|---:|---:|---:|---:|"
	rtt_row "ipc (Unix socket)" "$ipc"
	rtt_row "tls (TLS 1.3 PSK, 127.0.0.1)" "$tls"
	if [ -n "$cpu_a" ]; then
		rtt_row "ipc, both on CPU $cpu_a" "$(cat "$work/rtt-ipc-same" 2>/dev/null)"
		rtt_row "tls, both on CPU $cpu_a" "$(cat "$work/rtt-tls-same" 2>/dev/null)"
	fi
	if [ -n "$cpu_b" ]; then
		rtt_row "ipc, CPU $cpu_a / agent CPU $cpu_b" "$(cat "$work/rtt-ipc-split" 2>/dev/null)"
		rtt_row "tls, CPU $cpu_a / agent CPU $cpu_b" "$(cat "$work/rtt-tls-split" 2>/dev/null)"
	fi
	echo
	echo "The first two rows leave placement to the scheduler (as a real run does); the"
	echo "pinned rows (\`rtt --cpu C --agent-cpu C\`) show the two cases it may pick."
	echo
	echo "### Throughput (tasks/s, median of $repeat; higher is better)"
	echo
	echo "| Benchmark | tasks/s | runs | Target | |"
	echo "|---|---:|---|---|---|"
	echo "| echo, $(fmt "$n_echo") tasks, 2 agents, \`--chunk 1\` | $(fmt "$e1") | $(runs echo1) | >= 50,000 | $(verdict "$e1" ">=" 50000) |"
	echo "| echo, $(fmt "$n_echo") tasks, 2 agents, \`--chunk 1 --no-journal\` | $(fmt "$e1nj") | $(runs echo1nj) | | |"
	echo "| echo, $(fmt "$n_echo") tasks, 2 agents, \`--chunk 64\` | $(fmt "$e64") | $(runs echo64) | >= 300,000 | $(verdict "$e64" ">=" 300000) |"
	echo "| coprocess \`examples/coproc/loop.sh\`, $(fmt "$n_echo") tasks, 2 agents, \`--chunk 1\` | $(fmt "$cp1") | $(runs coproc1) | >= 20,000 | $(verdict "$cp1" ">=" 20000) |"
	echo "| \`true\` x $(fmt "$n_shell") via \`parade run --workers 2\` | $(fmt "$tp") | $(runs true_parade) | | |"
	echo "| \`true\` x $(fmt "$n_shell") via \`xargs -P2 -n1\` | $(fmt "$tx") | $(runs true_xargs) | | |"
	echo "| \`true\` x $(fmt "$n_shell") via GNU \`parallel -j2\` | $(fmt "$tg") | $(runs true_parallel) | | |"
	echo
	echo "### Targets"
	echo
	echo "| Target | Measured | |"
	echo "|---|---|---|"
	echo "| echo rtt p50 over TLS < 50 µs | $tls50 µs | $(verdict "$tls50" "<" 50) |"
	echo "| unbatched echo >= 50,000 tasks/s | $(fmt "$e1") | $(verdict "$e1" ">=" 50000) |"
	echo "| journal costs at most 1.5x (time with / time without, unbatched echo) | ${jcost}x | $(verdict "$jcost" "<" 1.5) |"
	echo "| \`--chunk 64\` echo >= 300,000 tasks/s | $(fmt "$e64") | $(verdict "$e64" ">=" 300000) |"
	echo "| trivial coprocess task (sh loop), 2 agents unbatched >= 20,000 tasks/s | $(fmt "$cp1") | $(verdict "$cp1" ">=" 20000) |"
	echo "| shell tasks >= 3x GNU parallel | ${ratio_par}x | $(verdict "$ratio_par" ">=" 3) |"
	echo "| shell tasks within 20% of xargs -P2 (>= 0.8x) | ${ratio_x}x | $(verdict "$ratio_x" ">=" 0.8) |"
	echo
	echo "Commands: \`seq N | parade run --workers 2 --handler echo --chunk K -o /dev/null -- x {}\`,"
	echo "\`seq N | parade run --workers 2 --chunk 1 --handler coproc:'sh examples/coproc/loop.sh' -o /dev/null -- x {}\`,"
	echo "\`seq N | parade run --workers 2 -o /dev/null -- true\`, \`seq N | xargs -P2 -n1 true\`,"
	echo "\`seq N | parallel --will-cite -j2 true\`; wall time from \`date +%s.%N\` around each."
	if [ "$quick" = 1 ]; then
		echo
		echo "**--quick run: task counts are 10x smaller than the targets assume.**"
	fi
	if [ -s "$notes" ]; then
		echo
		echo "Notes from this run:"
		echo
		sed 's/^/- /; s/^-     /    /' "$notes"
	fi
	echo "<!-- END run.sh -->"
} >"$report"

cat "$report"

if [ "$write" = 1 ]; then
	dest=$here/RESULTS.md
	. "$here/results_block.sh"
	results_block run.sh "$report" "$dest" && echo "run.sh: wrote $dest" >&2
fi
