/* launch_slurm.h - agents as a step of an sbatch job.
 *
 * The script asks for N tasks (one agent each) and runs them with one
 * `srun` step, so Slurm accounts, confines and ends them like any job.
 * The agents read the session's connection file, which must be visible on
 * the compute nodes (PARADE_HOME on a shared file system), and dial the
 * controller over TLS.
 */
#ifndef PD_LAUNCH_SLURM_H
#define PD_LAUNCH_SLURM_H

#include <stddef.h>

#include "buf.h"

#define PD_SLURM_MAX_ARGS 64

typedef struct pd_slurm_opts {
	unsigned n;		/* agents (tasks) */
	const char *partition;	/* NULL: the cluster's default */
	const char *time;
	const char *mem;
	const char *account;
	unsigned cpus;		/* cpus per agent, 0: default */
	const char *args[PD_SLURM_MAX_ARGS]; /* extra sbatch arguments, verbatim */
	size_t nargs;
	int dry_run;
	const char *coproc;	/* the agents' --coproc COMMAND, or NULL */
} pd_slurm_opts;

/* Parses one of the launcher's options (name without "--", e.g.
 * "partition") into o. 1 if it was one of them, 0 if not, -EINVAL with a
 * message on stderr if its value is bad. */
int pd_slurm_opt(pd_slurm_opts *o, const char *name, const char *value);
/* The same, printing nothing: the problem goes into err (the line
 * pd_slurm_opt prints, without its "parade: "). */
int pd_slurm_opt_err(pd_slurm_opts *o, const char *name, const char *value, char *err,
		     size_t errlen);

/* Writes the sbatch script (pure). Values are shell-quoted where they
 * reach a shell; #SBATCH values must not hold newlines (-EINVAL + err). */
int pd_slurm_script(const pd_slurm_opts *o, const char *job_name, const char *agent,
		    const char *connfile, const char *logdir, pd_buf *out, char *err,
		    size_t errlen);

/* Writes the script to path (0600), submits it with `sbatch --parsable`
 * plus o->args, and returns the job id in jobid. On failure err holds
 * sbatch's own message. 0 or -errno. */
int pd_slurm_submit(const pd_slurm_opts *o, const char *path, const pd_buf *script, char *jobid,
		    size_t idlen, char *err, size_t errlen);

/* The job's queue state as squeue says it ("PENDING", "RUNNING", ...),
 * "GONE" once squeue no longer lists it, "?" when squeue cannot be run. */
void pd_slurm_state(const char *jobid, char *state, size_t len);
/* Cancels the job if it is still there (scancel; errors ignored). */
void pd_slurm_cancel(const char *jobid);

/* `parade launch slurm ...` (argv[0] is "slurm"): submits an sbatch job of
 * N agents for a running controller and prints its id. The exit status. */
int pd_slurm_main(int argc, char **argv);

#endif
