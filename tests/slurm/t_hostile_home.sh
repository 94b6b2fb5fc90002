#!/bin/bash
# t_hostile_home.sh - a PARADE_HOME someone else could write into starts
# no agents: the step's agents would read sessions/NAME/connection, and
# whoever can plant that file could send them (and the tasks they run as
# the job's user) to a controller of theirs. The test user's sessions/
# folder writable by all, and a home owned by root: the step still runs,
# its tasks get the plugin's message in PARADE_SPANK_ERROR (naming the
# folder and its mode or owner), the node reports it once on stderr, no
# agent log is written and nothing is left.
. "$(dirname "$0")/lib.sh"

# hostile WHAT HOME NEEDLE: a step of the test user with PARADE_HOME=HOME
hostile() {
	local what=$1 home=$2 needle=$3 name=psl-$TEST_NAME-$RANDOM rc=0 n
	as_user "$PSL_USER" env PARADE_HOME="$home" timeout -k 5 60 srun -Q -J "$name" -n1 \
		--parade-workers=2 sh -c 'printf "%s\n" "${PARADE_SPANK_ERROR:-none}"' \
		>"$T/out.txt" 2>"$T/err.txt" || rc=$?
	[ "$rc" -eq 0 ] || { show_file "$T/err.txt"; fail "$what: srun: exit status $rc, expected 0"; }
	job_id "$name"
	grep -qF -- "$needle" "$T/out.txt" || {
		show_file "$T/out.txt"
		fail "$what: PARADE_SPANK_ERROR does not say '$needle'"
	}
	grep -qF "2 of 2 agents did not start" "$T/out.txt" || {
		show_file "$T/out.txt"
		fail "$what: PARADE_SPANK_ERROR does not say that no agent started"
	}
	n=$(grep -E '^slurmstepd[^:]*: error: parade: ' "$T/err.txt" | grep -cF -- "$needle")
	[ "$n" -eq 1 ] || {
		show_file "$T/err.txt"
		fail "$what: $n 'slurmstepd...: error: parade: ...' lines on stderr, expected 1"
	}
	[ -z "$(find "$home" -name 'agent-*.log' 2>/dev/null)" ] || fail "$what: agent logs were written in $home"
	assert_job_clean "$JOB" 5
	info "$what: job $JOB ran, no agent started: $needle"
}

ph=$(home_of "$PSL_USER")
mkdir "$ph/sessions"
chown "$PSL_USER" "$ph/sessions"
chmod 0777 "$ph/sessions"
hostile "sessions/ writable by all" "$ph" \
	"$ph/sessions is writable by group or others (mode 0777), so they could replace what parade keeps there: run chmod 700 $ph/sessions"

# a home of root's, readable by all (the test user can enter it)
mkdir -m 0755 "$T/shared"
hostile "a home owned by root" "$T/shared" \
	"$T/shared belongs to uid 0 (root), not to this user"
[ ! -e "$T/shared/sessions" ] || fail "a sessions folder was made in root's $T/shared"
