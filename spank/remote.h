/* remote.h - the plugin in slurmstepd (S_CTX_REMOTE): starting this
 * node's share of a step's agents (agents.h) with the command line and
 * environment of lib/agent_cmd.h, telling the tasks about problems, and
 * ending the agents with the step. Called by plugin.c only; reads
 * common.h's state.
 *
 * Runtime problems never fail these (failing user_init can drain the
 * node): they are recorded and reported to the tasks from task_init.
 */
#ifndef PD_SPANK_REMOTE_H
#define PD_SPANK_REMOTE_H

#include <slurm/spank.h>

int pd_remote_user_init(spank_t sp);
int pd_remote_task_init(spank_t sp);
int pd_remote_task_exit(spank_t sp);
int pd_remote_exit(spank_t sp);
/* The problem recorded for this step, "" if none. */
const char *pd_remote_error(void);
/* Forgets this context's state and its agents (unit tests). */
void pd_remote_reset(void);

#endif
