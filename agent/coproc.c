#include "coproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "handler.h"
#include "log.h"
#include "spawn.h"

#define COP_READ_CHUNK 65536u
#define COP_READS_PER_CB 8
#define COP_DEFAULT_LIMIT (1u << 20)

typedef struct cop {
	pd_coproc *pool;
	unsigned idx;
	pid_t pid;	/* 0: not running */
	int in_fd;	/* our end of its stdin, -1 when not running */
	int out_fd;	/* our end of its stdout */
	int want_out;	/* in_fd is watched for writability */
	pd_buf wbuf;	/* the part of the line not written yet */
	pd_buf line;	/* the answer so far */
	int busy;
	int skipping;	/* the answer is over the limit: drop bytes up to "\n" */
	int cancelled;	/* its task was cancelled: killed, reported failed */
	uint64_t id;
	uint32_t attempt, timeout_ms, limit;
	uint8_t flags;
	uint64_t start_us;
	pd_timer *timer;
} cop;

struct pd_coproc {
	pd_loop *loop;
	char *command;
	pd_coproc_done_cb cb;
	void *arg;
	uint32_t n;
	cop *cops;
};

static void result_init(pd_result_msg *r, uint64_t id, uint32_t attempt)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->attempt = attempt;
	r->exit_code = -1;
	r->out = r->err = r->error = "";
}

/* ---- starting and ending a coprocess ---- */

static void on_out(pd_loop *l, int fd, uint32_t ev, void *arg);

