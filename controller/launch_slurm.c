/* launch_slurm.c - the pure parts of the Slurm launcher and of `parade
 * launch slurm` (launch_slurm.h): options, scripts, srun's command line,
 * reading scontrol; and the sbatch/scancel/scontrol calls. The launcher
 * itself is launch_slurm_job.c, the command launch_slurm_cmd.c. */
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
	} else if (!strcmp(name, "slurm-retries")) {
		char *end;
		unsigned long v = strtoul(value, &end, 10);
		if (!*value || *end || v > PD_SLURM_RETRIES_MAX || value[0] == '-') {
			pd_seterr(err, errlen,
				  "--slurm-retries '%s': expected a whole number from 0 to %u", value,
				  PD_SLURM_RETRIES_MAX);
			return -EINVAL;
		}
		o->retries = (unsigned)v;
		o->retries_set = 1;
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


int pd_slurm_holder_script(const pd_slurm_opts *o, const char *job_name, pd_buf *out, char *err,
			   size_t errlen)
{
	char num[32];
	int rv = 0;

	rv |= app(out, "#!/bin/sh\n# parade agents' allocation, written by parade run\n");
	snprintf(num, sizeof(num), "%u", o->n);
	if ((rv = directive(out, "job-name", job_name, err, errlen)) < 0 ||
	    (rv = directive(out, "nodes", num, err, errlen)) < 0 ||
	    (rv = directive(out, "ntasks-per-node", "1", err, errlen)) < 0)
		return rv;
	if (o->cpus) {
		snprintf(num, sizeof(num), "%u", o->cpus);
		rv = directive(out, "cpus-per-task", num, err, errlen);
	} else {
		rv = app(out, "#SBATCH --exclusive\n");
	}
	/* nothing the nodes must have: no output file (a session folder
	 * exists on the controller's host only) */
	if (rv < 0 || (rv = directive(out, "output", "/dev/null", err, errlen)) < 0 ||
	    (rv = directive(out, "partition", o->partition, err, errlen)) < 0 ||
	    (rv = directive(out, "time", o->time, err, errlen)) < 0 ||
	    (rv = directive(out, "mem", o->mem, err, errlen)) < 0 ||
	    (rv = directive(out, "account", o->account, err, errlen)) < 0)
		return rv;
	/* The controller starts the agents as a step of this job (srun
	 * --jobid). This script only holds the allocation, and lets it go once
	 * no other step has run for a minute: the controller that would start
	 * or restart them is gone. An squeue that fails counts as a step. */
	rv = app(out,
		 "# the agents run as a step the controller starts (srun --jobid);\n"
		 "# this script holds the allocation until no step has run for 60 s\n"
		 "idle=0\n"
		 "while [ \"$idle\" -lt 4 ]; do\n"
		 "\tsleep 15\n"
		 "\tsteps=$(squeue -h -s -j \"$SLURM_JOB_ID\" -o %i 2>/dev/null) || { idle=0; continue; }\n"
		 "\tif printf '%s\\n' \"$steps\" | grep -qv -e '\\.batch$' -e '\\.extern$' -e '^$'; then\n"
		 "\t\tidle=0\n"
		 "\telse\n"
		 "\t\tidle=$((idle + 1))\n"
		 "\tfi\n"
		 "done\n");
	if (rv < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int pd_slurm_srun_argv(const pd_slurm_opts *o, const char *jobid, unsigned nodes,
		       const char *agent, pd_slurm_srun *out)
{
	pd_agent_cmd cmd = {0};
	pd_agent_argv a;
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->num[0], sizeof(out->num[0]), "--jobid=%s", jobid);
	snprintf(out->num[1], sizeof(out->num[1]), "--nodes=%u", nodes);
	snprintf(out->num[2], sizeof(out->num[2]), "--ntasks=%u", nodes);
	out->argv[k++] = "srun";
	out->argv[k++] = out->num[0];
	out->argv[k++] = out->num[1];
	out->argv[k++] = out->num[2];
	out->argv[k++] = "--ntasks-per-node=1";
	if (o->cpus) {
		snprintf(out->num[3], sizeof(out->num[3]), "--cpus-per-task=%u", o->cpus);
		out->argv[k++] = out->num[3];
	}
	/* every agent gets the connection text; one agent that fails does
	 * not end the others */
	out->argv[k++] = "--input=all";
	out->argv[k++] = "--kill-on-bad-exit=0";
	out->argv[k++] = "--quiet";
	cmd.program = agent;
	cmd.connect = "-";
	cmd.mode = "slurm";
	cmd.slots = o->slots;
	cmd.verbose = o->verbose;
	cmd.coproc = o->coproc;
	if (pd_agent_cmd_argv(&cmd, &a) < 0)
		return -EINVAL;
	for (size_t i = 0; a.argv[i]; i++) {
		if (k + 1 >= PD_SLURM_SRUN_ARGV_MAX)
			return -E2BIG;
		/* the numbers point into a: copy them */
		if (a.argv[i] == a.num[0] || a.argv[i] == a.num[1]) {
			size_t slot = a.argv[i] == a.num[0] ? 4 : 5;
			snprintf(out->num[slot], sizeof(out->num[slot]), "%s", a.argv[i]);
			out->argv[k++] = out->num[slot];
		} else {
			out->argv[k++] = a.argv[i];
		}
	}
	out->argv[k] = NULL;
	return 0;
}

/* the value of KEY= in scontrol's one-line output, up to a space */
static void field(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = text;

	out[0] = 0;
	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " \r\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p + kl + 1, n);
			out[n] = 0;
			return;
		}
		p += kl;
	}
}

