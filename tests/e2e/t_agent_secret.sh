#!/bin/bash
# t_agent_secret.sh - a task looks for its session's secret everywhere a
# same-uid task can (tests/hostile/secret_search): its own environment, its
# agent's /proc/PID/environ, /proc/PID/cmdline and every file it names, the
# agent's open fds, /proc/PID/mem, ptrace. It finds nothing and opens none
# of those, for (a) a local agent started by parade run and (b) an agent
# that got the connection text on stdin, as ssh starts them (a TLS session).
# A canary PARADE_SECRET_CANARY in the agent's environment must not show
# either. What stays open, by design: the session's connection file itself
# ($PARADE_HOME/sessions/NAME/connection) while it exists; the probe reads
# it to know what to look for. Run as root, everything runs as nobody
# (root may read any process: the protection is against the same uid).
. "$(dirname "$0")/lib.sh"

SEARCH=$top_builddir/tests/hostile/secret_search
[ -x "$SEARCH" ] || fail "$SEARCH is missing: it is a check program (make check, or make tests/hostile/secret_search)"
canary=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

# W: the user's files (PARADE_HOME too); as root, a folder nobody owns
W=$T/w
mkdir "$W"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || fail "run as root, this test needs setpriv (util-linux) to become nobody"
	chmod 711 "$T"
	chown 65534:65534 "$W"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	info "running parade as uid 65534 (root could read any process anyway)"
fi
export PARADE_HOME=$W

# probe.sh NAME OUT: run as a task; $PPID is its agent
cat >"$W/probe.sh" <<EOF
#!/bin/sh
sec=\$(sed -n 's/^secret=//p' "\$PARADE_HOME/sessions/\$1/connection")
[ \${#sec} -eq 64 ] || { echo "no secret in \$PARADE_HOME/sessions/\$1/connection"; exit 1; }
exec "$SEARCH" "\$PPID" "\$sec" "$canary" >"\$2" 2>&1
EOF
chmod 755 "$W/probe.sh"

check_probe() { # FILE WHAT
	[ -s "$1" ] || fail "$2: the probe wrote nothing to $1"
	sed "s/^/#   /" "$1" >&2
	if grep -q '^FOUND\|^OPEN' "$1"; then
		fail "$2: a task found the secret or opened the agent (lines FOUND/OPEN above)"
	fi
	grep -q '^closed /proc/[0-9]*/mem' "$1" || fail "$2: no verdict on /proc/PID/mem"
}

# (a) a local agent of parade run
echo 1 >"$T/in"
RC=0
PARADE_SECRET_CANARY=$canary timeout -k 5 60 "${as_user[@]}" "$PARADE" run --name A --workers 1 \
	-- "$W/probe.sh" A "$W/probe-a.out" <"$T/in" >"$T/a.csv" 2>"$T/a.err" || RC=$?
expect_rc 0 "parade run with the probe" "$T/a.err"
info "(a) local agent:"
check_probe "$W/probe-a.out" "local agent"

# (b) an agent that read the connection text on stdin (ssh style), TLS
timeout -k 5 60 "${as_user[@]}" "$PARADE" run --name B --listen tls+tcp://127.0.0.1:0 --launch none \
	-- "$W/probe.sh" B "$W/probe-b.out" <"$T/in" >"$T/b.csv" 2>"$T/b.err" &
ctl=$!
conn=$W/sessions/B/connection
has_conn() { grep -q '^endpoint=tls+tcp://' "$conn" 2>/dev/null; }
wait_for 10 has_conn || { show_file "$T/b.err"; fail "no connection file $conn"; }
mkfifo "$T/fifo"
PARADE_SECRET_CANARY=$canary "${as_user[@]}" "$AGENT" --connect - --id b1 <"$T/fifo" 2>"$T/agent-b.err" &
agent=$!
exec 6>"$T/fifo"
{ cat "$conn"; echo end; } >&6
wait_pid "$ctl" 30 || fail "parade run (b) did not finish"
[ "$RC" = 0 ] || { show_file "$T/b.err"; fail "parade run (b): exit status $RC"; }
exec 6>&-
wait_pid "$agent" 10 || fail "the stdin agent did not leave"
info "(b) agent with the connection text on stdin, over TLS:"
check_probe "$W/probe-b.out" "stdin agent"
assert_no_procs