static int nb_pipe(int fds[2], int nb_end)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/* only our end: the coprocess sees ordinary blocking pipes */
	if (fcntl(fds[nb_end], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	return 0;
}

static int cop_start(cop *k)
{
	pd_coproc *c = k->pool;
	char *argv[] = {"sh", "-c", c->command, NULL};
	pd_spawn_opts o;
	int in[2], out[2], rv;
	pid_t pid;

	if ((rv = nb_pipe(in, 1)) < 0)
		return rv;
	if ((rv = nb_pipe(out, 0)) < 0) {
		close(in[0]);
		close(in[1]);
		return rv;
	}
	/* stderr stays the agent's (its log); a failed exec exits 127 and
	 * is seen as the end of its stdout, like any death */
	pd_spawn_init(&o, argv);
	o.path = "/bin/sh";
	o.fd[0] = in[0];
	o.fd[1] = out[1];
	o.group = PD_SPAWN_GROUP;
	o.death_signal = SIGKILL;
	rv = pd_spawn(&o, &pid, NULL);
	close(in[0]);
	close(out[1]);
	if (rv < 0) {
		close(in[1]);
		close(out[0]);
		return rv;
	}
	k->pid = pid;
	k->in_fd = in[1];
	k->out_fd = out[0];
	k->want_out = 0;
	rv = pd_loop_add(c->loop, k->out_fd, PD_EV_IN, on_out, k);
	if (rv < 0) {
		pd_err("coprocess %u: cannot watch its stdout: %s", k->idx, strerror(-rv));
		pd_kill_group(pid, SIGKILL);
		pd_reap(pid, NULL, NULL, 0);
		close(k->in_fd);
		close(k->out_fd);
		k->pid = 0;
		k->in_fd = k->out_fd = -1;
		return rv;
	}
	pd_debug("coprocess %u started: pid %d", k->idx, (int)pid);
	return 0;
}

/* Kills its group, closes the pipes and reaps; *status gets the wait
 * status, or -1 when it could not be had. */
static void cop_end(cop *k, int *status)
{
	pd_loop *l = k->pool->loop;
	int st = -1;
	pid_t w;

	if (k->out_fd >= 0) {
		pd_loop_del(l, k->out_fd);
		close(k->out_fd);
	}
	if (k->in_fd >= 0) {
		if (k->want_out)
			pd_loop_del(l, k->in_fd);
		close(k->in_fd);
	}
	k->in_fd = k->out_fd = -1;
	k->want_out = 0;
	if (k->pid > 0) {
		pd_kill_group(k->pid, SIGKILL);
		w = pd_reap(k->pid, &st, NULL, 0);
		if (w != k->pid)
			st = -1;
	}
	k->pid = 0;
	pd_buf_reset(&k->wbuf);
	if (status)
		*status = st;
}

/* ---- results ---- */

static void finish(cop *k, pd_result_msg *r)
{
	pd_coproc *c = k->pool;

	pd_timer_stop(k->timer);
	r->wall_us = pd_now_us() - k->start_us;
	r->flags |= k->flags;
	k->busy = 0;
	c->cb(r, c->arg);
	pd_buf_reset(&k->line);
}

static void answer(cop *k)
{
	pd_result_msg r;
	size_t n = pd_buf_size(&k->line);

	result_init(&r, k->id, k->attempt);
	if (memchr(pd_buf_head(&k->line), '\0', n)) {
		r.status = PD_ST_FAILED;
		r.error = "coprocess answer holds a NUL byte";
	} else {
		r.status = PD_ST_OK;
		r.exit_code = 0;
		r.out = n ? (char *)pd_buf_head(&k->line) : "";
		r.out_len = (uint32_t)n;
	}
	finish(k, &r);
}

/* The coprocess is gone (EOF, broken pipe) or must go (timeout). */
static void cop_died(cop *k, int timed_out)
{
	pd_result_msg r;
	char error[160];
	int st;

	cop_end(k, &st);
	if (!k->busy) {
		pd_warn("coprocess %u ended between tasks (status %d); starting it again for "
			"the next task", k->idx, st);
		return;
	}
	result_init(&r, k->id, k->attempt);
	if (st >= 0 && WIFEXITED(st))
		r.exit_code = WEXITSTATUS(st);
	else if (st >= 0 && WIFSIGNALED(st))
		r.signal = WTERMSIG(st);
	if (k->cancelled) {
		r.status = PD_ST_FAILED;
		snprintf(error, sizeof(error), "cancelled");
	} else if (timed_out) {
		r.status = PD_ST_TIMEOUT;
		snprintf(error, sizeof(error), "timed out after %.3g s (coprocess killed)",
			 k->timeout_ms / 1000.0);
	} else {
		r.status = PD_ST_LOST;
		if (r.signal)
			snprintf(error, sizeof(error), "coprocess died (signal %d)",
				 r.signal);
		else
			snprintf(error, sizeof(error), "coprocess died (exit %d)",
				 r.exit_code);
	}
	r.error = error;
	pd_buf_reset(&k->line);
	finish(k, &r);
}

/* ---- I/O ---- */

/* Takes bytes of the answer; returns 1 when its line is complete. */
static int take(cop *k, const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);
	size_t len = nl ? (size_t)(nl - p) + 1 : n, have = pd_buf_size(&k->line);

	if (!k->skipping) {
		size_t room = k->limit > have ? k->limit - have : 0;
		size_t keep = len < room ? len : room;
		if (keep && pd_buf_append(&k->line, p, keep) < 0)
			keep = 0;
		if (keep < len) {
			k->flags |= PD_RF_OUT_TRUNC;
			k->skipping = 1;
		}
	}
	/* bytes after the answer's newline are dropped with the rest */
	return nl != NULL;
}

static void on_out(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	cop *k = arg;
	char buf[COP_READ_CHUNK];

	(void)l;
	(void)ev;
	for (int i = 0; i < COP_READS_PER_CB; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			cop_died(k, 0);
			return;
		}
		if (!k->busy) {
			pd_debug("coprocess %u: %zd byte(s) while no task waits: dropped", k->idx, n);
			continue;
		}
		if (take(k, buf, (size_t)n)) {
			answer(k);
			return;
		}
	}
}

/* Writes what is left of the line; 0, or -1 when the pipe broke. */
static int flush_line(cop *k);

static void on_in(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	cop *k = arg;

	(void)l;
	(void)fd;
	(void)ev;
	if (flush_line(k) < 0)
		pd_kill_group(k->pid, SIGKILL); /* its stdout's EOF ends it */
}

