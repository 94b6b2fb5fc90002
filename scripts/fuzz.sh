#!/bin/sh
# fuzz.sh [SECONDS] [NAME...] - builds the libFuzzer harnesses of
# tests/fuzz (clang, -fsanitize=fuzzer,address,undefined) and runs each for
# SECONDS (default 60), two at a time. NAMEs pick harnesses (csv, json, ...;
# default: all of them). Exits non-zero, naming the harness and the input
# file, on any finding (crash, sanitizer report, leak, failed check,
# timeout, out of memory), or when clang or its fuzzer runtime is missing
# (scripts/deps.sh test installs them).
#
# Everything it writes stays in its build folder, $FUZZ_DIR (default
# build-fuzz/ at the top of the tree): objects and harnesses, the corpus
# each run grows (corpus/NAME/; the seeds in tests/fuzz/corpus/NAME, less
# the known findings named crash-*, are copied to seeds/NAME/), logs/NAME.log,
# and crash inputs in artifacts/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
# (0 would be libFuzzer's "no time limit": a run that never ends)
case $secs in '' | *[!0-9]* | 0 | 0*) echo "usage: scripts/fuzz.sh [SECONDS] [NAME...] (SECONDS a whole number from 1)" >&2; exit 2 ;; esac
out=${FUZZ_DIR:-$top/build-fuzz}
CC=${FUZZ_CC:-clang}
all="codec_agent codec_ctl csv json template schema journal_block connfile"
names=${*:-$all}

# libparade's sources, as Makefile.am lists them; harnesses link the
# archive, so each takes only the objects it needs
libsrc=$(sed -n '/^lib_libparade_a_SOURCES/,/[^\\]$/p' "$top/Makefile.am" | grep -o 'lib/[a-z_0-9]*\.c')
# the longest input worth trying, per harness
max_len() {
	case $1 in
	journal_block) echo 16384 ;;
	codec_*) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

mkdir -p "$out/obj" "$out/artifacts" "$out/logs" "$out/tmp"
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: FAIL: no $CC (install clang and libclang-rt-14-dev: scripts/deps.sh test)" >&2
	exit 1
fi
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
	>"$out/tmp/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$out/tmp/probe.c" -o "$out/tmp/probe" \
	>"$out/logs/probe.log" 2>&1; then
	cat "$out/logs/probe.log" >&2
	echo "fuzz: FAIL: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev: scripts/deps.sh test)" >&2
	exit 1
fi

flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -I$top/lib -I$top/tests/fuzz -fno-omit-frame-pointer
-fno-sanitize-recover=undefined -Wall -Wextra"
pkgs="gnutls sqlite3 nanomsg"
# shellcheck disable=SC2086
pkgcflags=$(pkg-config --cflags $pkgs)
# shellcheck disable=SC2086
pkglibs=$(pkg-config --libs $pkgs)
export CC top out flags pkgcflags
# an object is rebuilt when its source or any lib header is newer
# shellcheck disable=SC2016 # the sh -c script expands its own variables
for s in $libsrc; do
	o=$out/obj/$(basename "$s" .c).o
	if [ ! -f "$o" ] || [ -n "$(find "$top/$s" -newer "$o")" ] ||
		[ -n "$(find "$top/lib" -name '*.h' -newer "$o")" ]; then
		echo "$s"
	fi
done | xargs -r -n 1 -P 2 sh -c '
	# shellcheck disable=SC2086
	"$CC" $flags -w $pkgcflags -fsanitize=fuzzer-no-link,address,undefined -c "$top/$1" \
		-o "$out/obj/$(basename "$1" .c).o"' sh
rm -f "$out/libparade-fuzz.a"
# shellcheck disable=SC2046
ar cr "$out/libparade-fuzz.a" $(for s in $libsrc; do echo "$out/obj/$(basename "$s" .c).o"; done)
for n in $names; do
	src=$top/tests/fuzz/fuzz_$n.c
	[ -f "$src" ] || { echo "fuzz: no harness $src" >&2; exit 2; }
	# shellcheck disable=SC2086
	"$CC" $flags -fsanitize=fuzzer,address,undefined "$src" "$out/libparade-fuzz.a" $pkglibs -lm \
		-o "$out/fuzz_$n"
done
echo "fuzz: built $(echo "$names" | wc -w) harness(es) in $out"

ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1
UBSAN_OPTIONS=${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1
TMPDIR=$out/tmp
export ASAN_OPTIONS UBSAN_OPTIONS TMPDIR

# run_one NAME: fuzzes one harness for $secs seconds; its log is logs/NAME.log
run_one() {
	n=$1
	mkdir -p "$out/corpus/$n"
	rm -f "$out/artifacts/$n"-*
	# the seeds, without crash-* (known findings kept for their owners)
	rm -rf "$out/seeds/$n"
	mkdir -p "$out/seeds/$n"
	for f in "$top/tests/fuzz/corpus/$n"/*; do
		case ${f##*/} in crash-*) ;; *) [ -f "$f" ] && cp "$f" "$out/seeds/$n/" ;; esac
	done
	(cd "$out" && exec "./fuzz_$n" -max_total_time="$secs" -rss_limit_mb=1024 \
		-max_len="$(max_len "$n")" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$n-" "corpus/$n" "seeds/$n") \
		>"$out/logs/$n.log" 2>&1
}

# report NAME STATUS: one line per harness; 0 when it passed
report() {
	n=$1
	log=$out/logs/$n.log
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | tail -n 1)
	cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(find "$out/corpus/$n" -type f | wc -l)
	if [ "$2" -eq 0 ]; then
		echo "PASS: fuzz_$n: ${runs:-?} runs in ${secs}s, cov ${cov:-?}, ft ${ft:-?}, corpus $corp"
		return 0
	fi
	art=$(find "$out/artifacts" -name "$n-*" -type f | head -n 1)
	echo "FAIL: fuzz_$n: finding after ${runs:-?} runs; input: ${art:-none saved}; log: $log"
	grep -E '^(==[0-9]+==ERROR|SUMMARY|.*fuzz check failed|.*runtime error)' "$log" | head -n 5 | sed 's/^/    /'
	return 1
}

pass=0
fail=0
# shellcheck disable=SC2086 # a list of words
set -- $names
while [ $# -gt 0 ]; do
	a=$1
	shift
	run_one "$a" &
	pa=$!
	b=
	if [ $# -gt 0 ]; then
		b=$1
		shift
		run_one "$b" &
		pb=$!
	fi
	sa=0
	wait "$pa" || sa=$?
	if report "$a" "$sa"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	if [ -n "$b" ]; then
		sb=0
		wait "$pb" || sb=$?
		if report "$b" "$sb"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	fi
done
echo "fuzz: $pass passed, $fail failed (${secs}s each)"
[ "$fail" -eq 0 ]
