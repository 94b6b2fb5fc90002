/* net.h - sockets for endpoints: listen, accept, non-blocking connect. */
#ifndef PD_NET_H
#define PD_NET_H

#include <stddef.h>

#include "endpoint.h"

/* Makes path free for a Unix socket to bind: nothing there is fine; a
 * stale socket (nobody accepts on it) owned by this user is removed. Any
 * other thing is left alone and refused, with err naming path: a live
 * socket -EADDRINUSE ("in use by another process"), a socket of another
 * user -EPERM, a regular file, folder or symbolic link -EEXIST ("exists
 * and is not a socket"). The final component is never followed. */
int pd_net_ipc_clear(const char *path, char *err, size_t errlen);
/* Binds and listens on ep (ipc: only a stale socket of this user is
 * replaced, see pd_net_ipc_clear; the socket is made 0600).
 * *bound gets the actual endpoint (the chosen port for port 0).
 * Returns the listening fd (non-blocking, close-on-exec) or -errno with err
 * naming the endpoint and the reason. */
int pd_net_listen(const pd_endpoint *ep, pd_endpoint *bound, char *err, size_t errlen);
/* Accepts one connection: fd (non-blocking, close-on-exec) or -errno;
 * -EAGAIN when none is waiting. peer gets "ADDR:PORT" or "unix". */
int pd_net_accept(int lfd, char *peer, size_t peerlen);
/* Starts a non-blocking connect to ep. Returns fd or -errno with err.
 * *in_progress is 1 when completion must be awaited (PD_CONN_CONNECTING). */
int pd_net_connect(const pd_endpoint *ep, int *in_progress, char *err, size_t errlen);
/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new
 * soft limit. */
long pd_net_raise_nofile(void);
/* Explains a failed accept (rv < 0 from pd_net_accept) in out, naming the
 * limit that was hit and its value, for example "RLIMIT_NOFILE is 1024;
 * raise it with ulimit -n" for -EMFILE or the system-wide fs.file-max for
 * -ENFILE; other errors get "out of memory" or "". Never fails. */
void pd_net_accept_hint(int rv, char *out, size_t outlen);

#endif
