#!/bin/bash
# t_launch_status.sh - `parade status` of a `--launch slurm:1` session
# shows each job's real state and reason, and no ETA while no agent is
# connected. The jobs are submitted held (--sbatch-arg=--hold), so the test
# says when each runs:
#  - job J held: status shows "Slurm job J: PENDING (JobHeldUser)" and the
#    run waits for it (a held job is not hopeless);
#  - J released, runs tasks, then cancelled: status shows J CANCELLED with
#    what ended it, and the replacement K "PENDING (JobHeldUser)", 0 agents
#    and no ETA although tasks were done at some rate;
#  - K released: the run completes, every row ok.
# Before, status printed each job's squeue state or GONE, and an ETA with
# no agent to work; nothing replaced J. As root.
. "$(dirname "$0")/lib.sh"

cat >"$T/mark.sh" <<'EOF'
#!/bin/sh
: >"$1/m.$2.$$"
sleep "$3"
echo "x=$2 job=${SLURM_JOB_ID:-none} step=${SLURM_STEP_ID:-none} uid=$(id -u)"
EOF
chmod 0755 "$T/mark.sh"
mkdir "$T/marks"
marks() { [ "$(find "$T/marks" -name 'm.*' | wc -l)" -ge "$1" ]; }
submitted() { sed -n 's/^parade: submitted Slurm job \([0-9]*\): 1 node(s).*/\1/p' "$T/h1.err" | sed -n "$1p"; }
has_job() { [ -n "$(submitted "$1")" ]; }
status() { as_user root "$PARADE" status LH1 >"$T/st.out" 2>&1; }
# status_has LINE...: parade status LH1 prints each LINE (a grep -E pattern)
status_has() {
	local p
	status || return 1
	for p in "$@"; do
		grep -qE -- "$p" "$T/st.out" || return 1
	done
}

as_user root timeout -k 5 100 "$PARADE" run --launch slurm:1 --cpus 1 --slots 2 \
	--sbatch-arg=--hold --name LH1 --grid "$T/g20.csv" -- "$T/mark.sh" "$T/marks" '{x}' 0.5 \
	>"$T/h1.csv" 2>"$T/h1.err" &
ppid=$!
wait_for 20 has_job 1 || {
	show_file "$T/h1.err"
	fail "no 'submitted Slurm job' line within 20 s"
}
J=$(submitted 1)
wait_for 20 status_has "^          Slurm job $J: PENDING \(JobHeldUser\)\$" || {
	show_file "$T/st.out"
	fail "status does not show held job $J as 'PENDING (JobHeldUser)'"
}
info "held: $(grep "Slurm job $J" "$T/st.out")"
scontrol release "$J"
wait_for 30 marks 8 || {
	show_file "$T/h1.err"
	fail "job $J released, but no 8 tasks ran within 30 s"
}
scancel "$J"
wait_for 20 has_job 2 || {
	show_file "$T/h1.err" 40
	fail "job $J cancelled: no replacement submitted within 20 s"
}
K=$(submitted 2)
wait_for 20 status_has "^          Slurm job $J: CANCELLED \(ended CANCELLED" \
	"^          Slurm job $K: PENDING \(JobHeldUser\)\$" "^agents:   0 connected" || {
	show_file "$T/st.out"
	fail "status does not show job $J CANCELLED and job $K PENDING (JobHeldUser) with no agent"
}
grep -qE '^rate: +[0-9]*[1-9][0-9]*\.[0-9] tasks/s|^rate: +[0-9]*\.[0-9]*[1-9]' "$T/st.out" || {
	show_file "$T/st.out"
	fail "status shows no rate above 0 after 8 tasks: the ETA check would prove nothing"
}
! grep -q "ETA" "$T/st.out" || {
	show_file "$T/st.out"
	fail "status shows an ETA while no agent is connected"
}
info "cancelled: $(grep "Slurm job $J" "$T/st.out" | cut -c1-100)"
scontrol release "$K"
wait_pid "$ppid" 60 || {
	show_file "$T/h1.err" 40
	kill "$ppid" 2>/dev/null
	fail "parade run did not finish within 60 s of job $K's release"
}
[ "$RC" -eq 0 ] || {
	show_file "$T/h1.err" 40
	fail "parade run: exit status $RC, expected 0"
}
[ "$(grep -c ',ok,0,' "$T/h1.csv")" -eq 20 ] || {
	show_file "$T/h1.csv"
	fail "not 20 ok rows"
}
wait_job_end "$K" 15
assert_job_clean "$J" 5
assert_job_clean "$K" 5
info "job $K finished the run: 20 rows ok"
