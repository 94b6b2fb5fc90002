/* conn.h - framed, non-blocking connections over plain sockets or TLS.
 *
 * A connection owns its fd. It reads into a buffer, cuts frames (codec.h)
 * and hands each to on_frame; frames to send are encoded straight into
 * pd_conn_out() and leave in one write per loop iteration after
 * pd_conn_flush(). Closing (by the owner, the peer, an error, a frame over
 * the size limit or a missed deadline) only marks the connection: on_close
 * runs from a deferred call, exactly once, and the connection is freed when
 * it returns. No callback runs after on_close.
 */
#ifndef PD_CONN_H
#define PD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"

typedef struct pd_conn pd_conn;
typedef struct pd_tls pd_tls;

typedef struct pd_conn_ops {
	/* The transport is up (TLS handshake done; plain: connected). */
	void (*on_ready)(pd_conn *c, void *arg);
	/* One frame; p is valid only during the call. */
	void (*on_frame)(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg);
	/* The end; why is a short phrase ("peer closed the connection",
	 * "TLS handshake failed: ...", "frame of 99 MiB over the limit"). */
	void (*on_close)(pd_conn *c, const char *why, void *arg);
} pd_conn_ops;

enum pd_conn_flags {
	PD_CONN_SERVER = 0x1,     /* accepting side (TLS server role) */
	PD_CONN_CONNECTING = 0x2, /* fd is a non-blocking connect in progress */
};

/* Wraps fd (made non-blocking and close-on-exec here). tls NULL means
 * plain. On success the connection owns fd; on failure (NULL) the caller
 * still owns it. ops is borrowed and must outlive the connection. */
pd_conn *pd_conn_new(pd_loop *l, int fd, pd_tls *tls, unsigned flags, const pd_conn_ops *ops,
		     void *arg, size_t max_frame);

/* Output buffer for encoding frames (see codec.h). */
pd_buf *pd_conn_out(pd_conn *c);
/* Sends what is in the output buffer at the end of this loop iteration. */
void pd_conn_flush(pd_conn *c);
/* Bytes waiting to be written. */
size_t pd_conn_backlog(const pd_conn *c);
/* While more than cap bytes wait to be written, nothing more is read from
 * the peer (it is read again once it takes its output): a peer that sends
 * requests and never reads the answers cannot make the output grow
 * without bound. 0 (the default): no cap. Output the owner queues by
 * itself is not refused. */
void pd_conn_out_cap(pd_conn *c, size_t cap);
/* Loop time (pd_loop_now) of the last write that moved output to the peer
 * while more than the cap waited, 0 if none. Over the cap the peer's own
 * frames are not read, so this is the sign that it is alive (it takes its
 * output); a peer that reads nothing makes no progress once the kernel's
 * buffers are full. Writes under the cap do not count: a stopped peer's
 * socket still takes a few small frames. */
uint64_t pd_conn_last_progress(const pd_conn *c);
/* Why c ended before it was ready, as a code (for decisions; the on_close
 * text is for people): the transport's handshake result, -EPROTO when the
 * TLS handshake was refused by either side (with PSK: most likely a wrong
 * secret), -ECONNRESET when the link broke off during it; a non-blocking
 * connect's -errno (-ECONNREFUSED, ...). 0 when c ended any other way
 * (closed by either side, a deadline, a frame error, a read or write
 * error once ready). Valid until on_close returns. */
int pd_conn_error(const pd_conn *c);
/* Closes after a best-effort write of pending output; why is copied. */
void pd_conn_close(pd_conn *c, const char *why);
/* Closes c unless it is ready within ms (0 cancels the deadline); the
 * reason given is "timed out: <what>" (what is borrowed). */
void pd_conn_deadline(pd_conn *c, uint64_t ms, const char *what);
int pd_conn_is_ready(const pd_conn *c);
void pd_conn_set_arg(pd_conn *c, void *arg);
/* "ADDR:PORT", "unix" or similar, for log lines. */
const char *pd_conn_peer(const pd_conn *c);
void pd_conn_set_peer(pd_conn *c, const char *peer);

/* ---- TLS credentials (tls.c) ---- */

/* Creates PSK credentials for the server or client role: TLS 1.3 only,
 * (EC)DHE-PSK, identity `identity`, key the raw bytes key[0, keylen).
 * 0 or -EINVAL/-ENOMEM with err set. */
int pd_tls_new_psk(int server, const char *identity, const uint8_t *key, size_t keylen,
		   pd_tls **out, char *err, size_t errlen);
void pd_tls_free(pd_tls *t);
/* Global GnuTLS set-up; call once at start-up. 0 or -EIO. */
int pd_tls_global_init(void);

#endif
