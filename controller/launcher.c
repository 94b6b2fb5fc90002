/* launcher.c - the controller's calls into a launcher (see launcher.h):
 * what is the same for every kind (the handle, scale, the status object,
 * giving up) lives here, what differs in each kind's ops. */
#include "launcher.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int pd_launcher_start(const pd_launcher_ops *ops, const pd_launch_ctx *ctx, pd_launcher **out,
		      char *err, size_t errlen)
{
	pd_launcher *l = calloc(1, sizeof(*l));
	int rv;

	*out = l;
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->ops = ops;
	l->ctx = *ctx;
	rv = ops->start(l, err, errlen);
	l->ctx.cf = NULL; /* the caller wipes its secret */
	return rv;
}

const char *pd_launcher_name(const pd_launcher *l)
{
	return l ? l->ops->name : "none";
}

unsigned pd_launcher_target(const pd_launcher *l)
{
	return l ? l->target : 0;
}

int pd_launcher_scale(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	unsigned was = pd_launcher_target(l);

	if (!l || !l->ops->grow) {
		snprintf(err, errlen,
			 "this session's agents are not started by a launcher that can scale (%s); "
			 "start more with 'parade launch'",
			 pd_launcher_name(l));
		return -ENOTSUP;
	}
	if (n > was) {
		int rv = l->ops->grow(l, n - was, err, errlen);
		if (rv < 0)
			return rv;
	} else if (n < was) {
		size_t asked = pd_server_drain(l->ctx.srv, was - n);
		pd_info("scale: %zu agent(s) asked to finish their tasks and leave", asked);
		if (l->ops->drain)
			l->ops->drain(l, was - n);
	}
	l->target = n;
	return 0;
}

static void health(pd_launcher *l, pd_server *srv, pd_launcher_health *h)
{
	memset(h, 0, sizeof(*h));
	if (l && l->ops->health)
		l->ops->health(l, h);
	else
		h->alive = (unsigned)pd_server_agents(srv);
}

void pd_launcher_status(pd_launcher *l, pd_server *srv, pd_jw *w)
{
	pd_launcher_health h;

	health(l, srv, &h);
	pd_jw_key(w, "launcher");
	pd_jw_obj_begin(w);
	pd_jw_key(w, "kind");
	pd_jw_str(w, pd_launcher_name(l));
	pd_jw_key(w, "target");
	pd_jw_u64(w, pd_launcher_target(l));
	pd_jw_key(w, "alive");
	pd_jw_u64(w, h.alive);
	pd_jw_key(w, "jobs");
	pd_jw_arr_begin(w);
	if (l && l->ops->describe)
		l->ops->describe(l, w);
	pd_jw_arr_end(w);
	pd_jw_obj_end(w);
}

int pd_launcher_gave_up(pd_launcher *l)
{
	pd_launcher_health h;

	if (!l)
		return 0;
	/* every second, agents or not: a kind may watch its agents there
	 * (slurm-step names nodes whose agents never joined) */
	health(l, l->ctx.srv, &h);
	if (!h.gave_up || pd_server_agents(l->ctx.srv) > 0)
		return 0;
	pd_err("%s", h.why);
	if (l->ops->report)
		l->ops->report(l);
	return 1;
}

void pd_launcher_stop(pd_launcher *l)
{
	if (l && l->ops->stop)
		l->ops->stop(l);
}

void pd_launcher_free(pd_launcher *l)
{
	if (!l)
		return;
	if (l->ops->free)
		l->ops->free(l);
	free(l);
}

static int exists_exec(const char *p)
{
	return access(p, X_OK) == 0;
}

void pd_agent_path(char *out, size_t outlen)
{
	const char *env = getenv("PARADE_AGENT");
	char self[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		snprintf(out, outlen, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = 0;
		snprintf(dir, sizeof(dir), "%s", self);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = 0;
			snprintf(cand, sizeof(cand), "%s/parade-agent", dir);
			if (exists_exec(cand)) {
				snprintf(out, outlen, "%s", cand);
				return;
			}
			snprintf(cand, sizeof(cand), "%s/../agent/parade-agent", dir);
			if (exists_exec(cand)) {
				char real[PATH_MAX];
				snprintf(out, outlen, "%s", realpath(cand, real) ? real : cand);
				return;
			}
		}
	}
	snprintf(cand, sizeof(cand), "%s/parade-agent", PD_BINDIR);
	if (exists_exec(cand)) {
		snprintf(out, outlen, "%s", cand);
		return;
	}
	snprintf(out, outlen, "parade-agent");
}
