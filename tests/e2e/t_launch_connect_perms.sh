#!/bin/bash
# t_launch_connect_perms: `parade launch slurm` and `parade launch ssh`
# (the same code as `parade-agent ssh`) read the connection file they are
# given with the checks of parade-agent --connect: with --connect FILE a
# file writable by group or others, or another user's file or link, is
# refused (exit 2) before anything is submitted or sent to a host; with
# --session NAME the name must be a session name (not '../x') and the file
# is read through the session's folder, never through a link, in a folder
# nobody else can write. Before the fix they read any of these, and ssh
# sent the secret and endpoint found there to the hosts.
. "$(dirname "$0")/lib.sh"

secret=$(printf '%064d' 7)
conn_text() { printf 'version=1\nsession=x\nendpoint=tls+tcp://127.0.0.1:9\nsecret=%s\n' "$secret"; }

# run_launch KIND ARGS...: parade launch slurm --dry-run, or parade launch
# ssh to a host that is never reached (the refusals come first); RC and
# $T/l.out, $T/l.err
run_launch() {
	local kind=$1
	shift
	RC=0
	if [ "$kind" = slurm ]; then
		timeout -k 5 30 "$PARADE" launch slurm -n 1 --dry-run "$@" >"$T/l.out" 2>"$T/l.err" || RC=$?
	else
		# a host that refuses at once: port 9 on loopback, one attempt
		timeout -k 5 30 "$PARADE" launch ssh "$@" --ssh-opt ConnectTimeout=2 \
			--ssh-opt ConnectionAttempts=1 nobody@127.0.0.1:9 >"$T/l.out" 2>"$T/l.err" </dev/null || RC=$?
	fi
}

# refused WHAT NEEDLE ARGS...: both commands exit 2 saying NEEDLE, and
# neither submitted a script nor started ssh
refused() {
	local what=$1 needle=$2 kind
	shift 2
	for kind in slurm ssh; do
		run_launch $kind "$@"
		expect_rc 2 "$kind: $what" "$T/l.err"
		grep -qF -- "$needle" "$T/l.err" || { show_file "$T/l.err"; fail "$kind: $what: the error does not say '$needle'"; }
		[ -s "$T/l.out" ] && { show_file "$T/l.out"; fail "$kind: $what: something was printed"; }
		grep -qF "127.0.0.1" "$T/l.err" && { show_file "$T/l.err"; fail "$kind: $what: a host was tried"; }
	done
	info "$what: refused ($needle)"
}

# accepted WHAT ARGS...: the slurm script is printed (exit 0)
accepted() {
	local what=$1
	shift
	run_launch slurm "$@"
	expect_rc 0 "slurm: $what" "$T/l.err"
	grep -q '^#SBATCH' "$T/l.out" || { show_file "$T/l.out"; fail "slurm: $what: no script"; }
	info "$what: read"
}

mkdir -m 700 "$T/own"
conn_text >"$T/own/conn"
chmod 600 "$T/own/conn"
accepted "the user's own file" --connect "$T/own/conn"
ln -s "$T/own/conn" "$T/own/link"
accepted "a link the user made" --connect "$T/own/link"

for m in 666 620; do
	cp "$T/own/conn" "$T/own/wide-$m"
	chmod $m "$T/own/wide-$m"
	refused "--connect a file of mode $m" \
		"connection file $T/own/wide-$m is writable by group or others (mode 0$m), so they could send its users to a controller of theirs: run chmod 600 $T/own/wide-$m" \
		--connect "$T/own/wide-$m"
done
mkdir -m 777 "$T/open"
conn_text >"$T/open/conn"
chmod 600 "$T/open/conn"
refused "--connect a file in a folder of mode 0777" "$T/open, the folder of connection file $T/open/conn, is writable by group or others (mode 0777)" \
	--connect "$T/open/conn"

# --session: a planted file outside sessions/ (where '../x' led)
mkdir -p -m 700 "$T/sessions/good" "$T/x"
conn_text >"$T/x/connection"
chmod 600 "$T/x/connection"
refused "--session ../x" "invalid session name '../x'" --session ../x
conn_text >"$T/sessions/good/connection"
chmod 600 "$T/sessions/good/connection"
accepted "--session good" --session good
chmod 666 "$T/sessions/good/connection"
refused "--session good, its file of mode 0666" "(mode 0666)" --session good
chmod 600 "$T/sessions/good/connection"
chmod 777 "$T/sessions/good"
refused "--session good, its folder of mode 0777" "$T/sessions/good is writable by group or others (mode 0777)" --session good
chmod 700 "$T/sessions/good"
mkdir -m 700 "$T/sessions/linked"
ln -s "$T/own/conn" "$T/sessions/linked/connection"
refused "--session linked, its file a link" "connection file $T/sessions/linked/connection is a symbolic link" --session linked
refused "--session none" "no session named 'none'" --session none

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: $TEST_NAME: part: files and links of another user need root (chown); it did not run, the rest passed" >&2
else
	nobody_uid=$(id -u nobody) || fail "no user nobody"
	cp "$T/own/conn" "$T/own/theirs"
	chown nobody "$T/own/theirs"
	refused "--connect a file of another user" \
		"connection file $T/own/theirs belongs to uid $nobody_uid (nobody), not to this user" \
		--connect "$T/own/theirs"
	ln -s "$T/own/conn" "$T/own/their-link"
	chown -h nobody "$T/own/their-link"
	refused "--connect a link of another user" \
		"connection file $T/own/their-link is a symbolic link owned by uid $nobody_uid (nobody)" \
		--connect "$T/own/their-link"
	cp "$T/own/conn" "$T/sessions/good/connection"
	chown nobody "$T/sessions/good/connection"
	refused "--session good, its file of another user" "belongs to uid $nobody_uid (nobody)" --session good
fi
assert_no_procs
