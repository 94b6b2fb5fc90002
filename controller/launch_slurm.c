#include "launch_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "template.h"

int pd_slurm_opt(pd_slurm_opts *o, const char *name, const char *value)
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
			fprintf(stderr, "parade: --cpus '%s': expected a whole number from 1 to 4096\n",
				value);
			return -EINVAL;
		}
		o->cpus = (unsigned)v;
	} else if (!strcmp(name, "sbatch-arg")) {
		if (o->nargs == PD_SLURM_MAX_ARGS) {
			fprintf(stderr, "parade: too many --sbatch-arg (%d at most)\n",
				PD_SLURM_MAX_ARGS);
			return -EINVAL;
		}
		o->args[o->nargs++] = value;
	} else {
		return 0;
	}
	if (!*value) {
		fprintf(stderr, "parade: --%s needs a value\n", name);
		return -EINVAL;
	}
	return 1;
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
	rv = app(out, "exec srun --kill-on-bad-exit=0 ");
	rv |= pd_shell_quote(out, agent, strlen(agent));
	rv |= app(out, " --connect ");
	rv |= pd_shell_quote(out, connfile, strlen(connfile));
	rv |= app(out, " --mode slurm --grace 30");
	if (o->coproc) {
		rv |= app(out, " --coproc ");
		rv |= pd_shell_quote(out, o->coproc, strlen(o->coproc));
	}
	rv |= app(out, "\n");
	if (rv < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* Runs argv, collecting its stdout and stderr; returns the exit status or
 * -errno. */
static int run_capture(char *const argv[], char *out, size_t outlen, char *errbuf, size_t errlen)
{
	int po[2], pe[2], st = 0;
	pid_t pid;
	size_t no = 0, ne = 0;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return -errno;
	}
	/* sbatch and scancel print little: read stdout, then stderr */
	for (ssize_t r; (r = read(po[0], out + no, outlen - 1 - no)) > 0 && no < outlen - 1;)
		no += (size_t)r;
	for (ssize_t r; (r = read(pe[0], errbuf + ne, errlen - 1 - ne)) > 0 && ne < errlen - 1;)
		ne += (size_t)r;
	out[no] = 0;
	errbuf[ne] = 0;
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
	rv = run_capture(argv, out, sizeof(out), msg, sizeof(msg));
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
		run_capture(argv, out, sizeof(out), msg, sizeof(msg));
}

void pd_slurm_state(const char *jobid, char *state, size_t len)
{
	char *argv[] = {"squeue", "-h", "-j", (char *)jobid, "-o", "%T", NULL}, out[64], msg[512];
	int rv = run_capture(argv, out, sizeof(out), msg, sizeof(msg));

	out[strcspn(out, "\r\n")] = 0;
	/* squeue forgets a job soon after it ends, or says it is invalid */
	snprintf(state, len, "%s", rv == 0 && out[0] ? out : rv == 0 || strstr(msg, "Invalid") ? "GONE" : "?");
}
