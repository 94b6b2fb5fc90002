#!/usr/bin/python3
"""joins.py - run `parade run -v ...` and time its agents' joins.

usage: joins.py N INPUT OUTPUT -- COMMAND ARG...

Starts COMMAND with INPUT on stdin and its stdout to OUTPUT, reads its
stderr line by line and notes when the Nth "agent ... joined" line arrives,
counted from just before the start. Prints one line:

  joins want=N joined=K all_joined_s=T wall_s=W rc=R

all_joined_s is "n/a" when fewer than N agents joined before the run ended.
The last stderr lines that are not join/leave lines go to our stderr.
"""
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.stderr.write(__doc__)
        return 2
    want = int(sys.argv[1])
    cmd = sys.argv[5:]
    t0 = time.monotonic()
    with open(sys.argv[2], "rb") as inp, open(sys.argv[3], "wb") as out:
        p = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=subprocess.PIPE)
        joined = 0
        t_all = None
        other = []
        for raw in p.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if " joined from " in line:
                joined += 1
                if joined == want:
                    t_all = time.monotonic() - t0
            elif "debug:" not in line:
                other.append(line)
                del other[:-5]
        rc = p.wait()
    wall = time.monotonic() - t0
    for line in other:
        sys.stderr.write("  " + line + "\n")
    print("joins want=%d joined=%d all_joined_s=%s wall_s=%.3f rc=%d"
          % (want, joined, "n/a" if t_all is None else "%.3f" % t_all, wall, rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
