#!/bin/sh
# gamma.sh - the gamma sweep of examples/gamma done in R two ways through
# parade: one R coprocess per agent slot, and one Rscript process per task.
#
# usage: bench/gamma.sh [--write] [--quick] [--repeat R] [--build DIR]
#
#   --build DIR  a configured and built tree (default /work/main/build) with
#                controller/parade, agent/parade-agent and (for the C
#                reference row) examples/gamma/gamma-sim; an optimised build
#                without sanitizers (a sanitizer build is refused)
#   --repeat R   run every variant R times (default 3); the report gives the
#                median tasks/s and every run's figure
#   --quick      1,000 grid rows instead of 10,000, 40 Rscript tasks instead
#                of 200 (a smoke test of this script)
#   --write      also store the report in bench/RESULTS.md, between the
#                "gamma" markers (appended at the end if they are absent);
#                nothing else in the file is touched
#
# Variants, all with --workers 2 over examples/gamma/grid.csv: parade with
# --handler coproc:"Rscript gamma.R" (full grid), parade running
# "Rscript gamma.R ALPHA BETA N_SIM" per task (first 200 rows: R's start-up
# makes the full grid take most of an hour), and for reference the compiled
# gamma-sim per task and one Rscript looping over the grid with no parade.
# Every row must be ok, and the R answers must agree digit for digit between
# the variants; otherwise the report says so and the exit status is 1.
# Needs Rscript (installs r-base-core with apt-get if missing). A full run
# takes about 2 minutes on 2 CPUs.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=/work/main/build
write=0
quick=0
repeat=3
while [ $# -gt 0 ]; do
	case $1 in
	--write) write=1 ;;
	--quick) quick=1 ;;
	--repeat | --build)
		[ $# -ge 2 ] || { echo "gamma: $1 needs a value" >&2; exit 2; }
		if [ "$1" = --build ]; then build=$2; else repeat=$2; fi
		shift
		;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) echo "gamma: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case $repeat in '' | *[!0-9]* | 0) echo "gamma: --repeat needs a positive number" >&2; exit 2 ;; esac

build=$(cd "$build" 2>/dev/null && pwd) || { echo "gamma: no build folder" >&2; exit 2; }
parade=$build/controller/parade
agent=$build/agent/parade-agent
csim=$build/examples/gamma/gamma-sim
for f in "$parade" "$agent"; do
	[ -x "$f" ] || { echo "gamma: $f is missing: build first" >&2; exit 2; }
done
cflags=$(sed -n 's/^CFLAGS = //p' "$build/Makefile" 2>/dev/null | head -n 1)
san=$(sed -n 's/^SAN_CFLAGS = //p' "$build/Makefile" 2>/dev/null | head -n 1)
case "$cflags $san" in *-fsanitize*)
	echo "gamma: $build is a sanitizer build (CFLAGS '$cflags', SAN_CFLAGS '$san')." >&2
	echo "gamma: its figures would mean nothing; build a plain tree (configure && make) and pass --build." >&2
	exit 2
	;;
esac
pd=$here/peers.d
grid=$top/examples/gamma/grid.csv
[ -r "$grid" ] || { echo "gamma: $grid is missing" >&2; exit 2; }

n_grid=$(($(wc -l <"$grid") - 1))
if [ "$quick" = 1 ]; then
	n_full=1000 n_sub=40
else
	n_full=$n_grid n_sub=200
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parade-gamma.XXXXXX")
PARADE_HOME=$work/home
mkdir -m 700 "$PARADE_HOME"
PARADE_AGENT=$agent
export PARADE_HOME PARADE_AGENT
unset PARADE_DEBUG PARADE_CONNECT 2>/dev/null || true
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

notes=$work/notes
: >"$notes"
bad=0 # 1 once a row failed, a run failed or answers disagree
say() { echo "gamma: $*" >&2; }
note() {
	echo "$*" >>"$notes"
	say "$*"
}
alarm() { # a failure: noted in bold, and the exit status becomes 1
	bad=1
	note "**${*}**"
}

# ---- R: install on demand (as bench/peers does) ----
if ! command -v Rscript >/dev/null 2>&1; then
	sudo=
	[ "$(id -u)" = 0 ] || sudo="sudo -n"
	say "Rscript is missing; installing r-base-core with apt-get"
	if { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends r-base-core ||
		{ $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			$sudo apt-get install -y -q --no-install-recommends r-base-core; }; } >"$work/apt.log" 2>&1 &&
		command -v Rscript >/dev/null 2>&1; then
		note "R was not installed; this run installed r-base-core with apt-get."
	else
		say "R is missing and apt-get could not install r-base-core:"
		tail -n 3 "$work/apt.log" >&2
		exit 2
	fi
