/* plugin.h - the dispatch (plugin.c): parade.so's SPANK entry points
 * (slurm_spank_*, declared by <slurm/spank.h>) switch on spank_context()
 * into local.h (srun, sbatch, salloc) and remote.h (slurmstepd); every
 * other context only registers the options. Only the unit tests include
 * this header, for the reset below.
 */
#ifndef PD_SPANK_PLUGIN_H
#define PD_SPANK_PLUGIN_H

/* Forgets all state, of every context (unit tests run several
 * "processes" in one). */
void pd_spank_reset(void);

#endif
