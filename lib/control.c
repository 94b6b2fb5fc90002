/* control.c - the control socket over nanomsg REQ/REP; see control.h.
 *
 * nanomsg's NN_RCVFD is an event descriptor that nanomsg keeps readable
 * while at least one whole request waits, and clears when the last one is
 * taken; it must never be read by us. So a level-triggered watch plus
 * nn_recv(NN_DONTWAIT) until EAGAIN serves every request, and stopping
 * after a batch is safe: the descriptor stays readable and the loop
 * comes back.
 *
 * A REP socket answers requests in turn: the reply to one must be sent
 * before the next nn_recv, or nanomsg forgets who asked. The handler is
 * synchronous, so each request is received, answered and replied to
 * before the next. Replies go out with NN_DONTWAIT; nanomsg drops a reply
 * to a peer that is gone or not reading instead of blocking the loop. */
#include "control.h"

#include <errno.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

#define BATCH 64                   /* requests served per wake-up */
#define KEEP_REPLY_BUF (1u << 20) /* larger reply buffers are freed after use */

struct pd_control {
	pd_loop *loop;
	int sock; /* nanomsg REP socket */
	int fd;   /* its NN_RCVFD */
	pd_control_fn fn;
	void *arg;
	int in_handler;
	int closing;
	pd_buf reply;
	pd_ratelimit rl;
	dev_t dev; /* the socket file we bound, so that close removes */
	ino_t ino; /* only that one */
	char path[PD_CONTROL_MAX_PATH + 1];
};

/* The last nanomsg error as -errno; nanomsg's own codes (ETERM, EFSM) lie
 * outside the system's range and become -EPROTO. */
static int nn_rv(int e)
{
	return e > 0 && e < 4096 ? -e : -EPROTO;
}

static int check_url(const char *url, const char **path, char *err, size_t errlen)
{
	size_t n;

	if (!url || strncmp(url, "ipc://", 6) != 0) {
		pd_seterr(err, errlen, "control socket: only ipc:// URLs are accepted, not '%s'",
		       url ? url : "(null)");
		return -EINVAL;
	}
	*path = url + 6;
	n = strlen(*path);
	if (n == 0) {
		pd_seterr(err, errlen, "control socket: '%s' has no path", url);
		return -EINVAL;
	}
	if (n > PD_CONTROL_MAX_PATH) {
		pd_seterr(err, errlen,
		       "control socket: path %s is %zu bytes, over the %d-byte limit of Unix "
		       "sockets (choose a shorter PARADE_HOME)",
		       *path, n, PD_CONTROL_MAX_PATH);
		return -ENAMETOOLONG;
	}
	return 0;
}

static void nn_close_retry(int s)
{
	while (nn_close(s) < 0 && nn_errno() == EINTR)
		;
}

static void finish_close(pd_control *c)
{
	struct stat st;

	pd_loop_del(c->loop, c->fd);
	nn_close_retry(c->sock);
	/* nanomsg usually removes the file itself; never remove a newer one */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	pd_buf_free(&c->reply);
	free(c);
}

/* Receives, answers and replies to one request: 1 if one was served, 0
 * when none waits, -1 on a socket error. */
