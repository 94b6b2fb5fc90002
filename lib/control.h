/* control.h - the session's control socket: nanomsg REQ/REP over ipc://.
 *
 * The only module that includes nanomsg. The server side lives in a
 * pd_loop: each request is handed, whole, to a handler that appends its
 * reply, and the reply goes back to the peer that asked. Requests are
 * opaque bytes here; parsing them is the handler's business (see
 * docs/control.md for the JSON protocol on top).
 *
 * Only ipc:// URLs are accepted, and their path must fit a Unix socket
 * address (at most PD_CONTROL_MAX_PATH bytes; nanomsg would abort on a
 * longer one). Access control is the file system's: the socket lives in
 * the 0700 session folder and is chmod 0600 after bind.
 *
 * Requests over PD_CONTROL_MAX_REQUEST bytes are refused by nanomsg itself:
 * it drops that connection without a reply, so the client times out (and
 * nanomsg's REQ may resend the request while it waits). The server is not
 * affected.
 */
#ifndef PD_CONTROL_H
#define PD_CONTROL_H

#include <stddef.h>

#include "buf.h"
#include "loop.h"

#define PD_CONTROL_MAX_REQUEST (16 * 1024 * 1024)
#define PD_CONTROL_MAX_PATH 107 /* sizeof(sun_path) - 1 on Linux */

typedef struct pd_control pd_control;

/* Answers one request. req holds len bytes plus a NUL that len excludes
 * (the bytes may hold NULs too); both are borrowed for the call. One NUL
 * byte at the very end of a message is not part of the request: R's
 * nanonext sends character strings with their C terminator. The
 * handler appends the reply to `reply` (empty on entry; an empty reply is
 * sent as an empty message). Runs on the loop thread; it may call
 * pd_control_close on its own listener: the reply is still sent, then the
 * listener closes. */
typedef void (*pd_control_fn)(void *arg, const char *req, size_t len, pd_buf *reply);

/* Binds a REP socket to url ("ipc:///abs/path" or "ipc://rel/path") and
 * watches it in l. A stale socket file left by a dead process is replaced;
 * a path where another process listens fails with -EADDRINUSE; a path that
 * exists and is not a socket is left alone and fails with -EEXIST.
 * 0 and *out, or -errno (*out NULL) with err saying why, e.g.
 * "control socket: only ipc:// URLs are accepted, not 'tcp://...'".
 * fn and arg are borrowed until pd_control_close. */
int pd_control_listen(pd_loop *l, const char *url, pd_control_fn fn, void *arg,
		      pd_control **out, char *err, size_t errlen);

/* Stops watching, closes the socket and removes the socket file. Call it
 * before pd_loop_free. NULL is ignored. Inside the handler it only marks
 * the listener; it closes once the handler's reply is sent. */
void pd_control_close(pd_control *c);

/* Client: sends one request of len bytes to url and waits at most
 * timeout_ms (> 0) in all for the reply. Nobody listening yet is not an
 * error in itself: nanomsg keeps dialling until the time is up, so a
 * controller that is still starting can answer.
 * On success returns 0, *reply is malloc'd (the caller frees it) with
 * *rlen bytes plus a NUL that rlen excludes. On failure *reply is NULL,
 * *rlen 0, and returns -ETIMEDOUT (no reply in time; err says whether the
 * socket file exists), -EINVAL (bad URL or timeout), -ENAMETOOLONG,
 * -EMSGSIZE (len over INT_MAX), -ENOMEM, or another -errno, with err
 * saying so.
 * Thread-safe; uses one nanomsg socket per call. The request is not
 * resent on a timer (NN_REQ_RESEND_IVL is set to the maximum), so a slow
 * request is not run twice; nanomsg still resends it when the connection
 * drops before the reply (the server restarted, or refused the size). */
int pd_control_request(const char *url, const char *req, size_t len, int timeout_ms,
		       char **reply, size_t *rlen, char *err, size_t errlen);

#endif