static int flush_line(cop *k)
{
	pd_loop *l = k->pool->loop;

	while (pd_buf_size(&k->wbuf)) {
		ssize_t n = write(k->in_fd, pd_buf_head(&k->wbuf), pd_buf_size(&k->wbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!k->want_out && pd_loop_add(l, k->in_fd, PD_EV_OUT, on_in, k) == 0)
				k->want_out = 1;
			return 0;
		}
		if (n < 0)
			return -1;
		pd_buf_consume(&k->wbuf, (size_t)n);
	}
	if (k->want_out) {
		pd_loop_del(l, k->in_fd);
		k->want_out = 0;
	}
	return 0;
}

static void on_timeout(pd_loop *l, void *arg)
{
	(void)l;
	cop_died(arg, 1);
}

/* ---- the pool ---- */

static void fail_now(pd_coproc *c, const pd_task_msg *t, const char *why)
{
	pd_result_msg r;

	result_init(&r, t->id, t->attempt);
	r.status = PD_ST_FAILED;
	r.error = (char *)why;
	c->cb(&r, c->arg);
}

int pd_coproc_run(pd_coproc *c, const pd_task_msg *t)
{
	cop *k = NULL;
	size_t len;
	int rv;

	if (t->kind != PD_TASK_COPROC || t->argc != 1 || !t->argv || !t->argv[0]) {
		fail_now(c, t, "a coproc task is exactly one line (one word)");
		return 0;
	}
	len = strlen(t->argv[0]);
	/* a reader that ends lines at CR too (R's readLines) would split
	 * the row into two requests and shift every later answer by a row */
	if (memchr(t->argv[0], '\n', len)) {
		fail_now(c, t, "the task line holds a newline (use --coproc-format json)");
		return 0;
	}
	if (memchr(t->argv[0], '\r', len)) {
		fail_now(c, t,
			 "the task line holds a carriage return (\\r), which readers such as R's "
			 "readLines take as a line end (use --coproc-format json)");
		return 0;
	}
	/* a free one that runs, else a free one to start */
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->cops[i].busy)
			continue;
		if (!k || (k->pid <= 0 && c->cops[i].pid > 0))
			k = &c->cops[i];
	}
	if (!k)
		return -EBUSY;
	if (k->pid <= 0 && (rv = cop_start(k)) < 0)
		return rv;
	pd_buf_reset(&k->line);
	pd_buf_reset(&k->wbuf);
	if (pd_buf_append(&k->wbuf, t->argv[0], len) < 0 || pd_buf_append(&k->wbuf, "\n", 1) < 0)
		return -ENOMEM;
	k->busy = 1;
	k->skipping = 0;
	k->cancelled = 0;
	k->flags = 0;
	k->id = t->id;
	k->attempt = t->attempt;
	k->timeout_ms = t->timeout_ms;
	k->limit = t->out_limit ? t->out_limit : COP_DEFAULT_LIMIT;
	k->start_us = pd_now_us();
	if (t->timeout_ms)
		pd_timer_start(k->timer, t->timeout_ms);
	if (flush_line(k) < 0)
		pd_kill_group(k->pid, SIGKILL); /* reported when its stdout ends */
	return 0;
}

int pd_coproc_new(pd_loop *l, const char *command, uint32_t slots, pd_coproc_done_cb cb,
		  void *arg, pd_coproc **out)
{
	pd_coproc *c;
	int rv = -ENOMEM;

	*out = NULL;
	if (!l || !command || !*command || !slots || !cb)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->cb = cb;
	c->arg = arg;
	c->n = slots;
	c->command = strdup(command);
	c->cops = calloc(slots, sizeof(*c->cops));
	if (!c->command || !c->cops)
		goto fail;
	for (uint32_t i = 0; i < slots; i++) {
		cop *k = &c->cops[i];
		k->pool = c;
		k->idx = i;
		k->in_fd = k->out_fd = -1;
		if (!(k->timer = pd_timer_new(l, on_timeout, k)))
			goto fail;
	}
	for (uint32_t i = 0; i < slots; i++)
		if ((rv = cop_start(&c->cops[i])) < 0)
			goto fail;
	*out = c;
	return 0;
fail:
	pd_coproc_free(c);
	return rv;
}

