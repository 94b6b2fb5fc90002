/* coproc.h - the agent's coprocess handler: one long-lived COMMAND per
 * slot, fed one line per task (kind PD_TASK_COPROC), no fork per task.
 *
 * As a handler kind (handler.h, pd_handler_coproc) its settings are the
 * COMMAND: the agent's own --coproc, else the controller's (WELCOME).
 *
 * Each coprocess is `/bin/sh -c COMMAND` started by pd_spawn (lib/spawn.h)
 * in its own process group, with death signal SIGKILL, stdin and stdout pipes (non-blocking on the
 * agent's side, watched by the loop), stderr the agent's own stderr (its
 * log), every other fd closed. A task's single word is written with "\n";
 * the next line the coprocess writes is the answer: status ok, stdout the
 * line with its "\n", wall time from the write to the answer.
 *  - task without exactly one word, or a word holding "\n" or "\r" (a
 *    line end for R's readLines and other readers): failed with an error
 *    naming the character, the coprocess is not touched;
 *  - answer longer than out_limit: the first out_limit bytes are kept,
 *    PD_RF_OUT_TRUNC set, the rest up to the newline discarded (ok);
 *  - answer holding a NUL byte: failed, "answer holds a NUL byte";
 *  - bytes that arrive while no task waits, or after the answer in the same
 *    read, are discarded (one line out per line in is the protocol);
 *  - EOF on its stdout or a broken stdin: the group is killed and reaped,
 *    the task (if any) is reported PD_ST_LOST with the exit status and
 *    error "coprocess died ...": the controller requeues it under its crash
 *    limit. The coprocess is started again when the next task needs it;
 *  - no answer within timeout_ms: its group gets SIGKILL, the task is
 *    reported PD_ST_TIMEOUT, the coprocess is started again when needed.
 */
#ifndef PD_COPROC_H
#define PD_COPROC_H

#include <stdint.h>

#include "codec.h"
#include "idset.h"
#include "loop.h"

typedef struct pd_coproc pd_coproc;

/* Called once per task; r and its strings are valid only during the call.
 * The coprocess that ran it is free again when this is called. */
typedef void (*pd_coproc_done_cb)(const pd_result_msg *r, void *arg);

/* Starts `slots` coprocesses running command. command is copied. 0 and
 * *out set; -errno (then *out is NULL and nothing is left running). */
int pd_coproc_new(pd_loop *l, const char *command, uint32_t slots, pd_coproc_done_cb cb,
		  void *arg, pd_coproc **out);

/* Sends t (kind PD_TASK_COPROC) to a free coprocess; t is only read during
 * the call. The result comes through the callback later; a task the line
 * protocol cannot carry (see above) gets its failed result from inside
 * this call. 0; -EBUSY when every coprocess has a task; -errno when no
 * coprocess could be started (then no callback comes). */
int pd_coproc_run(pd_coproc *c, const pd_task_msg *t);

/* Kills every coprocess group, reaps them (bounded wait) and frees c,
 * without callbacks. NULL is fine. */
void pd_coproc_free(pd_coproc *c);
/* The same, but each task under way is first reported lost with error
 * why (the controller runs it again). NULL is fine. */
void pd_coproc_end(pd_coproc *c, const char *why);
/* Kills each coprocess running a task whose id is in ids; each such task
 * is reported failed, "cancelled" (when its stdout ends, from the loop),
 * and the coprocess started again when needed. How many were killed.
 * O(slots x log ids->n). */
size_t pd_coproc_cancel(pd_coproc *c, const pd_idset *ids);

#endif
