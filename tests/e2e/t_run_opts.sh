#!/bin/bash
# t_run_opts.sh - the option table of run, submit and serve, end to end:
#   (a) more than 256 options on one command line run (no fixed limit);
#   (b) of --dry-run and --no-journal given to a command that takes
#       neither, --dry-run's message wins in either order (as before the
#       table);
#   (c) resume of a session whose --hostfile is gone since: exit 2 and
#       "its option --hostfile FILE cannot be applied: WHY", not a damaged
#       record; collect still reads it.
. "$(dirname "$0")/lib.sh"

# ---- (a) ----
args=(--workers 1)
for _ in $(seq 257); do
	args+=(--chunk 1)
done
echo x >"$T/one"
prun "$T/a.csv" "$T/a.err" "${args[@]}" -- echo {} <"$T/one"
expect_rc 0 "(a) parade run with 257 options" "$T/a.err"
[ "$(csv_flat "$T/a.csv" | wc -l)" = 2 ] || { show_file "$T/a.csv"; fail "(a) expected one row"; }

# ---- (b) ----
dry="--dry-run goes with 'parade run' (it prints the script and submits nothing)"
n=0
for cmd in submit serve; do
	for order in "--no-journal --launch slurm:1 --dry-run" "--dry-run --launch slurm:1 --no-journal"; do
		n=$((n + 1))
		RC=0
		# shellcheck disable=SC2086 # the options are words
		timeout 30 "$PARADE" "$cmd" $order -- true </dev/null >"$T/b.$n.out" 2>"$T/b.$n.err" || RC=$?
		expect_rc 2 "(b) parade $cmd $order" "$T/b.$n.err"
		[ "$(cat "$T/b.$n.err")" = "parade $cmd: $dry" ] || {
			show_file "$T/b.$n.err"
			fail "(b) parade $cmd $order: expected only '$dry'"
		}
	done
done

# ---- (c) ----
# ssh that fails at once: the session waits for agents that never come
echo h1 >"$T/hosts"
seq 3 >"$T/in"
RC=0
PARADE_SSH=/bin/false timeout 30 "$PARADE" submit --name s1 --hostfile "$T/hosts" -- true \
	<"$T/in" >"$T/c.name" 2>"$T/c.err" || RC=$?
expect_rc 0 "(c) parade submit --hostfile" "$T/c.err"
RC=0
timeout 30 "$PARADE" stop s1 >"$T/c.stop" 2>&1 || RC=$?
expect_rc 0 "(c) parade stop" "$T/c.stop"
rm -- "$T/hosts"
RC=0
timeout 30 "$PARADE" resume s1 >"$T/c.out" 2>"$T/c.rerr" || RC=$?
expect_rc 2 "(c) resume without the host file" "$T/c.rerr"
want="parade: error: session s1: its option --hostfile $T/hosts cannot be applied: cannot read host file $T/hosts: No such file or directory"
[ "$(cat "$T/c.rerr")" = "$want" ] || {
	show_file "$T/c.rerr"
	fail "(c) expected only: $want"
}
RC=0
timeout 30 "$PARADE" collect s1 >"$T/c.csv" 2>"$T/c.cerr" || RC=$?
expect_rc 0 "(c) collect without the host file" "$T/c.cerr"
head -1 "$T/c.csv" | grep -q '^input,status,' || { show_file "$T/c.csv"; fail "(c) collect printed no table"; }

# (d) a coprocess command of 100,000 bytes (it travels in WELCOME) works
# as it did when it travelled on the agents' command lines
pad=$(head -c 100000 /dev/zero | tr '\0' ' ')
RC=0
echo 7 | timeout 60 "$PARADE" run --workers 1 --handler "coproc:${pad}cat" -- x {} >"$T/d.csv" 2>"$T/d.err" || RC=$?
expect_rc 0 "(d) a 100,000-byte coprocess command" "$T/d.err"
grep -q '^7,ok,0,.*,x 7,$' "$T/d.csv" || { show_file "$T/d.csv"; fail "(d) the row is not 'x 7'"; }
exit 0