fi
[ -x "$csim" ] || note "$csim is missing: no C reference row."

# the grids: the first n_full and n_sub rows
head -n $((n_full + 1)) "$grid" >"$work/full.csv"
head -n $((n_sub + 1)) "$grid" >"$work/sub.csv"

# ---- helpers ----
now() { date +%s.%N; }
fmt() { # thousands separators
	case $1 in '' | n/a | failed) echo "${1:-n/a}"; return ;; esac
	echo "$1" | awk '{ s = sprintf("%d", $1); o = "";
		while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
		print s o }'
}
rate() { # rate ROWS START END: tasks/s, 1 decimal below 100
	awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { r = n / (e - s); f = r < 100 ? "%.1f" : "%.0f"; printf f, r }'
}
median() { # median of the numbers in FILE, one a line
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# col TSV NAME: one column of a parade TSV table, without its header
col() {
	awk -F'\t' -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
		c { print $c }' "$1"
}
# check NAME TSV ROWS: every one of ROWS rows is there and ok
check() {
	got=$(col "$2" status | wc -l)
	ok=$(col "$2" status | grep -c '^ok$')
	if [ "$got" != "$3" ] || [ "$ok" != "$3" ]; then
		ex=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
			$h["status"] != "ok" { print "row " NR - 1 ": " $h["status"] ($h["error"] == "" ? "" : ", " $h["error"]); exit }' "$2")
		alarm "$1: $ok of $3 rows ok ($got in the table)${ex:+; first bad $ex}"
	fi
}
# same NAME A B N: the first N lines of A and B are equal
same() {
	head -n "$4" "$2" >"$work/same.a"
	head -n "$4" "$3" >"$work/same.b"
	if ! cmp -s "$work/same.a" "$work/same.b"; then
		d=$(awk 'NR == FNR { a[FNR] = $0; next } a[FNR] != $0 { n++; if (!r) { r = FNR; x = a[FNR]; y = $0 } }
			END { printf "%d of the first %d rows differ; row %d: \"%s\" vs \"%s\"", n, FNR, r, x, y }' \
			"$work/same.a" "$work/same.b")
		alarm "answers differ, $1: $d"
	fi
}
label() {
	case $1 in coproc) echo "R coprocess" ;; perTask) echo "Rscript per task" ;; csim) echo "C gamma-sim" ;; *) echo "$1" ;; esac
}
# last FILE: its last two lines on one line
last() { tail -n 2 "$1" | tr '\n' ' ' | sed 's/ *$//'; }
# run NAME ROWS TIMEOUT CMD...: one timed run of CMD writing a TSV table to
# $work/NAME.tsv; appends its tasks/s to $work/NAME.rates and the mean of
# its seconds column to $work/NAME.secs. A run that fails is noted; it
# still counts if it wrote its table (parade exits 1 when a row is not ok)
run() {
	name=$1 n=$2 to=$3
	shift 3
	rm -f "$work/$name.tsv"
	s=$(now)
	timeout "$to" "$@" >"$work/$name.log" 2>&1
	rc=$?
	e=$(now)
	if [ $rc != 0 ]; then
		alarm "$(label "$name") failed (exit $rc$([ $rc = 124 ] && echo ", timed out after ${to}s")): $(last "$work/$name.log")"
		[ $rc != 124 ] && [ -s "$work/$name.tsv" ] || return 1
	fi
	r=$(rate "$n" "$s" "$e")
	echo "$r" >>"$work/$name.rates"
	col "$work/$name.tsv" seconds | awk '{ t += $1 } END { if (NR) printf "%.4f\n", t / NR }' >>"$work/$name.secs"
	say "$(label "$name"): $n rows, $r tasks/s"
}

# ---- the machine ----
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ver_r=$(R --version 2>/dev/null | head -n 1 | cut -d' ' -f1-3)
case "$cflags" in *-O0* | "") note "this build is not optimised (CFLAGS '$cflags'): use a plain -O2 build." ;; esac
t_start=$(now)

