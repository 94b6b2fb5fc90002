#!/bin/bash
# t_control.sh - the control socket, driven by the real nanocat tool: a
# `parade serve` session answers status with JSON, takes tasks submitted
# as argv and returns their results through collect; a garbage request
# gets an error reply and the session goes on; stop ends it cleanly.
. "$(dirname "$0")/lib.sh"

command -v nanocat >/dev/null ||
	fail "nanocat is not installed (Debian package nanomsg-utils; scripts/deps.sh test installs it)"

timeout -k 5 90 "$PARADE" serve --name ctl --workers 2 >"$T/serve.out" 2>"$T/serve.err" &
serve=$!
SOCK=$PARADE_HOME/sessions/ctl/control.sock
wait_for 20 test -S "$SOCK" || { show_file "$T/serve.err"; fail "no control socket at $SOCK"; }

# nc REQUEST: one request, the reply on stdout
nc() { timeout 20 nanocat --req --connect "ipc://$SOCK" --recv-timeout 10 -D "$1" --raw; }

r=$(nc '{"op":"status"}') || fail "nanocat status request failed"
info "status: $r"
case $r in
'{"ok":true,"session":"ctl","state":"serving",'*) ;;
*) fail "unexpected status reply: $r" ;;
esac

r=$(nc 'this is not json {') || fail "nanocat garbage request got no reply"
case $r in
'{"ok":false,"error":"malformed request:'*) ;;
*) fail "garbage request: unexpected reply: $r" ;;
esac
r=$(nc '{"op":"launch-missiles"}') || fail "no reply to an unknown op"
case $r in
*'"ok":false'*"unknown op"*) ;;
*) fail "unknown op: unexpected reply: $r" ;;
esac
r=$(nc '{"op":"submit","tasks":[{"argv":"echo"}]}') || fail "no reply to a bad submit"
case $r in
*'"ok":false'*"argv must be"*) ;;
*) fail "bad submit: unexpected reply: $r" ;;
esac
is_alive "$serve" || { show_file "$T/serve.err"; fail "the controller died after bad requests"; }

r=$(nc '{"op":"submit","tasks":[{"argv":["echo","one two"]},{"argv":["sh","-c","echo $0","it'"'"'s"]},{"argv":["false"]}]}') ||
	fail "submit request failed"
case $r in
'{"ok":true,"first":0,"count":3}') ;;
*) fail "submit: unexpected reply: $r" ;;
esac
done3() { nc '{"op":"status"}' | grep -q '"done":3,'; }
wait_for 30 done3 || fail "the three submitted tasks did not finish: $(nc '{"op":"status"}')"

r=$(nc '{"op":"collect","since":0,"limit":10}') || fail "collect request failed"
info "collect: $r"
# results come in commit order: check each one on its own
for want in '{"ok":true,"results":[{"seq":1,' '"task":0,"attempt":1,"status":"ok","exit_code":0,' \
	'"stdout":"one two\n"' '"stdout":"it'"'"'s\n"' '"task":2,"attempt":1,"status":"failed","exit_code":1,' \
	'],"next":3,"finished":false}'; do
	case $r in
	*"$want"*) ;;
	*) fail "collect: no '$want' in the reply: $r" ;;
	esac
done
r=$(nc '{"op":"collect","since":3}') || fail "collect since 3 failed"
case $r in
'{"ok":true,"results":[],"next":3,'*) ;;
*) fail "collect since the last cursor: unexpected reply: $r" ;;
esac

r=$(nc '{"op":"stop"}') || fail "stop request failed"
case $r in
'{"ok":true,"state":"stopping"}') ;;
*) fail "stop: unexpected reply: $r" ;;
esac
wait_pid "$serve" 30 || fail "serve did not end after stop"
expect_rc 1 "serve after stop with one failed task" "$T/serve.err"
assert_no_procs

# serve --name on the existing session picks it up with its results
timeout -k 5 60 "$PARADE" serve --name ctl --workers 1 >"$T/serve2.out" 2>"$T/serve2.err" &
serve=$!
up() { [ -S "$SOCK" ] && nc '{"op":"status"}' | grep -q '"ok":true'; }
wait_for 20 up || { show_file "$T/serve2.err"; fail "serve --name ctl did not come back"; }
r=$(nc '{"op":"status"}')
case $r in
*'"state":"serving"'*'"tasks":{"total":3,"queued":0,"running":0,"done":3,"ok":2,"failed":1,'*) ;;
*) fail "the served session did not keep its results: $r" ;;
esac
r=$(nc '{"op":"stop","cancle":true}')
case $r in
*'"ok":false'*'unknown member'*) ;;
*) fail "a misspelt member was not refused: $r" ;;
esac
timeout 30 "$PARADE" stop ctl >"$T/stop.out" 2>&1 || fail "parade stop ctl failed: $(cat "$T/stop.out")"
wait_pid "$serve" 30 || fail "the second serve did not end after stop"
assert_no_procs
info "status, submit, collect, stop and bad requests over nanocat; serve picked the session up again"
