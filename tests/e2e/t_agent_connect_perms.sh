#!/bin/bash
# t_agent_connect_perms: parade-agent --connect FILE refuses a connection
# file another user could have planted or swapped (it names the session's
# controller and secret: a planted one sends the agent, and the tasks it
# runs as this user, to someone else's controller): a file or a symbolic
# link owned by another user, a file writable by group or others, or a
# file in a folder writable by group or others without the sticky bit. The user's own file, a link the user made
# and a file in a sticky folder (as /tmp) are read: the agent then fails to
# reach the (absent) controller, exit 1, instead of exit 2.
. "$(dirname "$0")/lib.sh"

secret=$(printf '%064d' 7)
# the protocol version this agent speaks, so the file is one it would read
proto=$("$AGENT" --version | sed -n 's/.*(protocol \([0-9]*\)).*/\1/p')
[ -n "$proto" ] || fail "no protocol version in parade-agent --version"
conn_text() { printf 'version=%s\nsession=x\nendpoint=ipc://%s/nobody-here.sock\nsecret=%s\n' "$proto" "$T" "$secret"; }

# agent_rc FILE [--wait-connect]: runs the agent on FILE, RC its status,
# $T/a.err its log
agent_rc() {
	RC=0
	timeout -k 5 30 "$AGENT" --connect "$@" --grace 1 >/dev/null 2>"$T/a.err" || RC=$?
}

# refused WHAT FILE NEEDLE: exit 2 and the log says NEEDLE
refused() {
	local what=$1 file=$2 needle=$3
	shift 3
	agent_rc "$file" "$@"
	expect_rc 2 "$what" "$T/a.err"
	grep -qF -- "$needle" "$T/a.err" || { show_file "$T/a.err"; fail "$what: the log does not say '$needle'"; }
	info "$what: refused ($needle)"
}

# accepted WHAT FILE: read, then the controller is unreachable (exit 1)
accepted() {
	agent_rc "$2"
	expect_rc 1 "$1" "$T/a.err"
	grep -q "controller unreachable" "$T/a.err" || { show_file "$T/a.err"; fail "$1: not read"; }
	info "$1: read"
}

mkdir -m 700 "$T/own"
conn_text >"$T/own/conn"
chmod 600 "$T/own/conn"
accepted "the user's own file" "$T/own/conn"
ln -s "$T/own/conn" "$T/own/link"
accepted "a link the user made" "$T/own/link"

# a file of the user's that group or others can write: they could point
# it at a controller of theirs (before the fix: a warning, and read)
for m in 666 620; do
	cp "$T/own/conn" "$T/own/wide-$m"
	chmod "$m" "$T/own/wide-$m"
	refused "a file of mode $m" "$T/own/wide-$m" \
		"connection file $T/own/wide-$m is writable by group or others (mode 0$m), so they could send its users to a controller of theirs: run chmod 600 $T/own/wide-$m"
done
# readable by others only: read, with a warning
cp "$T/own/conn" "$T/own/readable"
chmod 644 "$T/own/readable"
accepted "a file of mode 644" "$T/own/readable"
grep -q "is readable by others (mode 644)" "$T/a.err" || { show_file "$T/a.err"; fail "mode 644: no warning"; }
ln -s "$T/own/wide-666" "$T/own/link-to-wide"
refused "a link of the user's to a file of mode 666" "$T/own/link-to-wide" "(mode 0666)"

mkdir "$T/open"
chmod 777 "$T/open"
conn_text >"$T/open/conn"
chmod 600 "$T/open/conn"
refused "a file in a folder writable by others" "$T/open/conn" \
	"$T/open, the folder of connection file $T/open/conn, is writable by group or others (mode 0777)"
chmod 770 "$T/open"
refused "a file in a folder writable by the group" "$T/open/conn" "is writable by group or others (mode 0770)"
chmod 1777 "$T/open"
accepted "a file of the user's in a sticky folder" "$T/open/conn"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: $TEST_NAME: part: files and links of another user need root (chown); it did not run, the rest passed" >&2
else
	nobody_uid=$(id -u nobody) || fail "no user nobody"
	cp "$T/own/conn" "$T/own/theirs"
	chown nobody "$T/own/theirs"
	refused "a file of another user" "$T/own/theirs" \
		"connection file $T/own/theirs belongs to uid $nobody_uid (nobody), not to this user"
	# --wait-connect: the file appears, but planted by someone else
	refused "a file of another user, waited for" "$T/own/theirs" "belongs to uid $nobody_uid" --wait-connect
	ln -s "$T/own/conn" "$T/own/their-link"
	chown -h nobody "$T/own/their-link"
	refused "a link of another user to the user's file" "$T/own/their-link" \
		"connection file $T/own/their-link is a symbolic link owned by uid $nobody_uid (nobody), not by this user"
	ln -s "$T/own/theirs" "$T/own/link-to-theirs"
	refused "a link of the user's to another user's file" "$T/own/link-to-theirs" "belongs to uid $nobody_uid"
fi
assert_no_procs