# ---- the runs, interleaved so that background load hits all alike ----
i=1
while [ $i -le "$repeat" ]; do
	say "round $i of $repeat"
	if run coproc "$n_full" 900 "$parade" run --workers 2 --grid "$work/full.csv" \
		--handler coproc:"Rscript $pd/gamma.R" --format tsv -o "$work/coproc.tsv" \
		-- '{alpha}' '{beta}' '{n_sim}'; then
		check "R coprocess, run $i" "$work/coproc.tsv" "$n_full"
		col "$work/coproc.tsv" stdout >"$work/coproc.$i.out"
	fi
	if run perTask "$n_sub" 900 "$parade" run --workers 2 --grid "$work/sub.csv" \
		--format tsv -o "$work/perTask.tsv" \
		-- Rscript "$pd/gamma.R" '{alpha}' '{beta}' '{n_sim}'; then
		check "Rscript per task, run $i" "$work/perTask.tsv" "$n_sub"
		col "$work/perTask.tsv" stdout >"$work/perTask.$i.out"
	fi
	if [ -x "$csim" ] && run csim "$n_full" 600 "$parade" run --workers 2 --grid "$work/full.csv" \
		--format tsv -o "$work/csim.tsv" -- "$csim" '{alpha}' '{beta}' '{n_sim}'; then
		check "C gamma-sim, run $i" "$work/csim.tsv" "$n_full"
	fi
	# R alone: one process, the rows in order, its answers on stdout
	s=$(now)
	if timeout 900 Rscript "$pd/gamma.R" --grid "$work/full.csv" >"$work/alone.$i.out" 2>"$work/alone.log"; then
		e=$(now)
		r=$(rate "$n_full" "$s" "$e")
		echo "$r" >>"$work/alone.rates"
		say "R alone: $n_full rows, $r tasks/s"
		n=$(wc -l <"$work/alone.$i.out")
		[ "$n" = "$n_full" ] || alarm "R alone, run $i: $n answers for $n_full rows"
	else
		alarm "R alone, run $i failed (exit $?): $(last "$work/alone.log")"
	fi
	i=$((i + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
t_all=$(awk -v s="$t_start" -v e="$(now)" 'BEGIN { printf "%.0f", e - s }')

# ---- the answers: Rscript per task run 1 is the reference for its rows;
# every R run agrees with it, and the coprocess agrees with R alone on all
ref=$work/perTask.1.out
[ -s "$ref" ] || ref=$work/coproc.1.out
i=1
while [ $i -le "$repeat" ]; do
	for v in perTask coproc; do
		[ -s "$work/$v.$i.out" ] && [ "$work/$v.$i.out" != "$ref" ] &&
			same "Rscript per task run 1 vs $(label $v) run $i" "$ref" "$work/$v.$i.out" "$n_sub"
	done
	[ -s "$work/coproc.$i.out" ] && [ -s "$work/alone.$i.out" ] &&
		same "R alone run $i vs R coprocess run $i" "$work/alone.$i.out" "$work/coproc.$i.out" "$n_full"
	i=$((i + 1))
done
if [ ! -s "$work/coproc.1.out" ] || [ ! -s "$work/perTask.1.out" ]; then
	alarm "the coprocess and Rscript-per-task answers could not be compared (a variant produced no table)"
fi
# nothing may outlive its run: agents name $work, coprocesses gamma.R
left=$(pgrep -f -- "$work/|$pd/gamma.R" | tr '\n' ' ')
[ -z "$left" ] || alarm "processes left behind after the runs: pids $left"

# ---- the report ----
med() { if [ -s "$work/$1.rates" ]; then median "$work/$1.rates"; else echo n/a; fi; }
runs() { if [ -s "$work/$1.rates" ]; then tr '\n' ' ' <"$work/$1.rates" | sed 's/ $//; s/ /, /g'; else echo failed; fi; }
msec() { # the median of a variant's mean task seconds, in ms
	if [ -s "$work/$1.secs" ]; then awk -v s="$(median "$work/$1.secs")" 'BEGIN { printf "%.1f ms", s * 1000 }'; else echo n/a; fi
}
m_co=$(med coproc) m_pt=$(med perTask) m_c=$(med csim) m_al=$(med alone)
speedup=n/a
case "$m_co$m_pt" in *n/a*) ;; *) speedup=$(awk -v a="$m_co" -v b="$m_pt" 'BEGIN { printf "%.0f", a / b }') ;; esac
full_est="many minutes"
case $m_pt in n/a) ;; *) full_est=$(awk -v n="$n_grid" -v r="$m_pt" 'BEGIN { printf "about %.0f minutes", n / r / 60 }') ;; esac
if [ "$bad" = 0 ]; then
	verdict="all rows ok in every run; the R coprocess's answers equal Rscript per task's for the first $(fmt "$n_sub") rows in every run, and R alone's for all $(fmt "$n_full") rows (same seeds, same digits)."
