/* launch_slurm.c - the "slurm" launcher (launcher.h): agents as one step
 * of an sbatch job, a job more for each scale up; and the pure parts
 * (launch_slurm.h). `parade launch slurm` is in launch_slurm_cmd.c. */
#include "launch_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "launcher.h"
#include "log.h"
#include "spawn.h"

int pd_slurm_opt_err(pd_slurm_opts *o, const char *name, const char *value, char *err,
		     size_t errlen)
{
	if (!strcmp(name, "partition"))
		o->partition = value;
	else if (!strcmp(name, "time"))
		o->time = value;
	else if (!strcmp(name, "mem"))
		o->mem = value;
	else if (!strcmp(name, "account"))
		o->account = value;
	else if (!strcmp(name, "cpus")) {
		char *end;
		unsigned long v = strtoul(value, &end, 10);
		if (!*value || *end || v == 0 || v > 4096 || value[0] == '-') {
			pd_seterr(err, errlen,
				  "--cpus '%s': expected a whole number from 1 to 4096", value);
			return -EINVAL;
		}
		o->cpus = (unsigned)v;
	} else if (!strcmp(name, "sbatch-arg")) {
		if (o->nargs == PD_SLURM_MAX_ARGS) {
			pd_seterr(err, errlen, "too many --sbatch-arg (%d at most)",
				  PD_SLURM_MAX_ARGS);
			return -EINVAL;
		}
		o->args[o->nargs++] = value;
	} else {
		return 0;
	}
	if (!*value) {
		pd_seterr(err, errlen, "--%s needs a value", name);
		return -EINVAL;
	}
	return 1;
}

int pd_slurm_opt(pd_slurm_opts *o, const char *name, const char *value)
{
	char err[512];
	int rv = pd_slurm_opt_err(o, name, value, err, sizeof(err));

	if (rv < 0)
		fprintf(stderr, "parade: %s\n", err);
	return rv;
}

static int app(pd_buf *out, const char *s)
{
	return pd_buf_append(out, s, strlen(s));
}

static int directive(pd_buf *out, const char *key, const char *value, char *err, size_t errlen)
{
	char line[1024];
	int n;

	if (!value)
		return 0;
	if (strpbrk(value, "\n\r")) {
		snprintf(err, errlen, "--%s value holds a line break", key);
		return -EINVAL;
	}
	n = snprintf(line, sizeof(line), "#SBATCH --%s=%s\n", key, value);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		snprintf(err, errlen, "--%s value too long", key);
		return -EINVAL;
	}
	return pd_buf_append(out, line, (size_t)n);
}

int pd_slurm_script(const pd_slurm_opts *o, const char *job_name, const char *agent,
		    const char *connfile, const char *logdir, pd_buf *out, char *err,
		    size_t errlen)
{
	char num[32], outpat[4200];
	pd_agent_cmd cmd = {0};
	int rv = 0;

	rv |= app(out, "#!/bin/sh\n# parade agents, written by parade run\n");
	snprintf(num, sizeof(num), "%u", o->n);
	if ((rv = directive(out, "job-name", job_name, err, errlen)) < 0 ||
	    (rv = directive(out, "ntasks", num, err, errlen)) < 0)
		return rv;
	if (o->cpus) {
		snprintf(num, sizeof(num), "%u", o->cpus);
		if ((rv = directive(out, "cpus-per-task", num, err, errlen)) < 0)
			return rv;
	}
	snprintf(outpat, sizeof(outpat), "%s/slurm-%%j.out", logdir);
	if ((rv = directive(out, "partition", o->partition, err, errlen)) < 0 ||
	    (rv = directive(out, "time", o->time, err, errlen)) < 0 ||
	    (rv = directive(out, "mem", o->mem, err, errlen)) < 0 ||
	    (rv = directive(out, "account", o->account, err, errlen)) < 0 ||
	    (rv = directive(out, "output", outpat, err, errlen)) < 0)
		return rv;
	/* one step holds every agent; the agents leave when the controller
	 * says goodbye, and scancel ends the step otherwise */
	cmd.program = agent;
	cmd.connect = connfile;
	cmd.mode = "slurm";
	cmd.grace_s = 30;
	cmd.coproc = o->coproc;
	rv = app(out, "exec srun --kill-on-bad-exit=0 ");
	rv |= pd_agent_cmd_shell(&cmd, 0, out);
	rv |= app(out, "\n");
	if (rv < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = 0;
}

int pd_slurm_submit(const pd_slurm_opts *o, const char *path, const pd_buf *script, char *jobid,
		    size_t idlen, char *err, size_t errlen)
{
	char *argv[PD_SLURM_MAX_ARGS + 4], out[256], msg[2048];
	size_t k = 0;
	int fd, rv;

	/* in the session folder: never written through a link planted there */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pd_buf_head(script), pd_buf_size(script)) !=
			      (ssize_t)pd_buf_size(script)) {
		rv = -errno;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rv));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	close(fd);
	argv[k++] = "sbatch";
	argv[k++] = "--parsable";
	for (size_t i = 0; i < o->nargs; i++)
		argv[k++] = (char *)o->args[i];
	argv[k++] = (char *)path;
	argv[k] = NULL;
	rv = pd_spawn_output(argv, out, sizeof(out), msg, sizeof(msg));
	chomp(out);
	chomp(msg);
	if (rv != 0 || !out[0]) {
		snprintf(err, errlen, "sbatch failed%s%s", msg[0] ? ": " : "",
			 msg[0] ? msg : " without a message");
		return rv < 0 ? rv : -EIO;
	}
	/* --parsable prints "JOBID" or "JOBID;CLUSTER" */
	out[strcspn(out, ";")] = 0;
	snprintf(jobid, idlen, "%s", out);
	return 0;
}

