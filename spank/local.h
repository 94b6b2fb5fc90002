/* local.h - the plugin in srun (S_CTX_LOCAL), sbatch and salloc
 * (S_CTX_ALLOCATOR): judging the options before anything is submitted,
 * and telling the step whether srun named --parade-workers itself.
 * Called by plugin.c only; reads common.h's state.
 */
#ifndef PD_SPANK_LOCAL_H
#define PD_SPANK_LOCAL_H

#include <slurm/spank.h>

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
/* Forgets this context's state (unit tests). */
void pd_local_reset(void);

#endif