void pd_coproc_free(pd_coproc *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->cops && i < c->n; i++) {
		cop *k = &c->cops[i];
		cop_end(k, NULL);
		pd_timer_free(k->timer);
		pd_buf_free(&k->wbuf);
		pd_buf_free(&k->line);
	}
	free(c->cops);
	free(c->command);
	free(c);
}

void pd_coproc_end(pd_coproc *c, const char *why)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		cop *k = &c->cops[i];
		pd_result_msg r;

		if (!k->busy)
			continue;
		cop_end(k, NULL);
		result_init(&r, k->id, k->attempt);
		r.status = PD_ST_LOST;
		r.error = (char *)why;
		finish(k, &r);
	}
	pd_coproc_free(c);
}

size_t pd_coproc_cancel(pd_coproc *c, const pd_idset *ids)
{
	size_t n = 0;

	for (uint32_t i = 0; c && i < c->n; i++) {
		cop *k = &c->cops[i];
		if (k->busy && !k->cancelled && k->pid > 0 && pd_idset_has(ids, k->id)) {
			k->cancelled = 1;
			pd_kill_group(k->pid, SIGKILL); /* reported when its stdout ends */
			n++;
		}
	}
	return n;
}

/* ---- the coproc kind (handler.h): its settings are the COMMAND ---- */

typedef struct cop_kind {
	const pd_handler_env *env;
	pd_coproc *pool; /* NULL: no command */
} cop_kind;

static void handler_done(const pd_result_msg *r, void *arg)
{
	const pd_handler_env *env = arg;

	env->done(env->arg, r);
}

static int handler_open(const pd_handler_env *env, void **state)
{
	cop_kind *ck = calloc(1, sizeof(*ck));

	if (!ck)
		return -ENOMEM;
	ck->env = env;
	*state = ck;
	return 0;
}

static int handler_configure(void *state, const uint8_t *data, size_t len, char *err,
			     size_t errlen)
{
	cop_kind *ck = state;
	const char *cmd = (const char *)data;
	pd_coproc *old = ck->pool, *pool = NULL;
	int rv;

	if (data && (!len || memchr(data, '\0', len))) {
		snprintf(err, errlen, "the coprocess command is %s",
			 len ? "not text (it holds a NUL byte)" : "empty");
		return -EINVAL;
	}
	if (old && cmd && !strcmp(old->command, cmd))
		return 0;
	rv = cmd ? pd_coproc_new(ck->env->loop, cmd, ck->env->slots, handler_done,
				 (void *)ck->env, &pool)
		 : 0;
	if (rv < 0)
		snprintf(err, errlen, "cannot start the coprocess '%s': %s", cmd, strerror(-rv));
	/* the new pool (or none) first: a result of the old one may start the
	 * next task; the old command never runs again */
	ck->pool = pool;
	if (old) {
		if (rv == 0)
			pd_info("coprocess command now %s%s%s", cmd ? "'" : "(none)",
				cmd ? cmd : "", cmd ? "'" : "");
		pd_coproc_end(old, rv < 0 ? "the coprocess command changed while it ran, and the "
					    "new one cannot start"
					  : "the coprocess command changed while it ran");
	}
	return rv;
}

static int handler_start(void *state, const pd_task_msg *t, char *err, size_t errlen)
{
	cop_kind *ck = state;
	int rv;

	if (!ck->pool) {
		snprintf(err, errlen, "this agent has no coprocess (start it with --coproc COMMAND)");
		return -ENOENT;
	}
	rv = pd_coproc_run(ck->pool, t);
	if (rv < 0)
		snprintf(err, errlen, "agent could not start its coprocess");
	return rv;
}

static void handler_cancel(void *state, const pd_idset *ids)
{
	pd_coproc_cancel(((cop_kind *)state)->pool, ids);
}

static void handler_close(void *state)
{
	cop_kind *ck = state;

	if (!ck)
		return;
	pd_coproc_free(ck->pool);
	free(ck);
}

const pd_handler_ops pd_handler_coproc = {
	.name = "coproc",
	.kind = PD_TASK_COPROC,
	.feature = PD_HELLO_COPROC,
	.open = handler_open,
	.configure = handler_configure,
	.start = handler_start,
	.cancel = handler_cancel,
	.close = handler_close,
};
