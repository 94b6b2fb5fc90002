/* plugin.h - state shared by the files of the SPANK plugin parade.so.
 *
 * plugin.c holds the entry points and the option values; local.c works in
 * srun, sbatch and salloc (validation, the environment srun passes on);
 * remote.c works in slurmstepd (starting and ending agents, with agents.c).
 * Nothing here is exported from parade.so (see parade.lds).
 */
#ifndef PD_SPANK_PLUGIN_H
#define PD_SPANK_PLUGIN_H

#include <slurm/spank.h>

#include "opts.h"

/* What srun reads to inherit --parade-workers inside a batch job: Slurm
 * keeps the option as _SLURM_SPANK_OPTION_<plugin>_<option> (non-alnum
 * characters become '_') in the job's SPANK environment, which reaches the
 * batch script prefixed with SLURM_SPANK_. */
#define PD_INHERITED_WORKERS "SLURM_SPANK__SLURM_SPANK_OPTION_parade_parade_workers"
/* Set by srun's side for the tasks: "1" when this srun named
 * --parade-workers itself, "0" when it only inherited the option. */
#define PD_EXPLICIT_ENV "PARADE_SPANK_EXPLICIT"

/* Plugin state. The plugin is loaded once per process (srun, sbatch,
 * salloc, one slurmstepd per step), so one static instance serves. */
struct pd_spank_state {
	pd_spank_cfg cfg;
	int cfg_ok;        /* the plugstack arguments parsed */
	char cfg_err[512]; /* why not */

	/* --parade-workers as delivered; the last delivery wins */
	int workers_seen;
	unsigned workers_calls; /* deliveries in this process */
	char workers_arg[64];   /* the value (truncated for messages) */
	unsigned workers;       /* parsed, 0 when workers_bad */
	int workers_bad;
	char workers_err[256];

	/* --parade-controller as delivered */
	int controller_seen;
	char controller[PD_SPANK_PATH_MAX];
	int controller_long; /* the value did not fit */
};

extern struct pd_spank_state pd_sp;

#define pd_sp_error(...) slurm_error("parade: " __VA_ARGS__)
/* Remote progress: slurmd's log at info level with debug=1, else debug. */
#define pd_sp_trace(...)                                                                           \
	do {                                                                                       \
		if (pd_sp.cfg.debug)                                                               \
			slurm_info("parade: " __VA_ARGS__);                                        \
		else                                                                               \
			slurm_debug("parade: " __VA_ARGS__);                                       \
	} while (0)

/* local.c: srun (S_CTX_LOCAL), sbatch and salloc (S_CTX_ALLOCATOR). */
/* Judges a --parade-workers delivery (already stored in pd_sp). 0 or -1
 * after one slurm_error line. */
int pd_local_workers(void);
/* After all options: the final values, the controller file. 0 or -1. */
int pd_local_init_post_opt(void);
/* srun after allocation: marks the option explicit or inherited. */
int pd_local_user_init(spank_t sp);
/* Whether this srun names --parade-workers itself (computed once). */
int pd_local_explicit(void);
/* The file read for the command line; the unit tests point it elsewhere. */
extern const char *pd_local_cmdline_path;
void pd_local_reset(void);

/* remote.c: slurmstepd (S_CTX_REMOTE). Runtime problems never fail these:
 * they are reported to the tasks from pd_remote_task_init. */
int pd_remote_user_init(spank_t sp);
int pd_remote_task_init(spank_t sp);
int pd_remote_task_exit(spank_t sp);
int pd_remote_exit(spank_t sp);
/* The problem recorded for this step, "" if none. */
const char *pd_remote_error(void);
void pd_remote_reset(void);

/* Forgets all state (unit tests run several "processes" in one). */
void pd_spank_reset(void);

#endif