static int serve_one(pd_control *c)
{
	const void *out;
	void *msg = NULL;
	char *req;
	int n, e;

	n = nn_recv(c->sock, &msg, NN_MSG, NN_DONTWAIT);
	if (n < 0) {
		e = nn_errno();
		if (e == EAGAIN)
			return 0;
		if (e == EINTR)
			return 1;
		if (pd_ratelimit_ok(&c->rl, 5))
			pd_warn("control socket: receive failed: %s", nn_strerror(e));
		return -1;
	}
	/* R's nanonext sends a string with its C terminator */
	if (n > 0 && ((const char *)msg)[n - 1] == '\0')
		n--;
	pd_buf_reset(&c->reply);
	/* a copy for the NUL the handler is promised: nn_reallocmsg (1.1.5)
	 * loses the data when it grows a message into its headroom */
	req = malloc((size_t)n + 1);
	if (req) {
		memcpy(req, msg, (size_t)n);
		req[n] = '\0';
		nn_freemsg(msg);
		c->in_handler = 1;
		c->fn(c->arg, req, (size_t)n, &c->reply);
		c->in_handler = 0;
		free(req);
	} else {
		nn_freemsg(msg);
		if (pd_ratelimit_ok(&c->rl, 5))
			pd_warn("control socket: out of memory for a %d-byte request; empty reply",
				n);
	}
	out = c->reply.len ? (const void *)c->reply.data : "";
	if (nn_send(c->sock, out, c->reply.len, NN_DONTWAIT) < 0) {
		e = nn_errno();
		if (pd_ratelimit_ok(&c->rl, 5))
			pd_warn("control socket: reply not sent: %s", nn_strerror(e));
	}
	if (c->reply.cap > KEEP_REPLY_BUF)
		pd_buf_free(&c->reply);
	return 1;
}

static void on_readable(pd_loop *l, int fd, uint32_t events, void *arg)
{
	pd_control *c = arg;
	int i;

	(void)l;
	(void)fd;
	(void)events;
	for (i = 0; i < BATCH && !c->closing; i++)
		if (serve_one(c) <= 0)
			break;
	if (c->closing)
		finish_close(c);
}

