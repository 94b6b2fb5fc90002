/* common.h - what every part of the SPANK plugin parade.so shares: the
 * option values as Slurm delivered them, the plugstack arguments, the
 * names of the variables srun and slurmstepd pass between them, and the
 * log helpers. local.c (srun, sbatch, salloc) and remote.c (slurmstepd)
 * read it; plugin.c (the dispatch) fills it through the functions below.
 *
 * This header includes no other header of spank/ but opts.h (pure), so
 * no file of the plugin includes its way back to itself. Nothing here is
 * exported from parade.so (see parade.lds).
 */
#ifndef PD_SPANK_COMMON_H
#define PD_SPANK_COMMON_H

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

/* A step's endpoint and secret, made by srun (local_user_init) and
 * carried to every node in the step's launch environment; slurmstepd
 * removes both from the job's environment before any task or agent
 * starts (remote.c), so no task ever sees the secret. */
#define PD_STEP_KEY_ENV "PARADE_STEP_KEY"   /* 64 hex digits: the TLS PSK */
#define PD_STEP_PORT_ENV "PARADE_STEP_PORT" /* the controller's TCP port */
/* Each task's descriptor holding the step's connection text. */
#define PD_STEP_FD_ENV "PARADE_STEP_FD"

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

/* Parses the plugstack arguments into pd_sp.cfg (cfg_ok, cfg_err); on a
 * problem logs it once ("parade: ..."). 0 or -1. */
int pd_sp_configure(int ac, char **av);

/* Options may be delivered twice (slurmstepd before 24.05 reads them from
 * the launch message and from the environment; srun from the environment,
 * then from its command line): each delivery replaces the last. */
/* Stores a --parade-workers delivery (parsed against cfg.max_workers). */
void pd_sp_take_workers(const char *optarg);
/* Stores a --parade-controller delivery. */
void pd_sp_take_controller(const char *optarg);

/* A fresh step key (64 hex digits and a NUL) and port (decimal, in the
 * site's port_range= or the default range). 0 or -errno. */
int pd_sp_make_key(char key[65], char port[8]);

/* Forgets the option values and the arguments (unit tests). */
void pd_sp_reset(void);

#endif
