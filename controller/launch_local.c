/* launch_local.c - the "local" launcher (launcher.h): N parade-agent
 * processes on this machine, supervised.
 *
 * Each agent runs in its own process group (a terminal's Ctrl-C reaches
 * only the controller, which then stops them in order) and dials the
 * session's local endpoint, given as --url ipc://... (the Unix socket in
 * the 0700 session folder needs no secret, so local agents never read the
 * connection file and their command line names no file that holds it). Agents of a foreground run get
 * PR_SET_PDEATHSIG(SIGTERM) so they never outlive the controller; those of
 * a durable session (`survive`) outlive a controller crash for their grace
 * period, so that a restarted controller gets them and their results back. An agent that dies while the run
 * goes on is restarted (at most `max_restarts` times in all); one that
 * exits with status 2 or 3 (usage error, refused) is not.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "cpus.h"
#include "log.h"
#include "spawn.h"

typedef struct pd_local pd_local;

typedef struct child {
	pd_local *owner;
	pid_t pid;
	int pidfd;
	int adopted; /* not our child: cannot be waited for, only signalled */
} child;

struct pd_local {
	pd_loop *loop;
	char agent[PATH_MAX];
	pd_agent_argv av; /* the agents' argv (points into agent, url, connfile) */
	const char *connfile;
	/* the session's local endpoint (ipc://...), which agents dial with
	 * --url: they never read the connection file and its secret, and
	 * their command line names no file that holds it. Empty: a file
	 * without local=, and agents get --connect FILE --local. */
	char url[512];
	child **kids; /* pointers: a child is the pidfd callback's argument */
	unsigned n, cap;
	unsigned restarts, max_restarts;
	int survive;
	int stopping;
};

static void on_child_exit(pd_loop *l, int fd, uint32_t ev, void *arg);

static int spawn(pd_local *p, child *c)
{
	pd_spawn_opts so;
	pid_t pid;
	int rv, exec_err = 0;

	/* its own group (a terminal's Ctrl-C reaches only the controller);
	 * stdin, stdout and stderr, none of the controller's other
	 * descriptors (listeners, journal, pipes) */
	pd_spawn_init(&so, p->av.argv);
	so.path = p->agent;
	so.death_signal = p->survive ? 0 : SIGTERM;
	if ((rv = pd_spawn(&so, &pid, &exec_err)) < 0)
		return rv;
	/* it exits 127, and on_child_exit says it is not restarted */
	if (exec_err)
		fprintf(stderr, "parade: cannot execute %s: %s\n", p->agent, strerror(exec_err));
	c->owner = p;
	c->pid = pid;
	c->pidfd = pd_pidfd(pid);
	if (c->pidfd >= 0 && pd_loop_add(p->loop, c->pidfd, PD_EV_IN, on_child_exit, c) < 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	return 0;
}

static void on_child_exit(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	child *c = arg;
	pd_local *p = c->owner;
	int st = 0;
	pid_t r;

	(void)ev;
	r = pd_reap(c->pid, &st, NULL, 1);
	if (r == 0)
		return;
	pd_loop_del(l, fd);
	close(fd);
	c->pidfd = -1;
	c->pid = 0;
	if (p->stopping)
		return;
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 2 || WEXITSTATUS(st) == 3 ||
			      WEXITSTATUS(st) == 127)) {
		pd_err("local agent exited with status %d; not restarting it", WEXITSTATUS(st));
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return; /* it was told to leave */
	if (p->restarts >= p->max_restarts) {
		pd_err("local agent died (%s %d); restart limit (%u) reached",
		       WIFSIGNALED(st) ? "signal" : "status",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), p->max_restarts);
		return;
	}
	p->restarts++;
	pd_warn("local agent died (%s %d); starting a new one",
		WIFSIGNALED(st) ? "signal" : "status",
		WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if ((r = spawn(p, c)) < 0)
		pd_err("cannot start a local agent: %s", strerror(-r));
}

/* A new slot in kids; NULL when out of memory. */
static child *new_child(pd_local *p)
{
	child *c;

	if (p->n == p->cap) {
		unsigned cap = p->cap ? 2 * p->cap : 16;
		child **t = realloc(p->kids, cap * sizeof(*t));
		if (!t)
			return NULL;
		p->kids = t;
		p->cap = cap;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->pidfd = -1;
	c->owner = p;
	p->kids[p->n++] = c;
	return c;
}

static int grow(pd_local *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		child *c = new_child(p);
		int rv;
		if (!c)
			return -ENOMEM;
		if ((rv = spawn(p, c)) < 0)
			return rv;
	}
	p->max_restarts += 2 * n;
	return 0;
}

/* Counts an agent this launcher did not start (one a crashed controller
 * left behind) as one of its own, so that stop ends it. It must be a
 * parade-agent of this session: --url and the local endpoint, or
 * --connect and connfile, on its command line. 0, or -ESRCH. */
static int adopt(pd_local *p, int pid)
{
	char path[64], cmd[8192];
	ssize_t n;
	int fd, match = 0;
	child *c;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (pid <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ESRCH;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	/* the words are NUL-separated: look for "--url" then our endpoint,
	 * or "--connect" then our file */
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(cmd + i) + 1) {
		cmd[n] = 0;
		if (!strcmp(cmd + i, "--connect") && i + 10 < n && !strcmp(cmd + i + 10, p->connfile))
			match = 1;
		if (p->url[0] && !strcmp(cmd + i, "--url") && i + 6 < n && !strcmp(cmd + i + 6, p->url))
			match = 1;
	}
	if (!match)
		return -ESRCH;
	if (!(c = new_child(p)))
		return -ENOMEM;
	c->pid = pid;
	c->adopted = 1;
	return 0;
}

