#!/bin/sh
# loop.sh - a parade coprocess in POSIX sh: one line in, one line out.
# Each task line is echoed back with a prefix; `echo` in sh writes at once
# (no buffering), so nothing needs flushing.
#   parade run --handler coproc:'examples/coproc/loop.sh' -- {alpha} {beta}
while IFS= read -r line; do
	printf 'sh: %s\n' "$line"
done
