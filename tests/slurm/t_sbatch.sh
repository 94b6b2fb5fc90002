#!/bin/bash
# t_sbatch.sh - batch jobs with agents: `sbatch --parade-workers=4 job.sh`
# and a job.sh with "#SBATCH --parade-workers=4". The batch script's 4
# agents run a plain `parade run` of 20 tasks, then a second one on the same
# agents; an inner `srun` without the
# option (which inherits it through the job's environment) starts no agents
# of its own: its tasks see no PARADE_STEP_SESSION, no slurm-J.0 session
# appears, and the job still has exactly 4 agents during it. As root and as
# the test user (both kinds of job at once).
. "$(dirname "$0")/lib.sh"

# count NAME, as a job sees it: agents of this job (any step) and agents of
# step 0: parade-agent processes (by their command line, readable by the
# user for any process) whose parent is this job's slurmstepd (its command
# line "slurmstepd: [JOB.STEP]").
# Not 2>/dev/null but 2>&-: /dev/null is mode 0644 on some test machines,
# where the test user cannot open it for writing.
cat >"$T/count.sh" <<EOF
count() {
	local name=\$1 d c n=0 n0=0 stat
	local -a a
	for d in /proc/[0-9]*; do
		a=()
		mapfile -d "" a 2>&- <"\$d/cmdline" || continue
		[ "\${a[0]:-}" = "$AGENT" ] || continue
		stat=\$(cat "\$d/stat" 2>&-) || continue
		stat=\${stat##*) }
		set -- \$stat
		c=\$(tr '\\0' ' ' 2>&- <"/proc/\$2/cmdline") || continue
		case \$c in
		"slurmstepd: [\$SLURM_JOB_ID."*) n=\$((n + 1)) ;;
		*) continue ;;
		esac
		case \$c in
		"slurmstepd: [\$SLURM_JOB_ID.0]"*) n0=\$((n0 + 1)) ;;
		esac
	done
	echo "\$name=\$n \${name}_step0=\$n0"
}
# count_settled NAME WANT: count, but give agents that are forked and not
# yet exec'd (they still look like slurmstepd) up to 5 s to show up
count_settled() {
	local i line
	for i in \$(seq 50); do
		line=\$(count "\$1")
		case \$line in "\$1=\$2 "*) break ;; esac
		sleep 0.1
	done
	echo "\$line"
}
EOF

cat >"$T/inner.sh" <<EOF
#!/bin/bash
. "$T/count.sh"
sleep 0.3
echo "inner_step=\$SLURM_JOB_ID.\$SLURM_STEP_ID"
echo "inner_session=\${PARADE_STEP_SESSION:-}"
echo "inner_workers=\${PARADE_STEP_WORKERS:-}"
count inner
EOF

body() {
	cat <<EOF
. "$T/count.sh"
echo "batch_session=\${PARADE_STEP_SESSION:-}"
echo "batch_workers=\${PARADE_STEP_WORKERS:-}"
count_settled before 4
srun -n1 "$T/inner.sh"
echo "inner_rc=\$?"
count after_inner
echo "sessions=\$(ls "\$PARADE_HOME/sessions" | tr '\n' ' ')"
"$PARADE" run --grid "$T/g20.csv" -o "\$1/table-\$SLURM_JOB_ID.csv" -- "$T/cmd.sh" '{x}' \
	2>"\$1/run-\$SLURM_JOB_ID.err"
echo "run_rc=\$?"
"$PARADE" run --grid "$T/g20.csv" -o "\$1/table2-\$SLURM_JOB_ID.csv" -- "$T/cmd.sh" '{x}' \
	2>"\$1/run2-\$SLURM_JOB_ID.err"
echo "run2_rc=\$?"
EOF
}
{
	echo '#!/bin/bash'
	body
} >"$T/job-opt.sh"
{
	echo '#!/bin/bash'
	echo '#SBATCH --parade-workers=4'
	body
} >"$T/job-line.sh"
chmod 0755 "$T/count.sh" "$T/inner.sh" "$T/job-opt.sh" "$T/job-line.sh"

