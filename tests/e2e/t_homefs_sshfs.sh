#!/bin/bash
# t_homefs_sshfs.sh - PARADE_HOME on a real network file system: an sshfs
# mount (FUSE, fuse.sshfs) of a folder served by a real sshd in another
# network namespace (scripts/ssh/hosts.sh). This machine's kernel has no
# NFS client (CONFIG_NETWORK_FILESYSTEMS is off, no modules), so sshfs is
# the network file system a test can mount here. Nothing is declared
# (PARADE_HOME_FS unset): parade finds the network home by itself, keeps
# the session's live files in a runtime folder on this host and only the
# pointer, lock, log and journal copy on the server; another host (own
# host name, private /tmp) is told where the session runs, then reads the
# copy over the network once it ended; `parade run` and `parade rm` leave
# nothing on the server (no .fuse_hidden file of a lock held open).
. "$(dirname "$0")/lib.sh"

command -v sshfs >/dev/null && command -v fusermount3 >/dev/null ||
	skip "sshfs is not installed (apt-get install sshfs): no network file system to mount"
[ -c /dev/fuse ] || skip "no /dev/fuse: FUSE file systems cannot be mounted here"
ssh_hosts_up 1
MNT=$T/mnt
unmount() { mountpoint -q "$MNT" && fusermount3 -u "$MNT"; }
trap 'rc=$?; unmount; (exit $rc); ssh_cleanup' EXIT

mkdir -p "$T/export" "$MNT"
# shellcheck disable=SC2086
sshfs $SSH_TEST_OPTS "${SSH_H[1]}:$T/export" "$MNT" 2>"$T/sshfs.err" ||
	{ show_file "$T/sshfs.err"; fail "sshfs ${SSH_H[1]}:$T/export $MNT failed"; }
grep -q " $MNT .* - fuse.sshfs " /proc/self/mountinfo || fail "$MNT is not an sshfs mount"

unset PARADE_HOME_FS
export PARADE_HOME=$MNT/home XDG_RUNTIME_DIR=$T/run
mkdir -m 700 "$PARADE_HOME" "$XDG_RUNTIME_DIR"
SRV=$T/export/home/sessions # the server's side of the home
HOST=$(hostname)
OTHER=1
other_host_ok || {
	echo "SKIP: $TEST_NAME: part: 'another host' needs root and unshare --uts --mount; those checks did not run" >&2
	OTHER=
}

# a run: its journal is not on the network; nothing is left on the server
RC=0
seq 1 5 | timeout 30 "$PARADE" run --workers 1 -- echo {} >"$T/run.csv" 2>"$T/run.err" || RC=$?
expect_rc 0 "parade run with PARADE_HOME on sshfs" "$T/run.err"
[ "$(wc -l <"$T/run.csv")" = 6 ] || { show_file "$T/run.csv"; fail "parade run did not print 5 rows"; }
[ -z "$(ls -A "$SRV")" ] || fail "parade run left on the server: $(ls -AR "$SRV" | tr '\n' ' ')"
! grep -q . "$T/run.err" || { show_file "$T/run.err"; fail "parade run said something"; }

N=30
RC=0
seq 1 $N | timeout 30 "$PARADE" submit --name nf --workers 2 -- sh -c 'sleep 0.4; echo "v=$1"' sh {} \
	>/dev/null 2>"$T/submit.err" || RC=$?
expect_rc 0 "submit nf" "$T/submit.err"
[ -f "$SRV/nf/runtime" ] || fail "no pointer on the server ($(ls -A "$SRV/nf" | tr '\n' ' '))"
R=$(sed -n 's/^dir=//p' "$SRV/nf/runtime")
case $R in "$XDG_RUNTIME_DIR"/parade/nf-??????) ;; *) fail "runtime folder '$R' is not under $XDG_RUNTIME_DIR/parade" ;; esac
grep -qF "PARADE_HOME is on a network file system: session nf lives in $R on this host" "$R/controller.log" ||
	{ show_file "$R/controller.log"; fail "the sshfs home was not found to be a network file system"; }
for f in connection journal.db control.sock agents.sock; do
	[ -e "$R/$f" ] || fail "no $f in the runtime folder"
	[ ! -e "$SRV/nf/$f" ] || fail "$f went over the network to the server"
done
if [ -n "$OTHER" ]; then
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" collect nf >"$T/o.out" 2>"$T/o.err" || RC=$?
	expect_rc 2 "collect nf on another host while it runs" "$T/o.err"
	grep -qF "session nf runs on host $HOST" "$T/o.err" ||
		{ show_file "$T/o.err"; fail "another host is not told where nf runs"; }
fi
RC=0
timeout 60 "$PARADE" wait nf 2>"$T/wait.err" || RC=$?
expect_rc 0 "wait nf" "$T/wait.err"
[ -f "$SRV/nf/journal.db" ] && [ ! -e "$SRV/nf/runtime" ] && [ ! -e "$R" ] ||
	fail "after the end: server has $(ls -A "$SRV/nf" | tr '\n' ' '); runtime folder $([ -e "$R" ] && echo kept || echo gone)"
check_rows() { # FILE N: N rows, in order, each ok once with v=ROW
	bad=$(csv_flat "$1" | tail -n +2 | awk -F'\037' -v n="$2" '
		$1 != NR || $2 != "ok" || $6 != "v=" NR { print "row " NR ": " $0; exit }
		END { if (NR != n) print NR " rows, expected " n }')
	[ -z "$bad" ] || { show_file "$1" 50; fail "$1: $bad"; }
}
if [ -n "$OTHER" ]; then
	RC=0
	timeout 30 "${OTHER_HOST[@]}" "$PARADE" collect nf >"$T/o.csv" 2>"$T/o.err" || RC=$?
	expect_rc 0 "collect nf on another host after the end" "$T/o.err"
	check_rows "$T/o.csv" $N
fi
RC=0
timeout 30 "$PARADE" collect nf >"$T/nf.csv" 2>"$T/c.err" || RC=$?
expect_rc 0 "collect nf" "$T/c.err"
check_rows "$T/nf.csv" $N
RC=0
timeout 30 "$PARADE" rm nf 2>"$T/rm.err" || RC=$?
expect_rc 0 "rm nf" "$T/rm.err"
[ -z "$(ls -A "$SRV")" ] || fail "rm left on the server: $(ls -AR "$SRV" | tr '\n' ' ')"
unmount || fail "cannot unmount $MNT"
# sshfs (and its ssh) end once the last copy of the mount is gone: the
# other hosts' mount namespaces hold copies until the kernel has torn them
# down, which may take a few seconds on a busy machine
ssh_assert_clean 30
