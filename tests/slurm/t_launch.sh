#!/bin/bash
# t_launch.sh - parade submits its own agents from outside any job:
#  - `parade run --launch slurm:1 --cpus 2` from a controller whose
#    PARADE_HOME the node cannot see (a tmpfs in its own mount namespace)
#    reports "submitted Slurm job J: 1 node(s)", runs the 20 tasks on J's
#    agent (step 0, started by the controller's srun), and when it ends J is
#    over (cancelled) with nothing left;
#  - `--slots 4` is honoured: 4 tasks that wait for each other all run;
#  - `--dry-run` prints the allocation's script (#SBATCH --nodes=3,
#    --exclusive, output to /dev/null) and the srun line, and submits
#    nothing;
#  - `--launch slurm:2 --partition nosuch` fails with status 2 and sbatch's
#    own message, submits nothing and leaves no session;
#  - `parade launch slurm -n 2 --connect FILE` gives a running `parade run
#    --listen ... --launch none` 2 agents in a job that ends by itself when
#    the run is over.
# As root.
. "$(dirname "$0")/lib.sh"

ph=$(home_of root)

# --launch slurm:1 with a PARADE_HOME the job's node cannot see: the
# controller runs in a mount namespace of its own with a tmpfs over its
# home, as a login node's home that the compute nodes do not share. The
# agent learns the endpoint and secret from srun's stdin.
rc=0
as_user root unshare -m sh -c 'mount -t tmpfs -o mode=0700 tmpfs "$1" && shift && exec "$@"' sh \
	"$ph" timeout -k 5 60 "$PARADE" run --launch slurm:1 --cpus 2 --name L1 --grid "$T/g20.csv" \
	-- "$T/cmd.sh" '{x}' >"$T/l1.csv" 2>"$T/l1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/l1.err"
	fail "parade run --launch slurm:1 with a home the node cannot see: exit status $rc, expected 0"
}
JOB=$(sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s), one agent each.*/\1/p' "$T/l1.err")
[ -n "$JOB" ] || {
	show_file "$T/l1.err"
	fail "parade run --launch slurm:1 did not report 'submitted Slurm job J: 1 node(s), one agent each'"
}
[ "$(job_ids parade-L1)" = "$JOB" ] ||
	fail "the job named parade-L1 is '$(job_ids parade-L1)', parade reported $JOB"
[ ! -e "$ph/sessions" ] || fail "the controller's home was visible outside its namespace ($ph/sessions)"
check_table "$T/l1.csv" 20 "$JOB" 0 0 1
check_joined "$T/l1.err" "$JOB" 0 1
wait_job_end "$JOB" 15
case $JOB_STATE in
CANCELLED | COMPLETED | GONE) ;;
*) fail "job $JOB ended $JOB_STATE after parade run, expected CANCELLED or COMPLETED" ;;
esac
assert_job_clean "$JOB" 5
info "--launch slurm:1: job $JOB, 20 ok rows on its agent (home not on the node), job $JOB_STATE after the run"

# --slots 4 is honoured: 4 tasks wait for each other (each leaves its mark,
# then waits up to 30 s for 4 marks); with fewer slots they fail
cat >"$T/bar.sh" <<'EOF'
#!/bin/sh
: >"$1/m.$2"
i=0
while [ "$(ls "$1" | grep -c '^m\.')" -lt 4 ]; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || { echo "only $(ls "$1" | grep -c '^m\.') of 4 tasks ran at once" >&2; exit 1; }
	sleep 0.1
done
echo "x=$2 slots ok"
EOF
chmod 0755 "$T/bar.sh"
mkdir "$T/bar"
grid "$T/g4.csv" 4
rc=0
as_user root timeout -k 5 60 "$PARADE" run --launch slurm:1 --cpus 2 --slots 4 --name LS4 \
	--grid "$T/g4.csv" -- "$T/bar.sh" "$T/bar" '{x}' >"$T/ls4.csv" 2>"$T/ls4.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/ls4.csv"
	show_file "$T/ls4.err"
	fail "--launch slurm:1 --cpus 2 --slots 4: exit status $rc: the 4 tasks did not run at once"
}
grep -q '^parade: agent .* joined .*(host .*, 4 slot(s), slurm, slurm job' "$T/ls4.err" || {
	show_file "$T/ls4.err"
	fail "--slots 4: the agent did not join with 4 slots"
}
[ "$(grep -c ',ok,0,' "$T/ls4.csv")" -eq 4 ] || {
	show_file "$T/ls4.csv"
	fail "--slots 4: not 4 ok rows"
}
info "--slots 4: one agent ran the 4 tasks at once"

