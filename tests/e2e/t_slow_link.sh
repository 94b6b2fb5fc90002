#!/bin/bash
# t_slow_link.sh - an honest agent on a slow link is not dropped while the
# controller's output to it is over the 4 MiB cap. Big tasks (34 of
# 500 KB each, 17 MB) go through a proxy that passes 1 MB/s from the
# controller to the agent (the other way at full speed). Over the cap the
# controller reads nothing from the agent, so it does not hear its PINGs;
# the output the agent takes must count as its sign of life. Every row
# comes back ok, and no agent is lost for missed heartbeats (before the
# fix it was, again and again, 5 s into each burst).
. "$(dirname "$0")/lib.sh"

N=40
SIZE=500000
RATE=1000000
command -v python3 >/dev/null || skip "needs python3 for the slow proxy"

python3 - "$N" "$SIZE" >"$T/in" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    print("%d%s" % (i, "x" * (size - 8)))
PY

timeout -k 5 150 "$PARADE" run --name S --listen tls+tcp://127.0.0.1:0 --launch none \
	--handler echo -o "$T/out.csv" -- {} <"$T/in" 2>"$T/err" &
ppid_=$!
wait_endpoint S

# the proxy: controller -> agent at RATE bytes/s with small socket
# buffers (so the bytes wait in the controller), agent -> controller free
python3 - "$port" "$RATE" "$T/proxy.port" <<'PY' 2>"$T/proxy.err" &
import os, socket, sys, threading, time
up_port, rate, portfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.rename(portfile + ".tmp", portfile)

def pipe(src, dst, limit):
    t0, sent = time.monotonic(), 0
    try:
        while True:
            b = src.recv(16384)
            if not b:
                break
            dst.sendall(b)
            sent += len(b)
            if limit:
                ahead = sent / limit - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

while True:
    c, _ = ls.accept()
    u = socket.socket()
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    try:
        u.connect(("127.0.0.1", up_port))
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u, 0), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, rate), daemon=True).start()
PY
proxy=$!
wait_for 10 test -s "$T/proxy.port" || {
	show_file "$T/proxy.err"
	fail "the proxy did not start"
}
pport=$(cat "$T/proxy.port")
# the agent's connection file names the proxy (and no Unix socket)
umask 077
sed -e "s|^endpoint=.*|endpoint=tls+tcp://127.0.0.1:$pport|" -e '/^local=/d' "$conn" >"$T/slow.conn"

"$AGENT" --connect "$T/slow.conn" --id slow --slots 32 2>"$T/agent.err" &
apid=$!
wait_pid "$ppid_" 90 || {
	show_file "$T/err" 20
	fail "the run did not finish in 90 s"
}
prc=$RC
wait_pid "$apid" 15 || fail "the agent did not leave after the run"
kill "$proxy"
wait_pid "$proxy" 10 || fail "the proxy did not end"
lost=$(grep -c 'missed heartbeats' "$T/err" || true)
info "agent lost for missed heartbeats $lost time(s)"
[ "$lost" = 0 ] || {
	show_file "$T/err" 20
	fail "the agent on the slow link was lost for missed heartbeats $lost time(s)"
}
[ "$prc" = 0 ] || {
	show_file "$T/err" 20
	fail "parade run exited $prc"
}
# plain CSV (the values are digits and x): the status is column 2
ok=$(tail -n +2 "$T/out.csv" | cut -d, -f2 | grep -c '^ok$' || true)
[ "$ok" = $N ] || fail "$ok of $N rows ok"
exit 0
