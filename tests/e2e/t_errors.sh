#!/bin/bash
# t_errors.sh - usage and input errors: exit status 2, a message that names
# the problem, and no agent is ever started.
. "$(dirname "$0")/lib.sh"

# every agent parade starts goes through this wrapper, which leaves a mark
cat >"$T/agent-wrapper.sh" <<EOF2
#!/bin/sh
echo "\$\$ \$*" >>"$T/agents-started"
exec "$AGENT" "\$@"
EOF2
chmod +x "$T/agent-wrapper.sh"
export PARADE_AGENT=$T/agent-wrapper.sh

printf 'a,b\n1,2\n3,4\n' >"$T/good.csv"
printf 'a,b\n1,2\n3,"4\n5,6\n' >"$T/unterminated.csv"
printf 'a,b\n1,2\n3,4\n5,6\n7\n8,9\n' >"$T/ragged.csv"
printf 'x,status\n1,2\n' >"$T/collide.csv"

n=0
# bad_run PATTERN... -- ARGS: `parade run ARGS` must exit 2 with a stderr
# line matching every PATTERN (grep -E), and start no agent.
bad_run() {
	local -a pats=()
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	n=$((n + 1))
	prun "$T/out.$n" "$T/err.$n" "$@" </dev/null
	if [ "$RC" != 2 ]; then
		show_file "$T/err.$n"
		fail "parade run $*: exit status $RC, expected 2"
	fi
	for p in "${pats[@]}"; do
		grep -Eq -- "$p" "$T/err.$n" || {
			show_file "$T/err.$n"
			fail "parade run $*: stderr does not match /$p/"
		}
	done
	if [ -e "$T/agents-started" ]; then
		show_file "$T/agents-started"
		fail "parade run $*: started an agent"
	fi
	# an input or usage error prints no table, not even a header
	if [ -s "$T/out.$n" ]; then
		show_file "$T/out.$n"
		fail "parade run $*: wrote to stdout"
	fi
	find_procs_cmd parade-agent
	[ ${#PIDS[@]} -eq 0 ] || fail "parade run $*: parade-agent processes running: ${PIDS[*]}"
	if [ -d "$T/sessions" ] && [ -n "$(ls -A "$T/sessions")" ]; then
		fail "parade run $*: left a session folder: $(ls "$T/sessions")"
	fi
}

bad_run "column 'c'" "a, b" -- --grid "$T/good.csv" -- echo {a} {c}
bad_run "unterminated\.csv" "line 3" "unterminated" -- --grid "$T/unterminated.csv" -- echo {a}
bad_run "ragged\.csv" "line 5" "1 field" -- --grid "$T/ragged.csv" -- echo {a}
bad_run "'status'" "collides" -- --grid "$T/collide.csv" -- echo {x}
bad_run "'status'" "collides" -- --grid "$T/good.csv" --schema status:int -- echo {a}
bad_run "'float'" "dbl" -- --grid "$T/good.csv" --schema x:float -- echo {a}
bad_run "schema" -- --grid "$T/good.csv" --schema x -- echo {a}
bad_run "tcp://127\.0\.0\.1:0" "insecure" -- --grid "$T/good.csv" --listen tcp://127.0.0.1:0 -- echo {a}
bad_run "http" -- --grid "$T/good.csv" --listen http://127.0.0.1:1 -- echo {a}
bad_run "no command" -- --grid "$T/good.csv"
bad_run "no command" -- --grid "$T/good.csv" --
bad_run "--workers '0'" -- --grid "$T/good.csv" --workers 0 -- echo {a}
bad_run "--workers 'abc'" -- --grid "$T/good.csv" --workers abc -- echo {a}
bad_run "--workers '-2'" -- --grid "$T/good.csv" --workers -2 -- echo {a}
bad_run "--workers '2x'" -- --grid "$T/good.csv" --workers 2x -- echo {a}
bad_run "nonexistent\.csv" -- --grid "$T/nonexistent.csv" -- echo {a}
bad_run "\{\}" "a, b" -- --grid "$T/good.csv" -- echo {}
bad_run "--format 'xml'" -- --grid "$T/good.csv" --format xml -- echo {a}
bad_run "--timeout" -- --grid "$T/good.csv" --timeout -1 -- echo {a}
bad_run "bogus" -- --grid "$T/good.csv" --bogus -- echo {a}
for v in abc -5 1001 ''; do
	PARADE_POLL_US=$v bad_run "^parade: PARADE_POLL_US='$v': give whole microseconds from 0 to 1000" \
		-- --grid "$T/good.csv" -- echo {a}
done
PARADE_POLL_US=x "$AGENT" --version >/dev/null 2>"$T/agent-poll.err" && fail "parade-agent took PARADE_POLL_US=x"
grep -q "^parade-agent: PARADE_POLL_US='x'" "$T/agent-poll.err" || {
	show_file "$T/agent-poll.err"
	fail "parade-agent does not name PARADE_POLL_US"
}

# the check above can see an agent start: a good run leaves the mark
prun "$T/out.ok" "$T/err.ok" --grid "$T/good.csv" --workers 1 -- echo {a}
expect_rc 0 "control run" "$T/err.ok"
[ -s "$T/agents-started" ] || fail "control run: the agent wrapper left no mark"
# polling off (PARADE_POLL_US=0) gives the same table
PARADE_POLL_US=0 prun "$T/out.p0" "$T/err.p0" --grid "$T/good.csv" --workers 1 -- echo {a}
expect_rc 0 "run with PARADE_POLL_US=0" "$T/err.p0"
cut -d, -f1-4,7 "$T/out.ok" >"$T/ok.cut"
cut -d, -f1-4,7 "$T/out.p0" >"$T/p0.cut"
cmp -s "$T/ok.cut" "$T/p0.cut" || fail "PARADE_POLL_US=0 changed the table"

assert_no_procs
info "$n usage and input errors exit 2"
