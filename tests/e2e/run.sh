#!/bin/bash
# run.sh - runs every tests/e2e/t_*.sh in order and prints PASS, FAIL or
# SKIP (with the reason) for each. A test that exits 77 could not run here
# (lib.sh's skip: the ssh tests as non-root, for example): it is reported
# as SKIP, counted apart and named in the last line, never as a pass; with
# PARADE_TEST_STRICT=1 (the README's test command as root) a skip is a
# failure. Exit status 0 if no test failed, 1 otherwise.
#
# `make check` sets top_srcdir and top_builddir (absolute paths); by hand
# they default to this script's ../.. and the current directory:
#   cd BUILD && /path/to/src/tests/e2e/run.sh [t_name ...]
# E2E_TEST_TIMEOUT caps each test (default 120 s).

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir

limit=${E2E_TEST_TIMEOUT:-120}
logdir=$(mktemp -d "${TMPDIR:-/tmp}/pe2e-run.XXXXXX") || {
	echo "FAIL: run.sh: mktemp -d failed"
	exit 1
}
trap 'rm -rf -- "$logdir"' EXIT

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do
		t=${t##*/}
		t=${t%.sh}
		tests+=("$here/$t.sh")
	done
else
	tests=("$here"/t_*.sh)
fi

if [ ! -e "${tests[0]}" ]; then
	echo "FAIL: run.sh: no tests found in $here"
	exit 1
fi

echo "# e2e: top_srcdir=$top_srcdir top_builddir=$top_builddir"
npass=0
nfail=0
nskip=0
failed=()
skipped=()
suite_start=$SECONDS
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$logdir/$name.log
	start=$SECONDS
	if [ ! -f "$t" ]; then
		echo "FAIL $name: no such test"
		nfail=$((nfail + 1))
		failed+=("$name")
		continue
	fi
	rc=0
	timeout -k 10 "$limit" bash "$t" </dev/null >"$log" 2>&1 || rc=$?
	secs=$((SECONDS - start))
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (${secs}s)"
		npass=$((npass + 1))
		continue
	fi
	if [ "$rc" -eq 77 ] && [ "${PARADE_TEST_STRICT:-0}" != 1 ]; then
		reason=$(grep -m 1 '^SKIP: ' "$log" | sed 's/^SKIP: [^:]*: //')
		echo "SKIP $name: ${reason:-no reason given}"
		nskip=$((nskip + 1))
		skipped+=("$name")
		continue
	fi
	nfail=$((nfail + 1))
	failed+=("$name")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		reason="timed out after ${limit}s"
	elif [ "$rc" -eq 77 ]; then
		reason="skipped, and PARADE_TEST_STRICT=1 allows no skip: $(grep -m 1 '^SKIP: ' "$log" | sed 's/^SKIP: [^:]*: //')"
	else
		reason=$(grep -m 1 '^FAIL: ' "$log" | sed 's/^FAIL: [^:]*: //')
		[ -n "$reason" ] || reason="exit status $rc (no FAIL line)"
	fi
	echo "FAIL $name (${secs}s): $reason"
	echo "  --- log of $name:"
	tail -n 60 "$log" | sed 's/^/  /'
done
echo "# e2e: $npass passed, $nfail failed, $nskip skipped in $((SECONDS - suite_start))s${failed[*]:+ (failed: ${failed[*]})}${skipped[*]:+ (skipped, they did NOT run: ${skipped[*]})}"
[ "$nfail" -eq 0 ] || exit 1
exit 0