int pd_control_listen(pd_loop *l, const char *url, pd_control_fn fn, void *arg,
		      pd_control **out, char *err, size_t errlen)
{
	/* the limit covers the REQ peer's 4-byte request id as well */
	int maxsz = PD_CONTROL_MAX_REQUEST + 64, bound = 0, rv, e;
	pd_control *c = NULL;
	const char *path;
	struct stat st;
	size_t sz;

	*out = NULL;
	rv = check_url(url, &path, err, errlen);
	if (rv < 0)
		return rv;
	/* nanomsg removes whatever refuses a connection at the path, a
	 * regular file or another user's socket included: clear the path
	 * first, so that nanomsg finds nothing there to remove */
	{
		char why[600];
		rv = pd_net_ipc_clear(path, why, sizeof(why));
		if (rv == -EADDRINUSE)
			pd_seterr(err, errlen, "control socket %s is in use by another process",
				  path);
		else if (rv < 0)
			pd_seterr(err, errlen, "control socket: %s", why);
		if (rv < 0)
			return rv;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pd_seterr(err, errlen, "control socket: out of memory");
		return -ENOMEM;
	}
	c->loop = l;
	c->fn = fn;
	c->arg = arg;
	c->fd = -1;
	memcpy(c->path, path, strlen(path) + 1);
	c->sock = nn_socket(AF_SP, NN_REP);
	if (c->sock < 0) {
		e = nn_errno();
		rv = nn_rv(e);
		pd_seterr(err, errlen, "control socket: %s", nn_strerror(e));
		goto out;
	}
	if (nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0 ||
	    nn_bind(c->sock, url) < 0) {
		e = nn_errno();
		rv = nn_rv(e);
		if (e == EADDRINUSE)
			pd_seterr(err, errlen, "control socket %s is in use by another process", path);
		else
			pd_seterr(err, errlen, "control socket: cannot bind %s: %s", url,
			       nn_strerror(e));
		goto out;
	}
	bound = 1;
	if (lstat(path, &st) < 0 || chmod(path, 0600) < 0) {
		rv = -errno;
		pd_seterr(err, errlen, "control socket: %s: %s", path, strerror(errno));
		goto out;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	sz = sizeof(c->fd);
	if (nn_getsockopt(c->sock, NN_SOL_SOCKET, NN_RCVFD, &c->fd, &sz) < 0) {
		e = nn_errno();
		rv = nn_rv(e);
		pd_seterr(err, errlen, "control socket: no receive descriptor: %s", nn_strerror(e));
		goto out;
	}
	rv = pd_loop_add(l, c->fd, PD_EV_IN, on_readable, c);
	if (rv < 0) {
		pd_seterr(err, errlen, "control socket: cannot watch it: %s", strerror(-rv));
		goto out;
	}
	*out = c;
	return 0;
out:
	if (c->sock >= 0)
		nn_close_retry(c->sock);
	if (bound && lstat(path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(path);
	free(c);
	return rv;
}

void pd_control_close(pd_control *c)
{
	if (!c)
		return;
	if (c->in_handler) {
		c->closing = 1;
		return;
	}
	finish_close(c);
}

/* Milliseconds left until deadline_us, at least 0. */
static int left_ms(uint64_t deadline_us)
{
	uint64_t now = pd_now_us();

	if (now >= deadline_us)
		return 0;
	return (int)((deadline_us - now + 999) / 1000);
}

int pd_control_request(const char *url, const char *req, size_t len, int timeout_ms,
		       char **reply, size_t *rlen, char *err, size_t errlen)
{
	int s = -1, rv, n, opt, left, e = 0;
	uint64_t deadline;
	const char *path;
	void *msg = NULL;
	struct stat st;

	*reply = NULL;
	*rlen = 0;
	rv = check_url(url, &path, err, errlen);
	if (rv < 0)
		return rv;
	if (timeout_ms <= 0 || len > INT_MAX) {
		pd_seterr(err, errlen, "control request: %s",
		       timeout_ms <= 0 ? "the timeout must be positive" : "request too large");
		return timeout_ms <= 0 ? -EINVAL : -EMSGSIZE;
	}
	deadline = pd_now_us() + (uint64_t)timeout_ms * 1000u;
	s = nn_socket(AF_SP, NN_REQ);
	if (s < 0)
		goto nnfail;
	opt = -1; /* the reply is as large as the server makes it */
	if (nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &opt, sizeof(opt)) < 0)
		goto nnfail;
	opt = INT_MAX;
	if (nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &opt, sizeof(opt)) < 0)
		goto nnfail;
	if (nn_connect(s, url) < 0)
		goto nnfail;
	for (;;) {
		left = left_ms(deadline);
		if (left == 0)
			goto timeout;
		if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &left, sizeof(left)) < 0)
			goto nnfail;
		if (nn_send(s, req ? req : "", len, 0) >= 0)
			break;
		e = nn_errno();
		if (e == ETIMEDOUT || e == EAGAIN)
			goto timeout;
		if (e != EINTR)
			goto nnfail;
	}
	for (;;) {
		left = left_ms(deadline);
		if (left == 0)
			goto timeout;
		if (nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &left, sizeof(left)) < 0)
			goto nnfail;
		n = nn_recv(s, &msg, NN_MSG, 0);
		if (n >= 0)
			break;
		e = nn_errno();
		if (e == ETIMEDOUT || e == EAGAIN)
			goto timeout;
		if (e != EINTR)
			goto nnfail;
	}
	*reply = malloc((size_t)n + 1);
	if (!*reply) {
		rv = -ENOMEM;
		pd_seterr(err, errlen, "control request: out of memory for a %d-byte reply", n);
		goto out;
	}
	memcpy(*reply, msg, (size_t)n);
	(*reply)[n] = '\0';
	*rlen = (size_t)n;
	rv = 0;
	goto out;
nnfail:
	e = nn_errno();
	rv = nn_rv(e);
	pd_seterr(err, errlen, "control request to %s: %s", url, nn_strerror(e));
	goto out;
timeout:
	rv = -ETIMEDOUT;
	if (lstat(path, &st) < 0)
		pd_seterr(err, errlen,
		       "no reply from %s within %d ms: there is no socket (is the session "
		       "running?)",
		       url, timeout_ms);
	else
		pd_seterr(err, errlen, "no reply from %s within %d ms (is the controller alive?)",
		       url, timeout_ms);
out:
	if (msg)
		nn_freemsg(msg);
	if (s >= 0)
		nn_close_retry(s);
	return rv;
}