int pd_slurm_job_parse(const char *text, pd_slurm_job_info *ji)
{
	memset(ji, 0, sizeof(*ji));
	field(text, "JobState", ji->state, sizeof(ji->state));
	field(text, "Reason", ji->reason, sizeof(ji->reason));
	field(text, "NodeList", ji->nodes, sizeof(ji->nodes));
	if (!strcmp(ji->nodes, "(null)"))
		ji->nodes[0] = 0;
	if (!strcmp(ji->reason, "None") || !strcmp(ji->reason, "(null)"))
		ji->reason[0] = 0;
	if (!ji->state[0]) {
		snprintf(ji->state, sizeof(ji->state), "?");
		return -EINVAL;
	}
	return 0;
}

void pd_slurm_job_query(const char *jobid, pd_slurm_job_info *ji)
{
	char *argv[] = {"scontrol", "-o", "show", "job", (char *)jobid, NULL}, out[8192],
	     msg[512];
	int rv = pd_spawn_output(argv, out, sizeof(out), msg, sizeof(msg));

	if (rv == 0 && pd_slurm_job_parse(out, ji) == 0)
		return;
	memset(ji, 0, sizeof(*ji));
	/* slurmctld forgets a job MinJobAge after it ended */
	snprintf(ji->state, sizeof(ji->state), "%s", strstr(msg, "Invalid job id") ? "GONE" : "?");
	if (ji->state[0] == '?') {
		chomp(msg);
		snprintf(ji->reason, sizeof(ji->reason), "%s", msg);
	}
}

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

int pd_slurm_state_final(const char *state)
{
	static const char *const final[] = {
		"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE",	"FAILED",
		"NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT", "SPECIAL_EXIT",
		"REVOKED",   "GONE",	      NULL};

	return in_list(state, final);
}

int pd_slurm_reason_hopeless(const char *reason)
{
	static const char *const hopeless[] = {
		"BadConstraints",	   "DependencyNeverSatisfied",
		"InvalidAccount",	   "InvalidQOS",
		"PartitionConfig",	   "PartitionNodeLimit",
		"PartitionTimeLimit",	   "QOSMaxWallDurationPerJobLimit",
		"AssocMaxWallDurationPerJobLimit", "launch_failed_requeued_held",
		NULL};

	return in_list(reason, hopeless);
}
