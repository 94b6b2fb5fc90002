#include "builtin.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handler.h"

struct sleeper {
	pd_timer *timer;
	pd_result_msg r;
	uint64_t start_us;
	pd_builtin_done_cb cb;
	void *arg;
	int cancelled;
	struct sleeper *prev, *next;
};

/* every sleep under way, so that an agent that exits can free them */
static struct sleeper *sleepers;

static void sleeper_free(struct sleeper *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		sleepers = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pd_timer_free(s->timer);
	free(s);
}

static void sleep_done(pd_loop *l, void *arg)
{
	struct sleeper *s = arg;

	(void)l;
	s->r.wall_us = pd_now_us() - s->start_us;
	s->cb(&s->r, s->arg);
	sleeper_free(s);
}

void pd_builtin_stop_all(void)
{
	while (sleepers)
		sleeper_free(sleepers);
}

static void result_init(pd_result_msg *r, const pd_task_msg *t)
{
	memset(r, 0, sizeof(*r));
	r->id = t->id;
	r->attempt = t->attempt;
	r->status = PD_ST_OK;
	r->out = r->err = r->error = "";
}

static int run_echo(const pd_task_msg *t, pd_builtin_done_cb cb, void *arg)
{
	pd_result_msg r;
	pd_buf b = {0};
	int rv;

	result_init(&r, t);
	rv = pd_buf_join(&b, t->argv, t->argc);
	if (rv == 0)
		rv = pd_buf_append(&b, "\n", 1);
	if (rv < 0) {
		pd_buf_free(&b);
		return rv;
	}
	if (t->out_limit && b.len > t->out_limit) {
		b.len = t->out_limit;
		r.flags |= PD_RF_OUT_TRUNC;
	}
	r.out = (char *)b.data;
	r.out_len = (uint32_t)b.len;
	cb(&r, arg);
	pd_buf_free(&b);
	return 0;
}

static int run_sleep(pd_loop *l, const pd_task_msg *t, pd_builtin_done_cb cb, void *arg)
{
	struct sleeper *s;
	double secs = -1;
	char *end = NULL;
	uint64_t ms;

	if (t->argc >= 1)
		secs = strtod(t->argv[0], &end);
	if (t->argc != 1 || !end || *end || !(secs >= 0 && secs <= 86400)) {
		pd_result_msg r;
		result_init(&r, t);
		r.status = PD_ST_FAILED;
		r.exit_code = 2;
		r.error = "sleep: expected one duration in seconds (0 to 86400)";
		cb(&r, arg);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->timer = pd_timer_new(l, sleep_done, s);
	if (!s->timer) {
		free(s);
		return -ENOMEM;
	}
	result_init(&s->r, t);
	s->cb = cb;
	s->arg = arg;
	s->start_us = pd_now_us();
	ms = (uint64_t)llround(secs * 1000.0);
	if (t->timeout_ms && ms > t->timeout_ms) {
		ms = t->timeout_ms;
		s->r.status = PD_ST_TIMEOUT;
		s->r.exit_code = -1;
		s->r.error = "timed out";
	}
	s->next = sleepers;
	if (sleepers)
		sleepers->prev = s;
	sleepers = s;
	pd_timer_start(s->timer, ms);
	return 0;
}

int pd_builtin_run(pd_loop *l, const pd_task_msg *t, pd_builtin_done_cb cb, void *arg)
{
	if (t->kind == PD_TASK_ECHO)
		return run_echo(t, cb, arg);
	return run_sleep(l, t, cb, arg);
}

/* ---- the echo and sleep kinds (handler.h) ---- */

static void handler_done(const pd_result_msg *r, void *arg)
{
	const pd_handler_env *env = arg;

	env->done(env->arg, r);
}

static int handler_open(const pd_handler_env *env, void **state)
{
	*state = (void *)env;
	return 0;
}

static int handler_start(void *state, const pd_task_msg *t, char *err, size_t errlen)
{
	const pd_handler_env *env = state;
	int rv = pd_builtin_run(env->loop, t, handler_done, state);

	if (rv < 0)
		snprintf(err, errlen, "agent out of memory");
	return rv;
}

/* The sleeps under way that ids names end now, failed. */
static void sleep_cancel(void *state, const pd_idset *ids)
{
	(void)state;
	for (struct sleeper *s = sleepers; s; s = s->next) {
		if (s->cancelled || !pd_idset_has(ids, s->r.id))
			continue;
		s->cancelled = 1;
		s->r.status = PD_ST_FAILED;
		s->r.exit_code = -1;
		s->r.error = "cancelled";
		pd_timer_start(s->timer, 0);
	}
}

static void handler_close(void *state)
{
	(void)state;
	pd_builtin_stop_all();
}

const pd_handler_ops pd_handler_echo = {
	.name = "echo",
	.kind = PD_TASK_ECHO,
	.open = handler_open,
	.start = handler_start,
	.close = handler_close,
};

const pd_handler_ops pd_handler_sleep = {
	.name = "sleep",
	.kind = PD_TASK_SLEEP,
	.open = handler_open,
	.start = handler_start,
	.cancel = sleep_cancel,
	.close = handler_close,
};
