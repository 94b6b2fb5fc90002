#!/bin/sh
# test.sh - the whole test suite: installs what is missing, builds parade,
# runs the unit and end-to-end tests, then builds again with ASan+UBSan and
# runs them once more. Exits non-zero if anything failed or did not run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" test
status=0
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
}
run_suite plain "$top/build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
run_suite sanitizer "$top/build-san" --enable-sanitizers
if [ $status -eq 0 ]; then
	echo "== parade: all tests passed (plain and sanitizer builds)"
fi
exit $status
