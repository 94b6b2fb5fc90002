#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "transport.h"

/* bytes read from one connection per loop iteration before others get a turn */
#define CONN_READ_BUDGET (256u * 1024u)
#define CONN_READ_CHUNK (64u * 1024u)
/* an output buffer this big is given back once it is written out */
#define CONN_OUT_KEEP (256u * 1024u)

struct pd_conn {
	pd_loop *loop;
	int fd;
	pd_transport *tr;
	const pd_conn_ops *ops;
	void *arg;
	size_t max_frame;
	size_t out_cap; /* 0: none; see pd_conn_out_cap */
	uint64_t progress_ms; /* see pd_conn_last_progress */
	int error;            /* see pd_conn_error */
	pd_buf in, out;
	pd_timer *deadline;
	const char *deadline_what;
	char peer[64];
	char why[256];
	uint32_t events;
	unsigned connecting : 1, handshaking : 1, ready : 1, closing : 1, flush_queued : 1,
		in_frame : 1, paused : 1;
};

/* ---- the plain transport ---- */

static ssize_t plain_read(pd_transport *t, void *buf, size_t n)
{
	ssize_t r = read(t->fd, buf, n);

	if (r < 0)
		return (errno == EAGAIN || errno == EINTR) ? -EAGAIN : -errno;
	return r;
}

static ssize_t plain_write(pd_transport *t, const void *buf, size_t n)
{
	ssize_t r = send(t->fd, buf, n, MSG_NOSIGNAL);

	if (r < 0)
		return (errno == EAGAIN || errno == EINTR) ? -EAGAIN : -errno;
	return r;
}

static int plain_handshake(pd_transport *t, char *err, size_t errlen)
{
	(void)t;
	(void)err;
	(void)errlen;
	return 0;
}

static int plain_has_pending(pd_transport *t)
{
	(void)t;
	return 0;
}

static uint32_t plain_want(pd_transport *t)
{
	(void)t;
	return PD_EV_IN;
}

static void plain_free(pd_transport *t)
{
	free(t);
}

static const pd_transport_ops plain_ops = {plain_read,	    plain_write, plain_handshake,
					   plain_has_pending, plain_want,  plain_free};

/* ---- the connection ---- */

static void conn_io(pd_loop *l, int fd, uint32_t ev, void *arg);

static void conn_finish(pd_loop *l, void *arg)
{
	pd_conn *c = arg;

	(void)l;
	if (c->ops->on_close)
		c->ops->on_close(c, c->why, c->arg);
	pd_timer_free(c->deadline);
	c->tr->ops->free(c->tr);
	close(c->fd);
	pd_buf_free(&c->in);
	pd_buf_free(&c->out);
	free(c);
}

