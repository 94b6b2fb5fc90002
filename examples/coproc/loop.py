#!/usr/bin/env python3
# loop.py - a parade coprocess in Python: one line in, one line out.
# Each task line is echoed back with a prefix, and stdout flushed so the
# agent sees the answer now (a pipe is block-buffered otherwise).
#   parade run --handler coproc:'python3 examples/coproc/loop.py' -- {}
import sys

for line in sys.stdin:
    line = line.rstrip("\n")
    sys.stdout.write("py: " + line + "\n")
    sys.stdout.flush()