else
	verdict="**FAILED: see the notes below (failed rows or answers that differ).**"
fi

report=$work/report.md
{
	echo "<!-- BEGIN gamma: generated by bench/gamma.sh; edit outside these markers -->"
	echo "## Gamma sweep in R: coprocess vs Rscript per task (issue 6), run of $when"
	echo
	echo "\`bench/gamma.sh$([ $quick = 1 ] && echo " --quick") --repeat $repeat\` on $(nproc) CPUs ($cpu); ${ver_r:-R}; build \`$build\`"
	echo "(CFLAGS \`${cflags:-?}\`, sanitizers: ${san:-none}). Load average before $load0, after $load1"
	echo "(other jobs share this machine). Whole run: $t_all s."
	echo
	echo "Task: one row of \`examples/gamma/grid.csv\` (alpha, beta, n_sim): \`set.seed(n_sim)\`, 1,000 draws of"
	echo "\`rgamma(shape = alpha, scale = beta)\`, \`ks.test\` against \`pgamma\`, one answer line"
	echo "\`mean=... var=... ks_p=...\` (\`bench/peers.d/gamma.R\`). parade runs use \`--workers 2\`;"
	echo "tasks/s = rows / wall time of the whole command (agents' and R's start-up included)."
	echo
	echo "| Variant | rows | tasks/s (median of $repeat) | runs | mean task time |"
	echo "|---|---:|---:|---|---:|"
	echo "| parade, R coprocess: \`--handler coproc:\"Rscript gamma.R\" -- {alpha} {beta} {n_sim}\` | $(fmt "$n_full") | **$(fmt "$m_co")** | $(runs coproc) | $(msec coproc) |"
	echo "| parade, Rscript per task: \`-- Rscript gamma.R {alpha} {beta} {n_sim}\` | $(fmt "$n_sub") | **$m_pt** | $(runs perTask) | $(msec perTask) |"
	echo "| reference: parade, compiled \`examples/gamma/gamma-sim\` per task | $(fmt "$n_full") | $(fmt "$m_c") | $(runs csim) | $(msec csim) |"
	echo "| reference: R alone, one \`Rscript gamma.R --grid\`, rows in order, no parade | $(fmt "$n_full") | $(fmt "$m_al") | $(runs alone) | |"
	echo
	echo "Mean task time is parade's \`seconds\` column (for the coprocess: line written to answer read)."
	echo "The Rscript-per-task variant runs only the first $(fmt "$n_sub") rows: each task starts a new R,"
	echo "so the full $(fmt "$n_grid")-row grid would take $full_est at this rate."
	echo "The C row draws from its own generator, so its numbers differ from R's; it is checked for status only."
	echo
	if [ "$speedup" != n/a ]; then
		echo "**Result**: with 2 workers, the gamma sweep in R runs at $(fmt "$m_co") tasks/s with an R coprocess"
		echo "per agent slot and at $m_pt tasks/s with one Rscript per task: the coprocess is ${speedup}x faster."
	else
		echo "**Result**: none; a variant failed in every run (R coprocess: $(fmt "$m_co") tasks/s, Rscript per task: $m_pt)."
	fi
	echo
	echo "Correctness: $verdict"
	if [ "$quick" = 1 ]; then
		echo
		echo "**--quick run: $(fmt "$n_full") and $(fmt "$n_sub") rows; a check of the script, not the full sweep.**"
	fi
	if [ -s "$notes" ]; then
		echo
		echo "Notes from this run:"
		echo
		sed 's/^/- /' "$notes"
	fi
	echo "<!-- END gamma -->"
} >"$report"

cat "$report"

if [ "$write" = 1 ]; then
	dest=$here/RESULTS.md
	. "$here/results_block.sh"
	results_block gamma "$report" "$dest" && say "wrote $dest"
fi
[ "$bad" = 0 ] || say "FAILED: rows failed or answers differ (see the report)"
exit "$bad"
