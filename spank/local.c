/* local.c - srun (S_CTX_LOCAL), sbatch and salloc (S_CTX_ALLOCATOR).
 *
 * Options are judged here, before anything is submitted: one slurm_error
 * line and an error return make the command exit non-zero. Inside a batch
 * job every srun inherits --parade-workers from the job's environment; such
 * an inherited value is neither judged here nor acted on remotely, and srun
 * tells the step which it is through PARADE_SPANK_EXPLICIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "local.h"

#define CMDLINE_MAX (256 * 1024)

const char *pd_local_cmdline_path = "/proc/self/cmdline";

static struct {
	int explicit_known;
	int explicit;
	int reported;   /* a bad --parade-workers value was reported... */
	char value[64]; /* ...this one */
} L;

void pd_local_reset(void)
{
	memset(&L, 0, sizeof(L));
}

/* Whether this process's command line names --parade-workers. */
static int cmdline_names_workers(void)
{
	char *buf = malloc(CMDLINE_MAX);
	size_t len = 0;
	int fd, rv;

	if (!buf)
		return 0;
	fd = open(pd_local_cmdline_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (len < CMDLINE_MAX) {
			ssize_t r = read(fd, buf + len, CMDLINE_MAX - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		close(fd);
	}
	rv = pd_spank_cmdline_explicit(buf, len);
	free(buf);
	return rv;
}

int pd_local_explicit(void)
{
	if (!L.explicit_known) {
		/* sbatch reads #SBATCH lines too, so its command line proves
		 * nothing: there (and in salloc) every value counts. In srun a
		 * value can only be inherited when the job environment has one. */
		L.explicit = spank_context() != S_CTX_LOCAL || !getenv(PD_INHERITED_WORKERS) ||
		             cmdline_names_workers();
		L.explicit_known = 1;
	}
	return L.explicit;
}

/* Reports the current bad --parade-workers value, once per value. */
static void report_workers(void)
{
	if (L.reported && !strcmp(L.value, pd_sp.workers_arg))
		return;
	pd_sp_error("%s", pd_sp.workers_err);
	L.reported = 1;
	snprintf(L.value, sizeof(L.value), "%s", pd_sp.workers_arg);
}

int pd_local_workers(void)
{
	const char *inherited;

	if (!pd_sp.workers_bad)
		return 0;
	if (spank_context() == S_CTX_LOCAL) {
		if (!pd_local_explicit())
			return 0;
		/* srun delivers the inherited value first, then its own: the
		 * final value is judged in init_post_opt */
		inherited = getenv(PD_INHERITED_WORKERS);
		if (pd_sp.workers_calls == 1 && inherited &&
		    !strncmp(inherited, pd_sp.workers_arg, sizeof(pd_sp.workers_arg) - 1))
			return 0;
	}
	report_workers();
	return -1;
}

/* what names the source (an option or PARADE_CONNECT). 0 or -1. */
static int check_controller(const char *what, const char *path)
{
	const char *also =
	    strcmp(what, "PARADE_CONNECT") ? "" : " (the controller for --parade-workers)";
	struct stat st;
	int fd;

	if (pd_sp.controller_long && !strcmp(what, "--parade-controller")) {
		pd_sp_error("--parade-controller: the path is longer than %d bytes",
		            PD_SPANK_PATH_MAX - 1);
		return -1;
	}
	if (!*path) {
		pd_sp_error("%s=%s: expected the path of a parade connection file", what, also);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		pd_sp_error("%s=%s%s: cannot read it: %s", what, path, also, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pd_sp_error("%s=%s%s: not a regular file (expected a parade connection file)", what,
		            path, also);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int pd_local_init_post_opt(void)
{
	const char *env;

	if (!pd_sp.workers_seen) {
		if (pd_sp.controller_seen) {
			pd_sp_error(
			    "--parade-controller=%s: give --parade-workers=N too (the number "
			    "of agents to start)",
			    pd_sp.controller);
			return -1;
		}
		return 0;
	}
	if (!pd_local_explicit())
		return 0;
	if (pd_sp.workers_bad) {
		report_workers();
		return -1;
	}
	if (pd_sp.controller_seen)
		return check_controller("--parade-controller", pd_sp.controller);
	env = getenv("PARADE_CONNECT");
	if (env && *env)
		return check_controller("PARADE_CONNECT", env);
	return 0;
}

/* For a step whose agents wait for a controller in it: a fresh secret
 * and port, which srun carries to every node of the step in the launch
 * environment (the plugin there takes both out before anything starts).
 * An inner srun that only inherited the option, or one whose agents join
 * a controller elsewhere, passes none, nor one it inherited. 0 or -1. */
static int step_key(spank_t sp, int acts)
{
	const char *conn = getenv("PARADE_CONNECT");
	char key[65], port[8];
	int e;

	(void)sp;
	unsetenv(PD_STEP_KEY_ENV);
	unsetenv(PD_STEP_PORT_ENV);
	if (!acts || pd_sp.controller_seen || (conn && *conn))
		return 0;
	if ((e = pd_sp_make_key(key, port)) < 0) {
		pd_sp_error("cannot make a secret for this step's agents: %s", strerror(-e));
		return -1;
	}
	e = setenv(PD_STEP_KEY_ENV, key, 1) < 0 || setenv(PD_STEP_PORT_ENV, port, 1) < 0;
	memset(key, 0, sizeof(key));
	if (e) {
		pd_sp_error("cannot pass this step's secret to its nodes: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int pd_local_user_init(spank_t sp)
{
	const char *v;

	/* not named here: a "1" inherited from an outer step must not make
	 * this step act on an option that reaches it some other way */
	if (!pd_sp.workers_seen && !getenv(PD_EXPLICIT_ENV))
		return 0;
	v = pd_sp.workers_seen && pd_local_explicit() ? "1" : "0";
	/* Slurm 22.05 allows spank_setenv in slurmstepd only; srun copies its
	 * own environment into the tasks' after this callback, so setenv(3)
	 * reaches them too */
	(void)spank_setenv(sp, PD_EXPLICIT_ENV, v, 1);
	if (setenv(PD_EXPLICIT_ENV, v, 1) < 0) {
		pd_sp_error("cannot set %s: %s", PD_EXPLICIT_ENV, strerror(errno));
		return -1;
	}
	return step_key(sp, v[0] == '1');
}