static void conn_fail(pd_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void conn_fail(pd_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->closing = 1;
	pd_timer_stop(c->deadline);
	pd_loop_del(c->loop, c->fd);
	if (pd_loop_defer(c->loop, conn_finish, c) < 0)
		conn_finish(c->loop, c); /* out of memory: finish now */
}

static void set_events(pd_conn *c, uint32_t ev)
{
	if (c->closing || ev == c->events)
		return;
	if (pd_loop_mod(c->loop, c->fd, ev) == 0)
		c->events = ev;
}

static int over_cap(const pd_conn *c)
{
	return c->out_cap && pd_buf_size(&c->out) > c->out_cap;
}

/* Writes as much output as the transport takes now. */
static void conn_write(pd_conn *c)
{
	while (pd_buf_size(&c->out) > 0) {
		ssize_t w = c->tr->ops->write(c->tr, pd_buf_head(&c->out), pd_buf_size(&c->out));
		if (w == -EAGAIN) {
			set_events(c, (over_cap(c) ? 0 : PD_EV_IN) | PD_EV_OUT);
			return;
		}
		if (w < 0) {
			conn_fail(c, "write failed: %s", strerror((int)-w));
			return;
		}
		/* over the cap nothing is read from the peer (paused by
		 * conn_read, or EPOLLIN dropped on EAGAIN): what it takes is
		 * all there is to hear from it */
		if (w > 0 && (c->paused || over_cap(c)))
			c->progress_ms = pd_loop_now(c->loop);
		pd_buf_consume(&c->out, (size_t)w);
		if (c->paused && !over_cap(c)) {
			/* the peer reads again: so do we (TLS may hold records
			 * that epoll will not announce) */
			c->paused = 0;
			pd_loop_set_pending(c->loop, c->fd, 1);
		}
	}
	/* a burst is over: give its memory back */
	if (c->out.cap > CONN_OUT_KEEP)
		pd_buf_free(&c->out);
	set_events(c, PD_EV_IN);
}

static void conn_flush_cb(pd_loop *l, void *arg)
{
	pd_conn *c = arg;

	(void)l;
	c->flush_queued = 0;
	if (c->closing)
		return;
	if (c->ready)
		conn_write(c);
}

static void conn_deadline_cb(pd_loop *l, void *arg)
{
	pd_conn *c = arg;

	(void)l;
	conn_fail(c, "timed out: %s", c->deadline_what ? c->deadline_what : "deadline");
}

static void conn_become_ready(pd_conn *c)
{
	c->handshaking = 0;
	c->ready = 1;
	if (c->ops->on_ready)
		c->ops->on_ready(c, c->arg);
	if (!c->closing && pd_buf_size(&c->out))
		pd_conn_flush(c);
}

static void conn_handshake(pd_conn *c)
{
	char err[200] = "";
	int rv = c->tr->ops->handshake(c->tr, err, sizeof(err));

	if (rv == -EAGAIN) {
		set_events(c, c->tr->ops->want(c->tr));
		return;
	}
	if (rv < 0) {
		if (!c->closing)
			c->error = rv;
		conn_fail(c, "%s", err[0] ? err : "handshake failed");
		return;
	}
	set_events(c, PD_EV_IN);
	conn_become_ready(c);
}

/* Cuts and delivers every complete frame in the input buffer. */
static void conn_frames(pd_conn *c)
{
	while (!c->closing) {
		uint8_t type;
		const uint8_t *p;
		size_t plen, used;
		int rv = pd_frame_parse(pd_buf_head(&c->in), pd_buf_size(&c->in), c->max_frame, &type,
					&p, &plen, &used);
		if (rv == -EAGAIN)
			break;
		if (rv == -EMSGSIZE) {
			const uint8_t *h = pd_buf_head(&c->in);
			unsigned long len = ((unsigned long)h[0] << 24) | ((unsigned long)h[1] << 16) |
					    ((unsigned long)h[2] << 8) | h[3];
			conn_fail(c, "protocol error: frame of %lu bytes over the %zu-byte limit", len,
				  c->max_frame);
			return;
		}
		if (rv < 0) {
			conn_fail(c, "protocol error: malformed frame header");
			return;
		}
		c->in_frame = 1;
		c->ops->on_frame(c, type, p, plen, c->arg);
		c->in_frame = 0;
		pd_buf_consume(&c->in, used);
	}
}

static void conn_read(pd_conn *c)
{
	size_t budget = CONN_READ_BUDGET;

	while (!c->closing && budget > 0) {
		ssize_t r;

		if (over_cap(c)) {
			/* a peer that does not read its answers gets no more
			 * read: it cannot grow our output without bound */
			c->paused = 1;
			set_events(c, PD_EV_OUT);
			pd_loop_set_pending(c->loop, c->fd, 0);
			return;
		}

		if (pd_buf_reserve(&c->in, CONN_READ_CHUNK) < 0) {
			conn_fail(c, "out of memory");
			return;
		}
		r = c->tr->ops->read(c->tr, c->in.data + c->in.len, CONN_READ_CHUNK);
		if (r == -EAGAIN)
			break;
		if (r == 0) {
			conn_frames(c);
			conn_fail(c, "peer closed the connection");
			return;
		}
		if (r < 0) {
			conn_fail(c, "read failed: %s", strerror((int)-r));
			return;
		}
		c->in.len += (size_t)r;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		conn_frames(c);
		/* a short read drained the socket: the (level-triggered) loop
		 * calls again when more comes, so skip the read that would only
		 * say EAGAIN */
		if ((size_t)r < CONN_READ_CHUNK && !c->closing && !c->tr->ops->has_pending(c->tr))
			break;
	}
	if (c->closing)
		return;
	/* an idle connection keeps no input buffer */
	if (!pd_buf_size(&c->in))
		pd_buf_free(&c->in);
	pd_loop_set_pending(c->loop, c->fd, budget == 0 || c->tr->ops->has_pending(c->tr));
}

static void conn_io(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	pd_conn *c = arg;

	(void)l;
	(void)fd;
	if (c->closing)
		return;
	if (c->connecting) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (!(ev & (PD_EV_OUT | PD_EV_ERR)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			c->error = -soerr;
			conn_fail(c, "cannot connect: %s", strerror(soerr));
			return;
		}
		c->connecting = 0;
		c->handshaking = 1;
	}
	if (c->handshaking) {
		conn_handshake(c);
		if (c->closing)
			return;
		/* TLS may already hold application data that came with the
		 * handshake; conn_read keeps the pending mark while it does */
		if (c->ready)
			conn_read(c);
		else
			/* the kick from pd_conn_new is spent: from here on only
			 * epoll wakes a handshake that waits for its peer (kept
			 * pending, one idle socket would spin the loop) */
			pd_loop_set_pending(c->loop, c->fd, 0);
		return;
	}
	/* paused, an error or hang-up is found by the write */
	if ((ev & PD_EV_OUT) || ((ev & PD_EV_ERR) && c->paused))
		conn_write(c);
	if ((ev & (PD_EV_IN | PD_EV_ERR)) && !c->closing)
		conn_read(c);
}

pd_conn *pd_conn_new(pd_loop *l, int fd, pd_tls *tls, unsigned flags, const pd_conn_ops *ops,
		     void *arg, size_t max_frame)
{
	pd_conn *c = calloc(1, sizeof(*c));
	char err[200];
	int fl;

	if (!c)
		return NULL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	c->loop = l;
	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	c->max_frame = max_frame ? max_frame : PD_MAX_FRAME_DEFAULT;
	snprintf(c->peer, sizeof(c->peer), "fd %d", fd);
	if (tls) {
		c->tr = pd_tls_transport(tls, fd, (flags & PD_CONN_SERVER) != 0, err, sizeof(err));
	} else {
		c->tr = calloc(1, sizeof(*c->tr));
		if (c->tr) {
			c->tr->ops = &plain_ops;
			c->tr->fd = fd;
		}
	}
	if (!c->tr)
		goto fail;
	c->deadline = pd_timer_new(l, conn_deadline_cb, c);
	if (!c->deadline)
		goto fail_tr;
	c->connecting = (flags & PD_CONN_CONNECTING) != 0;
	c->handshaking = !c->connecting;
	c->events = c->connecting ? PD_EV_OUT : PD_EV_IN;
	if (pd_loop_add(l, fd, c->events, conn_io, c) < 0)
		goto fail_timer;
	/* kick the handshake (a client TLS side speaks first) from the loop */
	if (!c->connecting)
		pd_loop_set_pending(l, fd, 1);
	return c;
fail_timer:
	pd_timer_free(c->deadline);
fail_tr:
	c->tr->ops->free(c->tr);
fail:
	free(c);
	return NULL;
}

pd_buf *pd_conn_out(pd_conn *c)
{
	return &c->out;
}

void pd_conn_flush(pd_conn *c)
{
	if (c->closing || c->flush_queued || !pd_buf_size(&c->out))
		return;
	if (pd_loop_defer(c->loop, conn_flush_cb, c) == 0)
		c->flush_queued = 1;
	else if (c->ready)
		conn_write(c);
}

void pd_conn_out_cap(pd_conn *c, size_t cap)
{
	c->out_cap = cap;
}

int pd_conn_error(const pd_conn *c)
{
	return c->error;
}

uint64_t pd_conn_last_progress(const pd_conn *c)
{
	return c->progress_ms;
}

size_t pd_conn_backlog(const pd_conn *c)
{
	return pd_buf_size(&c->out);
}

void pd_conn_close(pd_conn *c, const char *why)
{
	if (c->closing)
		return;
	if (c->ready && pd_buf_size(&c->out)) {
		/* best effort: a REJECT or BYE should reach the peer */
		for (int i = 0; i < 8 && pd_buf_size(&c->out); i++) {
			ssize_t w = c->tr->ops->write(c->tr, pd_buf_head(&c->out),
						      pd_buf_size(&c->out));
			if (w <= 0)
				break;
			pd_buf_consume(&c->out, (size_t)w);
		}
	}
	conn_fail(c, "%s", why ? why : "closed");
}

void pd_conn_deadline(pd_conn *c, uint64_t ms, const char *what)
{
	if (ms == 0) {
		pd_timer_stop(c->deadline);
		return;
	}
	c->deadline_what = what;
	pd_timer_start(c->deadline, ms);
}

int pd_conn_is_ready(const pd_conn *c)
{
	return c->ready && !c->closing;
}

void pd_conn_set_arg(pd_conn *c, void *arg)
{
	c->arg = arg;
}

const char *pd_conn_peer(const pd_conn *c)
{
	return c->peer;
}

void pd_conn_set_peer(pd_conn *c, const char *peer)
{
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
}
