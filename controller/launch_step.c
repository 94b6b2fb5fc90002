/* launch_step.c - the "slurm-step" launcher (launcher.h): the agents the
 * SPANK plugin started for the Slurm step this `parade run` is task 0 of
 * (srun/sbatch --parade-workers=N; run_step.h). It starts nothing: the
 * plugin started PARADE_STEP_WORKERS agents spread over the step's nodes
 * (SLURM_STEP_NODELIST; a batch step's over the job's nodes,
 * SLURM_JOB_NODELIST) as pd_hostlist_share says. It knows how many each node should bring, and
 * when some node's have not all joined PARADE_JOIN_GRACE seconds (default
 * 30) after the start, it names those nodes once. Their handler settings
 * come from the controller (WELCOME), as for every launcher but none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "launcher.h"
#include "log.h"

#define JOIN_GRACE_S 30u
#define MAX_NAMED 8 /* nodes named in the line; the rest are counted */

struct node {
	char name[PD_HOST_MAX];
	unsigned expected, joined;
};

typedef struct step {
	struct node *nodes;
	unsigned long nnodes;
	unsigned workers;
	uint64_t start_us, grace_us;
	int reported;
} step;

struct fill {
	step *s;
	unsigned long i;
};

static int add_node(void *arg, const char *host)
{
	struct fill *f = arg;
	struct node *n = &f->s->nodes[f->i];

	snprintf(n->name, sizeof(n->name), "%s", host);
	n->expected = pd_hostlist_share(f->s->workers, f->s->nnodes, f->i);
	f->i++;
	return 0;
}

/* The step's nodes: SLURM_STEP_NODELIST, a batch step's the job's
 * (SLURM_JOB_NODELIST: the plugin spreads its agents over them), else
 * this node alone. */
static int read_nodes(step *s, char *err, size_t errlen)
{
	const char *list = getenv("SLURM_STEP_NODELIST");
	const char *self = getenv("SLURMD_NODENAME");
	long n = list && *list ? pd_hostlist_count(list) : -1;
	struct fill f = {s, 0};

	if (n <= 0 && (list = getenv("SLURM_JOB_NODELIST")) && *list)
		n = pd_hostlist_count(list);
	if (n <= 0) {
		list = self && *self ? self : "localhost";
		n = 1;
	}
	s->nnodes = (unsigned long)n;
	s->nodes = calloc(s->nnodes, sizeof(*s->nodes));
	if (!s->nodes) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pd_hostlist_each(list, add_node, &f, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

static unsigned env_uint(const char *name, unsigned def, unsigned max)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	if (*end || n > max) {
		pd_warn("%s=%s: expected a whole number up to %u; using %u", name, v, max, def);
		return def;
	}
	return (unsigned)n;
}

static int step_start(pd_launcher *l, char *err, size_t errlen)
{
	step *s = calloc(1, sizeof(*s));
	int rv;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->priv = s;
	if (!getenv("PARADE_STEP_SESSION")) {
		snprintf(err, errlen,
		         "--launch slurm-step: this is not a Slurm step with --parade-workers");
		return -EINVAL;
	}
	s->workers = env_uint("PARADE_STEP_WORKERS", 0, 1u << 20);
	s->grace_us = (uint64_t)env_uint("PARADE_JOIN_GRACE", JOIN_GRACE_S, 86400) * 1000000;
	s->start_us = pd_now_us();
	if ((rv = read_nodes(s, err, errlen)) < 0)
		return rv;
	l->target = s->workers;
	pd_info("using the %u agents Slurm started for this step (session %s)", s->workers,
	        l->ctx.session);
	return 0;
}

static void count_host(void *arg, const pd_agent_info *a)
{
	step *s = arg;
	size_t len = strcspn(a->host, ".");

	if (!a->slots) /* a follower (another task of the step) */
		return;
	for (unsigned long i = 0; i < s->nnodes; i++)
		if (strlen(s->nodes[i].name) == len && !strncmp(s->nodes[i].name, a->host, len)) {
			s->nodes[i].joined++;
			return;
		}
}

/* Once, after the grace period: the nodes whose agents are missing. */
static void report_missing(pd_launcher *l, step *s)
{
	char line[1024];
	size_t off = 0;
	unsigned named = 0, missing = 0, lacking = 0;

	for (unsigned long i = 0; i < s->nnodes; i++)
		s->nodes[i].joined = 0;
	pd_server_agent_list(l->ctx.srv, count_host, s);
	line[0] = 0;
	for (unsigned long i = 0; i < s->nnodes; i++) {
		struct node *n = &s->nodes[i];
		if (n->joined >= n->expected)
			continue;
		missing++;
		lacking += n->expected - n->joined;
		if (named++ < MAX_NAMED && off < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s (%u of %u)",
			                        off ? ", " : "", n->name, n->joined, n->expected);
	}
	s->reported = 1;
	if (!missing)
		return;
	pd_warn("%u agent(s) of this step have not joined %llu s after the start, on %u node(s): "
	        "%s%s; their logs are in PARADE_HOME/sessions/%s/ on those nodes (the plugin's "
	        "messages, if any, are on the step's stderr)",
	        lacking, (unsigned long long)(s->grace_us / 1000000), missing, line,
	        named > MAX_NAMED ? ", ..." : "", l->ctx.session);
}

static void step_health(pd_launcher *l, pd_launcher_health *h)
{
	step *s = l->priv;

	h->alive = (unsigned)pd_server_agents(l->ctx.srv);
	if (s && !s->reported && pd_now_us() - s->start_us >= s->grace_us)
		report_missing(l, s);
}

static void step_free(pd_launcher *l)
{
	step *s = l->priv;

	if (s)
		free(s->nodes);
	free(s);
	l->priv = NULL;
}

const pd_launcher_ops pd_launcher_step = {
	.name = "slurm-step",
	.start = step_start,
	.health = step_health,
	.free = step_free,
};
