#!/bin/sh
# run-gamma.sh - the main job: installs what is missing, builds parade, and
# runs the 10,000-task gamma sweep on local agents (one per CPU it may use).
# Extra arguments go to `parade run` (e.g. --limit 100, -o results.csv).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" build
"$top/scripts/build.sh" "$top/build"
cd "$top"
exec build/controller/parade run --grid examples/gamma/grid.csv \
	--schema mean:dbl,var:dbl,ks_p:dbl "$@" \
	-- build/examples/gamma/gamma-sim '{alpha}' '{beta}' '{n_sim}'
