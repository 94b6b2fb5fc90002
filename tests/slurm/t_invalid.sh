#!/bin/bash
# t_invalid.sh - bad option values are refused by srun, sbatch and salloc
# before anything is submitted: exit status != 0, exactly one error line
# from the plugin, "parade: " followed by the option (with the value) and
# the problem, and no job of that name in squeue (finished ones included).
# srun --help, sbatch --help and salloc --help list both options. As root
# and as the test user (who also gets a root-only controller file).
. "$(dirname "$0")/lib.sh"

echo secret >"$T/root-only"
chmod 0600 "$T/root-only"

n=0
# refused WHO WHAT PATTERN [env VAR=VALUE] CMD ARGS...: CMD (srun, sbatch
# or salloc) as WHO must fail with one plugin line "CMD: error: parade:
# WHAT..." that also matches PATTERN (grep -E), and submit no job.
refused() {
	local who=$1 what=$2 pat=$3 name err rc=0 lines cmd
	local -a envv=(env)
	shift 3
	if [ "$1" = env ]; then
		envv+=("$2")
		shift 2
	fi
	cmd=$1
	shift
	n=$((n + 1))
	name=psl-$TEST_NAME-$n
	err=$T/err-$n.txt
	as_user "$who" timeout -k 5 30 "${envv[@]}" "$cmd" -J "$name" "$@" >"$T/out-$n.txt" 2>"$err" || rc=$?
	set -- "${envv[@]:1}" "$cmd" "$@"
	[ "$rc" -ne 0 ] || {
		show_file "$err"
		fail "$who: $* exited 0, expected a failure"
	}
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$who: $* did not end within 30 s"
	fi
	# Slurm's own prefix ("srun: error: "), then the plugin's line
	lines=$(grep -E "^($cmd: error: )?parade: " "$err")
	[ "$(echo "$lines" | grep -c .)" -eq 1 ] || {
		show_file "$err"
		fail "$who: $*: $(echo "$lines" | grep -c .) lines starting with 'parade: ', expected 1"
	}
	case ${lines#"$cmd: error: "} in
	"parade: $what"*) ;;
	*)
		show_file "$err"
		fail "$who: $*: the error line does not name '$what': $lines"
		;;
	esac
	echo "$lines" | grep -qE -- "$pat" || {
		show_file "$err"
		fail "$who: $*: the error line does not say '$pat': $lines"
	}
	# a submitted job would be listed (slurmctld keeps ended ones 30 s)
	[ -z "$(job_ids "$name")" ] ||
		fail "$who: $*: a job was submitted anyway: $(job_ids "$name")"
}

range="expected a whole number from 1 to $PSL_MAX_WORKERS"
for who in root "$PSL_USER"; do
	for v in abc 0 -1 $((PSL_MAX_WORKERS + 1)) 1x ""; do
		refused "$who" "--parade-workers=$v:" "$range" srun -Q --parade-workers="$v" true
	done
	refused "$who" "--parade-workers=$((PSL_MAX_WORKERS + 1)):" "max_workers=$PSL_MAX_WORKERS" \
		srun -Q --parade-workers=$((PSL_MAX_WORKERS + 1)) true
	refused "$who" "--parade-controller=/nonexistent" "cannot read it: No such file or directory" \
		srun -Q --parade-workers=2 --parade-controller=/nonexistent true
	refused "$who" "--parade-controller=$T" "not a regular file" \
		srun -Q --parade-workers=2 --parade-controller="$T" true
	refused "$who" "--parade-controller=$T/g3.csv" "give --parade-workers" \
		srun -Q --parade-controller="$T/g3.csv" true
	refused "$who" "PARADE_CONNECT=/nonexistent" "cannot read it: No such file or directory" \
		env PARADE_CONNECT=/nonexistent srun -Q --parade-workers=2 true
	refused "$who" "--parade-workers=abc:" "$range" sbatch --parade-workers=abc --wrap true
	refused "$who" "--parade-workers=0:" "$range" sbatch --parade-workers=0 --wrap true
	refused "$who" "--parade-controller=/nonexistent" "cannot read it: No such file or directory" \
		sbatch --parade-workers=2 --parade-controller=/nonexistent --wrap true
	refused "$who" "--parade-workers=abc:" "$range" salloc -Q --parade-workers=abc true
done
refused "$PSL_USER" "--parade-controller=$T/root-only" "cannot read it: Permission denied" \
	srun -Q --parade-workers=2 --parade-controller="$T/root-only" true
refused "$PSL_USER" "PARADE_CONNECT=$T/root-only" "cannot read it: Permission denied" \
	env PARADE_CONNECT="$T/root-only" srun -Q --parade-workers=2 true
refused "$PSL_USER" "--parade-controller=$T/root-only" "cannot read it: Permission denied" \
	sbatch --parade-workers=2 --parade-controller="$T/root-only" --wrap true
info "$n bad invocations refused, none submitted"

for cmd in srun sbatch salloc; do
	help=$(as_user "$PSL_USER" "$cmd" --help 2>&1)
	for opt in "--parade-workers=N" "--parade-controller=FILE"; do
		echo "$help" | grep -qE -- "^ +$opt( |\$)" ||
			fail "$cmd --help does not list $opt"
	done
done
info "srun, sbatch and salloc --help list both options"
