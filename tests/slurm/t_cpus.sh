#!/bin/bash
# t_cpus.sh - CPUs follow the Slurm allocation (lib/cpus.h), not the node:
#  - `srun -n1 -c2 parade run` without the plugin's option starts 2 local
#    agents (the node offers 16 CPUs), and `-c1` starts 1 (this machine's
#    online cores would be 2): the -v line says SLURM_CPUS_PER_TASK, and the
#    20 rows ran in the step on exactly that many agents; as root and as
#    the test user;
#  - the agent of `--launch slurm:1 --cpus 2` takes 2 slots, as its joined
#    line says (parade-agent --mode slurm without --slots; 1 slot before).
#    The agent of a whole node (`--launch slurm:N` without --cpus asks for
#    the node exclusively) is checked by tests/slurm/multi/t_launch.sh: on
#    this suite's one node such a job waits until the background tests'
#    jobs end, past this test's time limit.
. "$(dirname "$0")/lib.sh"

# local N WHO: srun -n1 -cN parade run -v, no plugin option
local_agents() {
	local c=$1 who=$2 out=$T/local-$1-$2.csv err=$T/local-$1-$2.err rc=0 started
	as_user "$who" timeout -k 5 60 srun -Q -J "psl-$TEST_NAME-c$c-$who" -n1 -c"$c" \
		"$PARADE" run -v --grid "$T/g20.csv" -- "$T/cmd.sh" '{x}' >"$out" 2>"$err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$err"
		fail "$who: srun -n1 -c$c parade run: exit status $rc, expected 0"
	}
	job_id "psl-$TEST_NAME-c$c-$who"
	started=$(sed -n 's/^parade: debug: started \([0-9]*\) local agent(s).*/\1/p' "$err")
	[ "$started" = "$c" ] || {
		show_file "$err" 40
		fail "$who: srun -n1 -c$c parade run started '$started' local agents, expected $c"
	}
	grep -q "^parade: debug: local agents, one per CPU this process may use: $c CPUs\{0,1\} (.*SLURM_CPUS_PER_TASK" "$err" || {
		show_file "$err" 40
		fail "$who: -c$c: no -v line saying SLURM_CPUS_PER_TASK limited the agents"
	}
	check_table "$out" 20 "$JOB" 0 "$(uid_of "$who")" "$c"
	assert_job_clean "$JOB" 5
	info "$who: srun -n1 -c$c: $c local agents ran the 20 rows (job $JOB)"
}

for who in root "$PSL_USER"; do
	local_agents 2 "$who"
	local_agents 1 "$who"
done

# agents of --launch slurm:N: their default slots
launch_slots() {
	local name=$1 want=$2 n=$3 err=$T/$1.err rc=0 lines
	shift 3
	as_user root timeout -k 5 60 "$PARADE" run --name "$name" "$@" --grid "$T/g20.csv" \
		-- "$T/cmd.sh" '{x}' >"$T/$name.csv" 2>"$err" || rc=$?
	[ "$rc" -eq 0 ] || {
		show_file "$err"
		fail "parade run $*: exit status $rc, expected 0"
	}
	lines=$(grep -cE "^parade: agent [^ ]+ joined from .*, $want slot\(s\), slurm, slurm job [0-9]+ step 0\)\$" "$err")
	[ "$lines" -eq "$n" ] && [ "$(grep -c '^parade: agent [^ ]* joined' "$err")" -eq "$n" ] || {
		show_file "$err"
		fail "parade run $*: $lines agents joined with $want slot(s), expected all $n"
	}
	check_table "$T/$name.csv" 20 "$(sed -n 's/.* slurm job \([0-9]*\) step 0)$/\1/p' "$err" | head -n 1)" 0 0 "$n"
	info "parade run $*: $n agent(s) of $want slot(s) each"
}
launch_slots psl-$TEST_NAME-l1 2 1 --launch slurm:1 --cpus 2
exit 0
