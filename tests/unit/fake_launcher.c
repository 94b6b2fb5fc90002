/* fake_launcher.c - a launcher kind of the tests' own (see launcher.h),
 * added as launchers are: this one file and one registration line
 * (test_launcher.c). It starts real parade-agent processes on the
 * session's local socket, as "local" does, but keeps a record of every
 * call so that the test can see the core drive it; its status lists one
 * made-up job. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_cmd.h"
#include "launcher.h"
#include "spawn.h"

#define FAKE_MAX 32

/* what the test reads */
unsigned fake_starts, fake_grown, fake_drained, fake_stops, fake_frees, fake_start_workers;
pid_t fake_pids[FAKE_MAX];
unsigned fake_npids;

typedef struct fake {
	char agent[4096];
	char url[512];
	pd_agent_argv av;
} fake;

static int spawn_agents(fake *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pd_spawn_opts so;
		int rv, exec_err = 0;
		if (fake_npids == FAKE_MAX)
			return -ENOSPC;
		pd_spawn_init(&so, f->av.argv);
		so.death_signal = SIGTERM;
		rv = pd_spawn(&so, &fake_pids[fake_npids], &exec_err);
		if (rv < 0)
			return rv;
		fake_npids++;
		if (exec_err)
			return -exec_err;
	}
	return 0;
}

static int fake_start(pd_launcher *l, char *err, size_t errlen)
{
	fake *f = calloc(1, sizeof(*f));
	pd_agent_cmd c = {0};
	int rv;

	if (!(l->priv = f)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fake_starts++;
	fake_start_workers = l->ctx.workers;
	pd_agent_path(f->agent, sizeof(f->agent));
	/* the secret is only here during start: a local agent needs none */
	snprintf(f->url, sizeof(f->url), "%s", l->ctx.cf->local);
	c.program = f->agent;
	c.url = f->url;
	c.mode = "local";
	if (pd_agent_cmd_argv(&c, &f->av) < 0) {
		snprintf(err, errlen, "fake: no agent command line");
		return -EINVAL;
	}
	l->target = l->ctx.workers;
	if ((rv = spawn_agents(f, l->ctx.workers)) < 0)
		snprintf(err, errlen, "fake: cannot start agents: %s", strerror(-rv));
	return rv;
}

static int fake_grow(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	int rv = spawn_agents(l->priv, n);

	fake_grown += n;
	if (rv < 0)
		snprintf(err, errlen, "fake: cannot start agents: %s", strerror(-rv));
	return rv;
}

static void fake_drain(pd_launcher *l, unsigned n)
{
	(void)l;
	fake_drained += n;
}

static void fake_describe(pd_launcher *l, pd_jw *w)
{
	(void)l;
	pd_jw_obj_begin(w);
	pd_jw_key(w, "id");
	pd_jw_str(w, "fake-1");
	pd_jw_key(w, "state");
	pd_jw_str(w, "RUNNING");
	pd_jw_obj_end(w);
}

static void fake_health(pd_launcher *l, pd_launcher_health *h)
{
	for (unsigned i = 0; i < fake_npids; i++) {
		if (fake_pids[i] > 0 && pd_gone(fake_pids[i]))
			fake_pids[i] = -fake_pids[i]; /* gone: kept, negated, for the test */
		h->alive += fake_pids[i] > 0;
	}
	if (h->alive == 0 && l->target > 0) {
		h->gave_up = 1;
		snprintf(h->why, sizeof(h->why), "fake: every agent is gone; giving up");
	}
}

static void fake_stop(pd_launcher *l)
{
	pid_t pids[FAKE_MAX];

	(void)l;
	fake_stops++;
	for (unsigned i = 0; i < fake_npids; i++)
		pids[i] = fake_pids[i] > 0 ? fake_pids[i] : 0;
	pd_stop_groups(pids, fake_npids, 0, 2000);
	for (unsigned i = 0; i < fake_npids; i++)
		if (fake_pids[i] > 0)
			fake_pids[i] = -fake_pids[i];
}

static void fake_free(pd_launcher *l)
{
	fake_frees++;
	free(l->priv);
}

const pd_launcher_ops fake_launcher = {
	.name = "fake",
	.start = fake_start,
	.grow = fake_grow,
	.drain = fake_drain,
	.describe = fake_describe,
	.health = fake_health,
	.stop = fake_stop,
	.free = fake_free,
};
