#!/bin/sh
# Regenerate grid.csv for the gamma-sim parameter sweep.
#   alpha = 0.1, 0.2, ..., 1.0   (outer loop)
#   beta  = 0.5, 1.0, ..., 5.0   (middle loop)
#   n_sim = 1 .. 100             (inner loop)
# Usage: make-grid.sh [OUTPUT]   (default: grid.csv next to this script;
#                                 "-" writes to stdout)
set -eu

dir=$(dirname -- "$0")
out=${1:-"$dir/grid.csv"}

gen() {
    LC_ALL=C awk 'BEGIN {
        print "alpha,beta,n_sim"
        for (a = 1; a <= 10; a++)
            for (b = 1; b <= 10; b++)
                for (n = 1; n <= 100; n++)
                    printf "%.1f,%.1f,%d\n", a / 10, b / 2, n
    }'
}

if [ "$out" = "-" ]; then
    gen
else
    tmp="$out.tmp.$$"
    trap 'rm -f "$tmp"' EXIT
    gen > "$tmp"
    mv -f "$tmp" "$out"
    trap - EXIT
fi