/* The agents' command line (lib/agent_cmd.h): the session's local
 * endpoint (or its file and --local), --mode local, the run's --slots, -v
 * with debug logging. A coprocess COMMAND reaches them in WELCOME. */
static void agent_argv(pd_local *p, const pd_run_opts *o)
{
	pd_agent_cmd c = {0};

	c.program = p->agent;
	if (p->url[0]) {
		c.url = p->url;
	} else {
		c.connect = p->connfile;
		c.local = 1;
	}
	c.mode = "local";
	c.slots = o->agent_slots;
	c.verbose = pd_log_get_level() >= PD_LOG_DEBUG;
	pd_agent_cmd_argv(&c, &p->av); /* program and endpoint are set */
}

static int adopt_cb(void *arg, const pd_jagent *a)
{
	if (!a->left_ms && a->mode && !strcmp(a->mode, "local") && adopt(arg, (int)a->pid) == 0)
		pd_info("agent %s (pid %u) is still alive; waiting for it to reconnect", a->name,
			a->pid);
	return 0;
}

/* An adopted agent is gone once its pid is (it is not our child to reap). */
static int adopted_gone(child *c)
{
	if (pd_gone(c->pid))
		c->pid = 0;
	return c->pid == 0;
}

static unsigned alive(const pd_local *p)
{
	unsigned k = 0;

	for (unsigned i = 0; i < p->n; i++) {
		child *c = p->kids[i];
		k += c->pid > 0 && !(c->adopted && adopted_gone(c));
	}
	return k;
}

/* ---- the ops ---- */

static int local_start(pd_launcher *l, char *err, size_t errlen)
{
	const pd_launch_ctx *x = &l->ctx;
	pd_local *p = calloc(1, sizeof(*p));
	pd_connfile cf;
	char cferr[600];
	unsigned have, want;
	int rv;

	if (!(l->priv = p)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->loop = x->loop;
	p->survive = x->survive;
	p->connfile = x->connpath;
	p->max_restarts = 4; /* grows by two per agent started */
	pd_agent_path(p->agent, sizeof(p->agent));
	memset(&cf, 0, sizeof(cf));
	rv = pd_connfile_read(x->connpath, &cf, cferr, sizeof(cferr));
	memset(cf.secret, 0, sizeof(cf.secret));
	if ((rv == 0 || rv == -EPERM) && !strncmp(cf.local, "ipc://", 6))
		snprintf(p->url, sizeof(p->url), "%s", cf.local);
	agent_argv(p, x->o);
	/* agents a crashed controller of this session left running count as
	 * this launcher's own */
	if (x->o->mode == PD_MODE_RESUME && x->jn)
		pd_journal_agents(x->jn, adopt_cb, p);
	have = alive(p);
	want = x->workers ? x->workers : pd_cpus_usable("local agents, one per CPU this process may use", 100000);
	l->target = want;
	if (have < want && (rv = grow(p, want - have)) < 0) {
		snprintf(err, errlen, "cannot start local agents: %s", strerror(-rv));
		return rv;
	}
	pd_debug("started %u local agent(s): %s", want > have ? want - have : 0, p->agent);
	return 0;
}

static int local_grow(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	int rv = grow(l->priv, n);

	if (rv < 0)
		snprintf(err, errlen, "cannot start local agents: %s", strerror(-rv));
	return rv;
}

static void local_health(pd_launcher *l, pd_launcher_health *h)
{
	h->alive = alive(l->priv);
	/* every agent died for good (see the messages above it) */
	if (!l->ctx.serve && h->alive == 0 && l->target > 0) {
		h->gave_up = 1;
		snprintf(h->why, sizeof(h->why),
			 "no local agent is left (see the messages above); giving up");
	}
}

/* Agents that got BYE are leaving already; one that never joined would
 * not hear it, so it does not wait: SIGTERM makes each end its tasks,
 * SIGKILL follows after 2 s. */
static void local_stop(pd_launcher *l)
{
	pd_local *p = l->priv;
	pid_t *pids;

	if (!p)
		return;
	p->stopping = 1;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->kids[i]->pidfd >= 0) {
			pd_loop_del(p->loop, p->kids[i]->pidfd);
			close(p->kids[i]->pidfd);
			p->kids[i]->pidfd = -1;
		}
	}
	if (!p->n || !(pids = calloc(p->n, sizeof(*pids)))) {
		for (unsigned i = 0; i < p->n; i++) /* out of memory: no time to wait */
			pd_stop_groups(&p->kids[i]->pid, 1, 0, 0);
		return;
	}
	for (unsigned i = 0; i < p->n; i++)
		pids[i] = p->kids[i]->pid;
	pd_stop_groups(pids, p->n, 0, 2000);
	for (unsigned i = 0; i < p->n; i++)
		p->kids[i]->pid = 0;
	free(pids);
}

static void local_free(pd_launcher *l)
{
	pd_local *p = l->priv;

	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		free(p->kids[i]);
	free(p->kids);
	free(p);
}

const pd_launcher_ops pd_launcher_local = {
	.name = "local",
	.start = local_start,
	.grow = local_grow,
	.health = local_health,
	.stop = local_stop,
	.free = local_free,
};
