/* launch_slurm.h - agents in Slurm jobs: `parade run --launch slurm:N`
 * (the launcher, launch_slurm_job.c) and `parade launch slurm` (its
 * command, launch_slurm_cmd.c), and the pure parts they share
 * (launch_slurm.c).
 *
 * --launch slurm:N asks for N nodes, one agent on each. It submits a job
 * that only holds the allocation (pd_slurm_holder_script: its script
 * waits, its output goes to /dev/null, so nothing has to exist on the
 * nodes), and once the job runs the controller starts the agents itself,
 * as a step of that job: `srun --jobid=J -N N -n N --ntasks-per-node=1
 * [-c C] parade-agent --connect - --mode slurm [--slots K]`
 * (pd_slurm_srun_argv), a child of the controller with the session's
 * connection text (the secret included) written to its stdin. srun hands
 * its stdin to every task (--input=all), so each agent reads the text up to
 * its line `end` and then leaves when stdin closes: when the controller
 * ends, or dies. The secret never goes on a command line, into the job's
 * environment or into a file, and PARADE_HOME need not be shared: nothing
 * on the nodes reads it.
 *
 * The launcher watches each job (scontrol's JobState and Reason, srun's
 * exit): a job that ends before it was asked to (cancelled, time limit,
 * preempted, node failure, its step failing at launch) or that can never
 * start (pd_slurm_reason_hopeless) is replaced by a new job, up to
 * --slurm-retries replacements in all; past that the run gives up with the
 * job's state and reason.
 *
 * `parade launch slurm` still writes an sbatch script whose step reads
 * the session's connection file (pd_slurm_script): it needs a PARADE_HOME
 * that the nodes share.
 */
#ifndef PD_LAUNCH_SLURM_H
#define PD_LAUNCH_SLURM_H

#include <stddef.h>

#include "buf.h"

#define PD_SLURM_MAX_ARGS 64
/* replacement jobs --launch slurm:N submits in all when --slurm-retries is
 * not given */
#define PD_SLURM_RETRIES_DEFAULT 3u
#define PD_SLURM_RETRIES_MAX 1000u

typedef struct pd_slurm_opts {
	unsigned n;		/* agents: nodes for --launch slurm:N, tasks for
				 * parade launch slurm */
	const char *partition;	/* NULL: the cluster's default */
	const char *time;
	const char *mem;
	const char *account;
	unsigned cpus;		/* cpus per agent, 0: default (--launch slurm: the
				 * whole node) */
	const char *args[PD_SLURM_MAX_ARGS]; /* extra sbatch arguments, verbatim */
	size_t nargs;
	int dry_run;
	const char *coproc;	/* the agents' --coproc COMMAND, or NULL */
	unsigned slots;		/* the agents' --slots K; 0: not given (an agent
				 * in --mode slurm takes the CPUs Slurm gave it) */
	unsigned retries;	/* --slurm-retries, when retries_set */
	int retries_set;
	int verbose;		/* the agents' -v */
} pd_slurm_opts;

/* Parses one of the launcher's options (name without "--", e.g.
 * "partition", "slurm-retries") into o. 1 if it was one of them, 0 if not,
 * -EINVAL with a message on stderr if its value is bad. */
int pd_slurm_opt(pd_slurm_opts *o, const char *name, const char *value);
/* The same, printing nothing: the problem goes into err (the line
 * pd_slurm_opt prints, without its "parade: "). */
int pd_slurm_opt_err(pd_slurm_opts *o, const char *name, const char *value, char *err,
		     size_t errlen);

/* `parade launch slurm`'s sbatch script (pure): N tasks in one srun step
 * whose agents read connfile (a path the nodes must see), job output in
 * logdir. Values are shell-quoted where they reach a shell; #SBATCH values
 * must not hold newlines (-EINVAL + err). */
int pd_slurm_script(const pd_slurm_opts *o, const char *job_name, const char *agent,
		    const char *connfile, const char *logdir, pd_buf *out, char *err,
		    size_t errlen);

/* --launch slurm:N's script (pure): o->n nodes, one task each, -c
 * o->cpus or the whole node (--exclusive), output to /dev/null; it holds
 * the allocation and leaves once no step but its own has run in the job for
 * a minute (the controller that would start the agents is gone). 0 or
 * -EINVAL + err (a value with a line break), -ENOMEM. */
int pd_slurm_holder_script(const pd_slurm_opts *o, const char *job_name, pd_buf *out, char *err,
			   size_t errlen);

/* The srun that starts the agents in job jobid (pure): argv[] points into
 * o, jobid, agent and num[]; NULL-terminated. 0, or -E2BIG when it does
 * not fit. */
#define PD_SLURM_SRUN_ARGV_MAX 48
typedef struct pd_slurm_srun {
	char *argv[PD_SLURM_SRUN_ARGV_MAX];
	char num[6][32];
} pd_slurm_srun;
int pd_slurm_srun_argv(const pd_slurm_opts *o, const char *jobid, unsigned nodes,
		       const char *agent, pd_slurm_srun *out);

/* Writes the script to path (0600), submits it with `sbatch --parsable`
 * plus o->args, and returns the job id in jobid. On failure err holds
 * sbatch's own message. 0 or -errno. */
int pd_slurm_submit(const pd_slurm_opts *o, const char *path, const pd_buf *script, char *jobid,
		    size_t idlen, char *err, size_t errlen);

/* What scontrol says of a job. */
typedef struct pd_slurm_job_info {
	char state[32];   /* JobState: "PENDING", "RUNNING", "CANCELLED"...;
			   * "GONE" when slurmctld no longer knows the job, "?"
			   * when it could not be asked */
	char reason[128]; /* Reason, "" for None */
	char nodes[256];  /* NodeList, "" when none yet */
} pd_slurm_job_info;

/* Parses `scontrol -o show job` output (pure): JobState= and Reason=. 0,
 * or -EINVAL when there is no JobState. */
int pd_slurm_job_parse(const char *text, pd_slurm_job_info *ji);
/* Asks scontrol (blocks for its round trip). */
void pd_slurm_job_query(const char *jobid, pd_slurm_job_info *ji);
/* 1 when state is one a job never leaves (COMPLETED, CANCELLED, FAILED,
 * TIMEOUT, PREEMPTED, NODE_FAIL, BOOT_FAIL, DEADLINE, OUT_OF_MEMORY...,
 * and GONE). */
int pd_slurm_state_final(const char *state);
/* 1 when a pending job's reason means it will never start by waiting
 * (PartitionConfig, PartitionTimeLimit, BadConstraints, InvalidAccount,
 * DependencyNeverSatisfied...). */
int pd_slurm_reason_hopeless(const char *reason);

/* Cancels the job if it is still there (scancel; errors ignored). */
void pd_slurm_cancel(const char *jobid);

/* `parade launch slurm ...` (argv[0] is "slurm"): submits an sbatch job of
 * N agents for a running controller and prints its id. The exit status. */
int pd_slurm_main(int argc, char **argv);

#endif
