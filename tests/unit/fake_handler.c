/* fake_handler.c - a task kind made up for test_handler, the whole of it:
 * test_handler adds it to the agent with one line (pd_handler_register).
 *
 * Kind 200, HELLO feature 0x100 (while it has the agent's own settings).
 * Settings: any text but "bad" (refused: "fake: bad settings"). A task
 * answers from a timer: ok, stdout "SETTINGS|ARGV0" ("-" for none); a task
 * whose argv[0] is "hang" answers only when cancelled (failed,
 * "cancelled"). */
#include "handler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fake_task {
	struct fake_task *next;
	struct fake *f;
	pd_timer *timer;
	uint64_t id;
	uint32_t attempt;
	int cancelled;
	char out[300];
} fake_task;

typedef struct fake {
	const pd_handler_env *env;
	char settings[200];
	fake_task *tasks;
} fake;

static int fake_open(const pd_handler_env *env, void **state)
{
	fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->env = env;
	snprintf(f->settings, sizeof(f->settings), "-");
	*state = f;
	return 0;
}

static int fake_configure(void *state, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	fake *f = state;

	if (data && len == 3 && !memcmp(data, "bad", 3)) {
		snprintf(err, errlen, "fake: bad settings");
		return -EINVAL;
	}
	snprintf(f->settings, sizeof(f->settings), "%s", data ? (const char *)data : "-");
	return 0;
}

static void task_free(fake_task *t)
{
	fake_task **pp = &t->f->tasks;

	while (*pp != t)
		pp = &(*pp)->next;
	*pp = t->next;
	pd_timer_free(t->timer);
	free(t);
}

static void fake_fire(pd_loop *l, void *arg)
{
	fake_task *t = arg;
	pd_result_msg r;

	(void)l;
	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.attempt = t->attempt;
	r.status = t->cancelled ? PD_ST_FAILED : PD_ST_OK;
	r.exit_code = t->cancelled ? -1 : 0;
	r.out = t->cancelled ? "" : t->out;
	r.out_len = (uint32_t)strlen(r.out);
	r.err = "";
	r.error = t->cancelled ? "cancelled" : "";
	t->f->env->done(t->f->env->arg, &r);
	task_free(t);
}

static int fake_start(void *state, const pd_task_msg *m, char *err, size_t errlen)
{
	fake *f = state;
	fake_task *t = calloc(1, sizeof(*t));

	if (!t || !(t->timer = pd_timer_new(f->env->loop, fake_fire, t))) {
		free(t);
		snprintf(err, errlen, "fake: out of memory");
		return -ENOMEM;
	}
	t->f = f;
	t->id = m->id;
	t->attempt = m->attempt;
	snprintf(t->out, sizeof(t->out), "%s|%s", f->settings, m->argc ? m->argv[0] : "");
	t->next = f->tasks;
	f->tasks = t;
	if (!m->argc || strcmp(m->argv[0], "hang"))
		pd_timer_start(t->timer, 1);
	return 0;
}

static void fake_cancel(void *state, const pd_idset *ids)
{
	for (fake_task *t = ((fake *)state)->tasks; t; t = t->next)
		if (!t->cancelled && pd_idset_has(ids, t->id)) {
			t->cancelled = 1;
			pd_timer_start(t->timer, 0);
		}
}

static void fake_close(void *state)
{
	fake *f = state;

	while (f->tasks)
		task_free(f->tasks);
	free(f);
}

extern const pd_handler_ops fake_handler_ops;
const pd_handler_ops fake_handler_ops = {
	.name = "fake",
	.kind = 200,
	.feature = 0x100,
	.open = fake_open,
	.configure = fake_configure,
	.start = fake_start,
	.cancel = fake_cancel,
	.close = fake_close,
};
