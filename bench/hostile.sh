#!/bin/bash
# hostile.sh - what unauthenticated peers cost a run (issue 11), as a
# Markdown table stored in bench/RESULTS.md.
#
# usage: bench/hostile.sh [--quick] [BUILD_DIR]
#
#   BUILD_DIR  a plain build (default: build/ at the top of this tree)
#              holding controller/parade and agent/parade-agent
#   --quick    fewer tasks and one repeat (a smoke test of this script)
#
# A controller listens on tls+tcp://127.0.0.1:0 with no agents; a flood of
# K peers that never finish a TLS handshake is opened against it (idle:
# connect and say nothing; slowloris: one byte of a ClientHello every
# second), and re-opened as the controller drops them (the 5 s handshake
# deadline, the cap of 512). Then two real agents join and run N echo
# tasks; the figures are the time from their start to the end of the run,
# as a ratio to the same run with no flood, and the CPU time of the
# controller and of the flood over the whole run. Each is the median of R
# repeats.
#
# Every connection goes to 127.0.0.1 only; each flood stops with its run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$top/build
quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) build=$1 ;;
	esac
	shift
done
PARADE=$build/controller/parade
AGENT=$build/agent/parade-agent
for f in "$PARADE" "$AGENT"; do
	[ -x "$f" ] || { echo "hostile.sh: $f is missing (build first)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "hostile.sh: needs python3" >&2; exit 2; }
N=30000
R=3
[ $quick = 1 ] && N=3000 && R=1
ulimit -n 16384 2>/dev/null || ulimit -n 8192 2>/dev/null || true

PARADE_HOME=$(mktemp -d /tmp/pbench-hostile.XXXXXX)
export PARADE_HOME
flood_pid=
ctl_pid=
trap 'kill $flood_pid $ctl_pid 2>/dev/null; wait 2>/dev/null; rm -rf -- "$PARADE_HOME"' EXIT

# flood.py PORT K MODE: holds K connections to 127.0.0.1:PORT, opening a
# new one whenever one is closed, until killed.
cat >"$PARADE_HOME/flood.py" <<'PY'
import selectors, socket, sys, time
port, k, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(500)
sel = selectors.DefaultSelector()
conns = {}
def opennew():
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return
    conns[s] = 0
    sel.register(s, selectors.EVENT_READ)
while len(conns) < k:
    opennew()
last = time.monotonic()
while True:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            if s.recv(4096):
                continue
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            pass
        sel.unregister(s)
        s.close()
        del conns[s]
    while len(conns) < k:
        opennew()
    if mode == "slowloris" and time.monotonic() - last >= 1.0:
        last = time.monotonic()
        for s, i in list(conns.items()):
            if i < len(hello):
                try:
                    s.send(hello[i:i + 1])
                    conns[s] = i + 1
                except OSError:
                    pass
PY

ms() { echo $(($(date +%s%N) / 1000000)); }
cpu_ms() { # utime + stime of PID, in ms
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"
}

# one_run K MODE: prints "WALL_MS CPU_MS" of one run
one_run() {
	local k=$1 mode=$2 name conn port t0 t1 cpu fcpu
	name=h$RANDOM
	seq 1 $N >"$PARADE_HOME/in"
	"$PARADE" run --name "$name" --listen tls+tcp://127.0.0.1:0 --launch none \
		--handler echo -o /dev/null -- x{} <"$PARADE_HOME/in" 2>"$PARADE_HOME/err" &
	ctl_pid=$!
	conn=$PARADE_HOME/sessions/$name/connection
	for _ in $(seq 100); do
		grep -q '^endpoint=tls+tcp://' "$conn" 2>/dev/null && break
		sleep 0.1
	done
	port=$(sed -n 's|^endpoint=tls+tcp://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$conn")
	[ -n "$port" ] || { cat "$PARADE_HOME/err" >&2; echo "hostile.sh: no endpoint" >&2; exit 1; }
	if [ "$k" -gt 0 ]; then
		python3 "$PARADE_HOME/flood.py" "$port" "$k" "$mode" &
		flood_pid=$!
		sleep 2 # the flood is in place before the agents come
	fi
	t0=$(ms)
	"$AGENT" --connect "$conn" --id a1 2>/dev/null &
	"$AGENT" --connect "$conn" --id a2 2>/dev/null &
	cpu=0
	while kill -0 "$ctl_pid" 2>/dev/null; do
		cpu=$(cpu_ms "$ctl_pid" 2>/dev/null || echo "$cpu")
		sleep 0.05
	done
	t1=$(ms)
	wait "$ctl_pid" || true
	ctl_pid=
	fcpu=0
	if [ -n "$flood_pid" ]; then
		fcpu=$(cpu_ms "$flood_pid" 2>/dev/null || echo 0)
		kill "$flood_pid" 2>/dev/null
		wait "$flood_pid" 2>/dev/null || true
		flood_pid=
	fi
	wait
	rm -rf -- "${PARADE_HOME:?}/sessions/$name"
	echo "$((t1 - t0)) $cpu $fcpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# row K MODE: "WALL CPU FLOODCPU", the medians of R runs
row() {
	local i walls=() cpus=() fcpus=() r
	for i in $(seq $R); do
		read -r w c f < <(one_run "$1" "$2")
		walls+=("$w")
		cpus+=("$c")
		fcpus+=("$f")
	done
	echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median) $(printf '%s\n' "${fcpus[@]}" | median)"
}

report=$PARADE_HOME/report.md
base=$(row 0 none)
{
	echo "<!-- BEGIN hostile: generated by bench/hostile.sh; edit outside these markers -->"
	echo "## Unauthenticated floods next to a run (issue 11), run of $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
	echo "$N echo tasks on 2 local TLS agents, median of $R runs; the flood's"
	echo "connections are re-opened as the controller drops them."
	echo
	echo "The flood runs on the same CPUs as the run and re-opens what is"
	echo "dropped as fast as it can: above the cap of 512 it is a connect flood,"
	echo "and its own CPU time is shown, as is the controller's (flood set-up"
	echo "included)."
	echo
	echo "| flood | run (ms) | run / no flood | controller CPU (ms) | flood CPU (ms) |"
	echo "|---|---|---|---|---|"
	read -r bw bc _ <<<"$base"
	echo "| none | $bw | 1.00 | $bc | — |"
	for spec in "500 idle" "5000 idle" "1000 slowloris"; do
		read -r w c f <<<"$(row $spec)"
		echo "| $spec | $w | $(awk -v a="$w" -v b="$bw" 'BEGIN { printf "%.2f", a / b }') | $c | $f |"
	done
	echo "<!-- END hostile -->"
} >"$report"
cat "$report"
if [ $quick = 0 ]; then
	. "$here/results_block.sh"
	results_block hostile "$report" "$here/RESULTS.md" && echo "wrote $here/RESULTS.md" >&2
fi
