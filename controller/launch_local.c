#include "launch_local.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "log.h"
#include "session.h"

#define MAX_ARGS 32

typedef struct child {
	pd_local *owner;
	pid_t pid;
	int pidfd;
	int adopted; /* not our child: cannot be waited for, only signalled */
} child;

struct pd_local {
	pd_loop *loop;
	char agent[PATH_MAX];
	const char *argv[MAX_ARGS];
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

static int exists_exec(const char *p)
{
	return access(p, X_OK) == 0;
}

void pd_local_agent_path(char *out, size_t outlen)
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

static void on_child_exit(pd_loop *l, int fd, uint32_t ev, void *arg);

static int spawn(pd_local *p, child *c)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (!p->survive) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(1);
		}
		setpgid(0, 0);
		pd_loop_child_sigmask();
		/* an agent gets stdin, stdout and stderr only, none of the
		 * controller's other descriptors (listeners, journal, pipes) */
		pd_close_from(3);
		execvp(p->agent, (char *const *)p->argv);
		fprintf(stderr, "parade: cannot execute %s: %s\n", p->agent, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	c->owner = p;
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
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
	r = waitpid(c->pid, &st, WNOHANG);
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
	if (spawn(p, c) < 0)
		pd_err("cannot start a local agent: %s", strerror(errno));
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

int pd_local_grow(pd_local *p, unsigned n)
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

int pd_local_adopt(pd_local *p, int pid)
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

pd_local *pd_local_start(pd_loop *l, const char *connfile, unsigned n, const char *const *extra,
			 int survive, char *err, size_t errlen)
{
	pd_local *p = calloc(1, sizeof(*p));
	pd_connfile cf;
	char cferr[600];
	size_t k = 0;
	int rv;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->loop = l;
	p->survive = survive;
	p->connfile = connfile;
	p->max_restarts = 4; /* grows by two per agent started */
	pd_local_agent_path(p->agent, sizeof(p->agent));
	memset(&cf, 0, sizeof(cf));
	rv = pd_connfile_read(connfile, &cf, cferr, sizeof(cferr));
	memset(cf.secret, 0, sizeof(cf.secret));
	if ((rv == 0 || rv == -EPERM) && !strncmp(cf.local, "ipc://", 6))
		snprintf(p->url, sizeof(p->url), "%s", cf.local);
	p->argv[k++] = p->agent;
	if (p->url[0]) {
		p->argv[k++] = "--url";
		p->argv[k++] = p->url;
	} else {
		p->argv[k++] = "--connect";
		p->argv[k++] = connfile;
		p->argv[k++] = "--local";
	}
	p->argv[k++] = "--mode";
	p->argv[k++] = "local";
	for (; extra && *extra && k < MAX_ARGS - 1; extra++)
		p->argv[k++] = *extra;
	p->argv[k] = NULL;
	if (pd_local_grow(p, n) < 0) {
		snprintf(err, errlen, "cannot start local agent %s: %s", p->agent, strerror(errno));
		pd_local_stop(p, 0);
		pd_local_free(p);
		return NULL;
	}
	pd_debug("started %u local agent(s): %s", n, p->agent);
	return p;
}

/* An adopted agent is gone once its pid is (it is not our child to reap). */
static int adopted_gone(child *c)
{
	if (kill(c->pid, 0) < 0 && errno == ESRCH)
		c->pid = 0;
	return c->pid == 0;
}

unsigned pd_local_alive(const pd_local *p)
{
	unsigned k = 0;

	for (unsigned i = 0; i < p->n; i++) {
		child *c = p->kids[i];
		k += c->pid > 0 && !(c->adopted && adopted_gone(c));
	}
	return k;
}

/* Reaps what has exited; returns how many are still alive. */
static unsigned reap(pd_local *p)
{
	unsigned alive = 0;

	for (unsigned i = 0; i < p->n; i++) {
		child *c = p->kids[i];
		if (c->pid <= 0 || (c->adopted && adopted_gone(c)))
			continue;
		if (!c->adopted && waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			continue;
		}
		alive++;
	}
	return alive;
}

static void wait_for(pd_local *p, unsigned ms)
{
	for (unsigned t = 0; reap(p) && t < ms * 10; t++)
		usleep(100);
}

static void signal_all(pd_local *p, int sig)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->kids[i]->pid > 0)
			kill(-p->kids[i]->pid, sig);
}

void pd_local_stop(pd_local *p, unsigned grace_ms)
{
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
	wait_for(p, grace_ms);
	if (reap(p)) {
		signal_all(p, SIGTERM);
		wait_for(p, 2000);
	}
	if (reap(p)) {
		signal_all(p, SIGKILL);
		for (unsigned i = 0; i < p->n; i++) {
			child *c = p->kids[i];
			if (c->pid > 0 && !c->adopted)
				waitpid(c->pid, NULL, 0);
			c->pid = 0;
		}
	}
}

void pd_local_free(pd_local *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		free(p->kids[i]);
	free(p->kids);
	free(p);
}
