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
#include "endpoint.h"
#include "launcher.h"
#include "log.h"
#include "ssh.h"

#define STEP_TEXT_TIMEOUT_MS 5000
#define FOLLOW_GRACE_S 600 /* task 0 may take long to load a grid */

int ctl_step_read(pd_connfile *cf, char *err, size_t errlen)
{
	const char *v = getenv("PARADE_STEP_FD");
	char *end;
	long fd;
	int rv;

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
	/* from its start: an earlier `parade run` of the same batch script
	 * read the same file (its offset is shared) */
	(void)lseek((int)fd, 0, SEEK_SET);
	rv = pd_conntext_read((int)fd, STEP_TEXT_TIMEOUT_MS, cf, err, errlen);
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
	char agent[4096], fdpath[32], grace[16];
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	char *argv[PD_AGENT_ARGV_MAX + 8];
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
	snprintf(grace, sizeof(grace), "%u", FOLLOW_GRACE_S);
	c.program = agent;
	c.url = cf->endpoint;
	c.mode = "slurm";
	if (pd_agent_cmd_argv(&c, &a) < 0) {
		pd_err("cannot build the follower's command line");
		return 2;
	}
	/* PROGRAM --url URL --mode slurm, then what only a follower takes */
	for (; a.argv[n]; n++)
		argv[n] = a.argv[n];
	argv[n++] = "--follow";
	argv[n++] = "--secret-file";
	argv[n++] = fdpath;
	argv[n++] = "--grace";
	argv[n++] = grace;
	argv[n] = NULL;
	pd_info("task %s of this step: following the run of task 0 at %s", getenv("SLURM_PROCID"),
	        cf->endpoint);
	fflush(NULL);
	execvp(agent, argv);
	pd_err("cannot execute %s: %s", agent, strerror(errno));
	close(fd);
	return 2;
}
