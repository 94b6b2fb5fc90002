#!/bin/sh
# test.sh - the whole test suite: installs what is missing, builds parade,
# runs the unit and end-to-end tests, then builds again with ASan+UBSan and
# runs them once more, then fuzzes every decoder of outside bytes briefly
# (scripts/fuzz.sh, clang's libFuzzer with ASan+UBSan, $PD_FUZZ_SECONDS
# each, default 12). Exits non-zero if anything failed or did not run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" test
# Run as root (as CI does), every part can run here: a test that skips
# (exit 77: no root, no namespaces, a missing tool) is a failure, so a
# green run never hides a part that did not run. As another user, the
# parts that need root are reported as SKIP.
if [ "$(id -u)" -eq 0 ]; then
	PARADE_TEST_STRICT=1
	export PARADE_TEST_STRICT
fi
status=0
passed=0
failed=0
# tally FILE: adds FILE's PASS and FAIL/ERROR lines to the summary
tally() {
	passed=$((passed + $(grep -c '^PASS: ' "$1" || true)))
	failed=$((failed + $(grep -cE '^(FAIL|ERROR): ' "$1" || true)))
}
run_suite() {
	name=$1
	dir=$2
	shift 2
	echo "== parade: $name build in $dir"
	"$top/scripts/build.sh" "$dir" "$@"
	echo "== parade: $name tests"
	if ! make -C "$dir" -s check VERBOSE=1 >"$dir/check.out" 2>&1; then
		cat "$dir/check.out"
		echo "== parade: $name tests FAILED"
		status=1
	else
		grep -E '^(PASS|FAIL|XFAIL|SKIP|ERROR|# )' "$dir/check.out" || true
	fi
	tally "$dir/check.out"
}
run_suite plain "$top/build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
run_suite sanitizer "$top/build-san" --enable-sanitizers

# Fuzzing: one PASS or FAIL line per harness; a missing clang or fuzzer
# runtime (deps.sh installs both) is a failure here, never a skip.
echo "== parade: fuzzing (${PD_FUZZ_SECONDS:-12} s per harness, two at a time)"
mkdir -p "$top/build-fuzz"
fout=$top/build-fuzz/fuzz.out
if FUZZ_DIR="$top/build-fuzz" "$top/scripts/fuzz.sh" "${PD_FUZZ_SECONDS:-12}" >"$fout" 2>&1; then
	grep -E '^(PASS|FAIL|fuzz:)' "$fout"
else
	grep -vE '^(PASS|fuzz: [0-9])' "$fout" | tail -n 40
	grep -E '^(PASS|FAIL|fuzz: [0-9])' "$fout" || true
	echo "== parade: fuzzing FAILED"
	status=1
	# a failure before any harness ran (no clang, a build error) counts too
	grep -q '^FAIL: ' "$fout" || failed=$((failed + 1))
fi
tally "$fout"

echo "== parade: $passed passed, $failed failed (unit and end-to-end tests in plain and sanitizer builds, fuzz harnesses)"
if [ $status -eq 0 ]; then
	echo "== parade: all tests passed (plain and sanitizer builds, fuzzing)"
fi
exit $status