# submit WHO KIND: JOB gets the job id
submit() {
	local who=$1 kind=$2 d out rc=0
	d=$(dir_of "$who")
	if [ "$kind" = opt ]; then
		out=$(as_user "$who" env PSL_JOB_ONLY=1 sbatch --parsable -J "psl-$TEST_NAME-$who-$kind" -n1 -c4 \
			--parade-workers=4 -o "$d/job-%j.out" "$T/job-opt.sh" "$d" 2>&1) || rc=$?
	else
		out=$(as_user "$who" env PSL_JOB_ONLY=1 sbatch --parsable -J "psl-$TEST_NAME-$who-$kind" -n1 -c4 \
			-o "$d/job-%j.out" "$T/job-line.sh" "$d" 2>&1) || rc=$?
	fi
	[ "$rc" -eq 0 ] || fail "$who: sbatch ($kind): exit status $rc: $out"
	case $out in
	'' | *[!0-9]*) fail "$who: sbatch ($kind) printed '$out', expected a job id" ;;
	esac
	JOB=$out
}

# check WHO KIND JOB: the job's results
check() {
	local who=$1 kind=$2 job=$3 d o v want
	d=$(dir_of "$who")
	o=$d/job-$job.out
	wait_job_end "$job" 60
	[ "$JOB_STATE" = COMPLETED ] || {
		show_file "$o"
		show_file "$d/run-$job.err"
		fail "$who ($kind): job $job ended $JOB_STATE, expected COMPLETED"
	}
	for want in "batch_session=slurm-$job.batch" "batch_workers=4" \
		"before=4 before_step0=0" \
		"inner_step=$job.0" "inner_session=" "inner_workers=" "inner=4 inner_step0=0" \
		"inner_rc=0" "after_inner=4 after_inner_step0=0" "run_rc=0" "run2_rc=0"; do
		grep -qxF -- "$want" "$o" || {
			show_file "$o"
			show_file "$d/run-$job.err"
			fail "$who ($kind): job $job: no line '$want' in its output"
		}
	done
	v=$(sed -n 's/^sessions=//p' "$o")
	case " $v " in
	*" slurm-$job.0 "*)
		show_file "$o"
		fail "$who ($kind): the inner srun (step $job.0, no --parade-workers) got a session slurm-$job.0"
		;;
	esac
	case " $v " in
	*" slurm-$job.batch "*) ;;
	*)
		show_file "$o"
		fail "$who ($kind): no session slurm-$job.batch in \$PARADE_HOME/sessions ($v)"
		;;
	esac
	TABLE_AGENTS=
	check_table "$d/table-$job.csv" 20 "$job" batch "$(uid_of "$who")" 4
	check_joined "$d/run-$job.err" "$job" batch 4
	# a second run in the same script: the same 4 agents join it (they
	# redial after the first run's goodbye, up to 1 s apart, so the last
	# may come when every task is handed out: any of them may run rows)
	check_table "$d/table2-$job.csv" 20 "$job" batch "$(uid_of "$who")" -
	check_joined "$d/run2-$job.err" "$job" batch 4
	[ "$JOINED_AGENTS" = "$(sed -n 's/^parade: agent \([^ ]*\) joined .*/\1/p' "$d/run-$job.err" | sort)" ] || {
		show_file "$d/run-$job.err"
		show_file "$d/run2-$job.err"
		fail "$who ($kind): job $job: the second run had other agents than the first"
	}
	assert_job_clean "$job" 5
	info "$who ($kind): job $job: 20 ok rows on the batch script's 4 agents, twice; inner srun got none"
}

for who in root "$PSL_USER"; do
	submit "$who" opt
	j1=$JOB
	submit "$who" line
	j2=$JOB
	check "$who" opt "$j1"
	check "$who" line "$j2"
done