# --dry-run: the allocation's script, and how the agents start
rc=0
as_user root timeout -k 5 30 "$PARADE" run --launch slurm:3 --dry-run --name D1 --grid "$T/g20.csv" \
	-- "$T/cmd.sh" '{x}' >"$T/d1.out" 2>"$T/d1.err" || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/d1.err"
	fail "parade run --launch slurm:3 --dry-run: exit status $rc, expected 0"
}
for want in '#!/bin/sh' '#SBATCH --nodes=3' '#SBATCH --ntasks-per-node=1' '#SBATCH --exclusive' \
	'#SBATCH --output=/dev/null' '#SBATCH --job-name=parade-D1'; do
	grep -qxF -- "$want" "$T/d1.out" || {
		show_file "$T/d1.out"
		fail "--dry-run: no line '$want' in the script"
	}
done
grep -q "^# srun --jobid=JOBID --nodes=3 --ntasks=3 .* $AGENT --connect - --mode slurm\$" "$T/d1.out" || {
	show_file "$T/d1.out"
	fail "--dry-run: no line saying how srun starts $AGENT --connect - in the job"
}
! grep -q "sessions/D1\|secret=" "$T/d1.out" || {
	show_file "$T/d1.out"
	fail "--dry-run: the script names the connection file or the secret"
}
! grep -q 'submitted' "$T/d1.err" || fail "--dry-run: $(grep submitted "$T/d1.err")"
sleep 0.5
[ -z "$(job_ids parade-D1)" ] || fail "--dry-run submitted job $(job_ids parade-D1)"
info "--dry-run: printed the script, submitted nothing"

# a partition that does not exist
rc=0
as_user root timeout -k 5 30 "$PARADE" run --launch slurm:2 --partition nosuch --name P1 \
	--grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$T/p1.out" 2>"$T/p1.err" || rc=$?
[ "$rc" -eq 2 ] || {
	show_file "$T/p1.err"
	fail "--launch slurm:2 --partition nosuch: exit status $rc, expected 2"
}
grep -qi 'sbatch.*invalid partition' "$T/p1.err" || {
	show_file "$T/p1.err"
	fail "--partition nosuch: sbatch's message (invalid partition) is not shown"
}
[ -z "$(job_ids parade-P1)" ] || fail "--partition nosuch: job $(job_ids parade-P1) exists"
[ ! -e "$ph/sessions/P1" ] || fail "--partition nosuch: session P1 left behind"
info "--partition nosuch: status 2, $(grep -i -m1 'invalid partition' "$T/p1.err")"

# parade launch slurm for a running controller
as_user root timeout -k 5 60 "$PARADE" run --listen tls+tcp://0.0.0.0:0 --launch none --name X1 \
	--grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$T/x1.csv" 2>"$T/x1.err" &
ppid=$!
conn=$ph/sessions/X1/connection
wait_for 10 test -s "$conn" || {
	show_file "$T/x1.err"
	fail "no connection file $conn 10 s after parade run --listen started"
}
rc=0
out=$(as_user root timeout -k 5 30 "$PARADE" launch slurm -n 2 --connect "$conn" 2>"$T/launch.err") || rc=$?
[ "$rc" -eq 0 ] || {
	show_file "$T/launch.err"
	fail "parade launch slurm -n 2: exit status $rc"
}
case $out in
'' | *[!0-9]*) fail "parade launch slurm printed '$out', expected a job id" ;;
esac
JOB=$out
wait_pid "$ppid" 40 || {
	show_file "$T/x1.err"
	fail "parade run did not finish within 40 s with the agents of job $JOB"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/x1.err"
	fail "parade run with the agents of parade launch: exit status $RC"
}
TABLE_AGENTS=
check_table "$T/x1.csv" 20 "$JOB" 0 0 2
check_joined "$T/x1.err" "$JOB" 0 2
# the agents leave when the controller says goodbye: the job ends by itself
wait_job_end "$JOB" 15
[ "$JOB_STATE" = COMPLETED ] || fail "job $JOB of parade launch ended $JOB_STATE, expected COMPLETED"
assert_job_clean "$JOB" 5
info "parade launch slurm: job $JOB's 2 agents ran the 20 tasks, then the job completed"