void pd_slurm_cancel(const char *jobid)
{
	char *argv[] = {"scancel", (char *)jobid, NULL}, out[64], msg[512];

	if (jobid && *jobid)
		pd_spawn_output(argv, out, sizeof(out), msg, sizeof(msg));
}

void pd_slurm_state(const char *jobid, char *state, size_t len)
{
	char *argv[] = {"squeue", "-h", "-j", (char *)jobid, "-o", "%T", NULL}, out[64], msg[512];
	int rv = pd_spawn_output(argv, out, sizeof(out), msg, sizeof(msg));

	out[strcspn(out, "\r\n")] = 0;
	/* squeue forgets a job soon after it ends, or says it is invalid */
	snprintf(state, len, "%s", rv == 0 && out[0] ? out : rv == 0 || strstr(msg, "Invalid") ? "GONE" : "?");
}

/* ---- the launcher ---- */

#define MAX_JOBS 32

typedef struct slurm_pool {
	char jobs[MAX_JOBS][64]; /* sbatch job ids */
	unsigned njobs;
	int cancelled;
} slurm_pool;

/* Writes and submits an sbatch script for n more agents (the first as
 * agents.sbatch, later ones as agents-K.sbatch) and records the job id.
 * 0 submitted, 1 --dry-run (the script went to stdout), -errno with err
 * (sbatch's own message). */
static int submit(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	slurm_pool *p = l->priv;
	pd_slurm_opts so = l->ctx.o->slurm;
	char agent[4096], job[160], path[4300];
	pd_buf script = {0};
	int rv;

	if (p->njobs == MAX_JOBS) {
		snprintf(err, errlen, "this session has submitted %d jobs already", MAX_JOBS);
		return -ENOSPC;
	}
	so.n = n;
	pd_agent_path(agent, sizeof(agent));
	snprintf(job, sizeof(job), "parade-%s", l->ctx.session);
	pd_session_sbatch_path(path, sizeof(path), l->ctx.dir, p->njobs ? p->njobs + 1 : 0);
	rv = pd_slurm_script(&so, job, agent, l->ctx.connpath, l->ctx.dir, &script, err, errlen);
	if (rv == 0 && so.dry_run) {
		fwrite(pd_buf_head(&script), 1, pd_buf_size(&script), stdout);
		fflush(stdout);
		rv = 1;
	} else if (rv == 0) {
		rv = pd_slurm_submit(&so, path, &script, p->jobs[p->njobs], sizeof(p->jobs[0]), err,
				     errlen);
		if (rv == 0)
			pd_info("submitted Slurm job %s: %u agent(s) (script %s)", p->jobs[p->njobs++],
				n, path);
	}
	pd_buf_free(&script);
	return rv;
}

/* agents on other nodes need a TCP listener */
static const char *slurm_listen_url(const pd_run_opts *o)
{
	(void)o;
	return "tls+tcp://0.0.0.0:0";
}

static int slurm_start(pd_launcher *l, char *err, size_t errlen)
{
	if (!(l->priv = calloc(1, sizeof(slurm_pool)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->target = l->ctx.o->slurm.n;
	return submit(l, l->ctx.o->slurm.n, err, errlen);
}

static int slurm_grow(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	int rv = submit(l, n, err, errlen);

	return rv > 0 ? 0 : rv;
}

/* each job and its queue state (squeue) */
static void slurm_describe(pd_launcher *l, pd_jw *w)
{
	slurm_pool *p = l->priv;

	for (unsigned i = 0; i < p->njobs; i++) {
		char st[64];
		pd_slurm_state(p->jobs[i], st, sizeof(st));
		pd_jw_obj_begin(w);
		pd_jw_key(w, "id");
		pd_jw_str(w, p->jobs[i]);
		pd_jw_key(w, "state");
		pd_jw_str(w, st);
		pd_jw_obj_end(w);
	}
}

/* its agents are whichever joined: a pending job may bring more later */
static void slurm_health(pd_launcher *l, pd_launcher_health *h)
{
	h->alive = (unsigned)pd_server_agents(l->ctx.srv);
}

/* the agents got BYE; scancel ends what is left of each job */
static void slurm_stop(pd_launcher *l)
{
	slurm_pool *p = l->priv;

	if (!p || p->cancelled)
		return;
	p->cancelled = 1;
	for (unsigned i = 0; i < p->njobs; i++)
		pd_slurm_cancel(p->jobs[i]);
}

static void slurm_free(pd_launcher *l)
{
	free(l->priv);
}

const pd_launcher_ops pd_launcher_slurm = {
	.name = "slurm",
	.before_table = 1, /* --dry-run prints only the script */
	.listen_url = slurm_listen_url,
	.start = slurm_start,
	.grow = slurm_grow,
	.describe = slurm_describe,
	.health = slurm_health,
	.stop = slurm_stop,
	.free = slurm_free,
	.command = pd_slurm_main,
};
