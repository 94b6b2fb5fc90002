/* run_step.c - parade run in a Slurm step with plugin-started agents; see
 * run_step.h. */
#include "run_step.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "ctl.h"
#include "endpoint.h"
#include "launcher.h"
#include "log.h"
#include "ssh.h"

#define STEP_TEXT_TIMEOUT_MS 5000
/* how long a follower waits for task 0's controller to come up (it loads
 * the grid first) or to come back; past it the follower exits 2, so a
 * task 0 that failed before it listened holds the step this long */
#define FOLLOW_GRACE_S 60
#define FOLLOW_WAIT_MS 5000 /* at the end, for followers not there yet */
#define FOLLOW_POLL_MS 50

int ctl_step_read(pd_connfile *cf, char *err, size_t errlen)
{
	const char *v = getenv("PARADE_STEP_FD");
	char *end, path[64];
	long fd;
	int rv, own;

	memset(cf, 0, sizeof(*cf));
	if (!v || !*v) {
		snprintf(err, errlen,
		         "this Slurm step has no connection text for its controller "
		         "(PARADE_STEP_FD is not set): is the parade plugin of the nodes older "
		         "than this parade?");
		return -ENOENT;
	}
	errno = 0;
	fd = strtol(v, &end, 10);
	if (*end || errno || fd < 3 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0) {
		snprintf(err, errlen, "PARADE_STEP_FD=%.20s: not an open descriptor", v);
		return -EBADF;
	}
	/* through an open file of its own, from its start: other runs of the
	 * same batch script (one after the other, or at once) share the
	 * inherited descriptor's offset */
	snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
	own = open(path, O_RDONLY | O_CLOEXEC);
	if (own < 0) {
		own = (int)fd;
		(void)lseek(own, 0, SEEK_SET);
	}
	rv = pd_conntext_read(own, STEP_TEXT_TIMEOUT_MS, cf, err, errlen);
	if (own != (int)fd)
		close(own);
	close((int)fd);
	unsetenv("PARADE_STEP_FD");
	return rv;
}

int ctl_step_listen_url(const pd_connfile *cf, char *out, size_t outlen, char *err,
                        size_t errlen)
{
	pd_endpoint ep;

	if (pd_endpoint_parse(cf->endpoint, &ep, err, errlen) < 0)
		return -EINVAL;
	if (ep.kind != PD_EP_TLS_TCP || !ep.port) {
		snprintf(err, errlen, "the step's endpoint %s is not tls+tcp://HOST:PORT",
		         cf->endpoint);
		return -EINVAL;
	}
	snprintf(out, outlen, "tls+tcp://0.0.0.0:%u", (unsigned)ep.port);
	return 0;
}

int ctl_step_is_follower(void)
{
	const char *rank = getenv("SLURM_PROCID");

	return rank && *rank && strcmp(rank, "0") != 0;
}

/* A pipe holding the secret in hex, its read end returned (not
 * close-on-exec), the write end closed. -1 with errno. */
static int secret_pipe(const pd_connfile *cf)
{
	char hex[2 * PD_SECRET_LEN + 2];
	int p[2];
	ssize_t w;

	if (pipe(p) < 0)
		return -1;
	pd_hex(cf->secret, PD_SECRET_LEN, hex);
	hex[2 * PD_SECRET_LEN] = '\n';
	hex[2 * PD_SECRET_LEN + 1] = 0;
	do
		w = write(p[1], hex, strlen(hex));
	while (w < 0 && errno == EINTR);
	memset(hex, 0, sizeof(hex));
	close(p[1]);
	if (w < 0) {
		int e = errno;
		close(p[0]);
		errno = e;
		return -1;
	}
	return p[0];
}

int ctl_step_follow(pd_connfile *cf)
{
	char agent[4096], fdpath[32];
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	char *argv[PD_AGENT_ARGV_MAX + 3];
	size_t n = 0;
	int fd;

	pd_agent_path(agent, sizeof(agent));
	fd = secret_pipe(cf);
	memset(cf->secret, 0, sizeof(cf->secret));
	if (fd < 0) {
		pd_err("cannot pass the step's secret to the follower: %s", strerror(errno));
		return 2;
	}
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	c.program = agent;
	c.url = cf->endpoint;
	c.follow = 1;
	c.mode = "slurm";
	c.grace_s = FOLLOW_GRACE_S;
	if (pd_agent_cmd_argv(&c, &a) < 0) {
		pd_err("cannot build the follower's command line");
		return 2;
	}
	/* the secret comes from the pipe, never the command line */
	for (; a.argv[n]; n++)
		argv[n] = a.argv[n];
	argv[n++] = "--secret-file";
	argv[n++] = fdpath;
	argv[n] = NULL;
	pd_info("task %s of this step: following the run of task 0 at %s", getenv("SLURM_PROCID"),
	        cf->endpoint);
	fflush(NULL);
	execvp(agent, argv);
	pd_err("cannot execute %s: %s", agent, strerror(errno));
	close(fd);
	return 2;
}

struct await {
	ctl *c;
	pd_timer *t;
	size_t want;
	uint64_t end_us;
};

static void await_tick(pd_loop *l, void *arg)
{
	struct await *w = arg;

	if (pd_server_followers(w->c->srv) >= w->want || pd_now_us() >= w->end_us) {
		pd_loop_stop(l);
		return;
	}
	pd_timer_start(w->t, FOLLOW_POLL_MS);
}

void ctl_step_await_followers(ctl *c)
{
	const char *v = getenv("SLURM_STEP_NUM_TASKS");
	struct await w = {c, NULL, 0, 0};
	unsigned long n = v ? strtoul(v, NULL, 10) : 0;

	if (n < 2 || n > 1000000)
		return;
	w.want = n - 1;
	if (pd_server_followers(c->srv) >= w.want || !(w.t = pd_timer_new(c->loop, await_tick, &w)))
		return;
	pd_timer_stop(c->watch);
	w.end_us = pd_now_us() + (uint64_t)FOLLOW_WAIT_MS * 1000;
	pd_timer_start(w.t, FOLLOW_POLL_MS);
	pd_loop_run(c->loop);
	if (pd_server_followers(c->srv) < w.want)
		pd_info("%zu of the step's %zu other task(s) did not follow this run (they do not "
		        "run 'parade run', or had not started): they do not learn its status",
		        w.want - pd_server_followers(c->srv), w.want);
	pd_timer_free(w.t);
}
