/* held.h - who held which attempt of a task, once its agent is gone.
 *
 * The controller takes a late result of an earlier attempt (an agent that
 * reconnected with results finished meanwhile) only from the agent that
 * held that attempt. While an agent is connected the dispatcher knows what
 * it holds; when it leaves, what it held is noted here, keyed by (task,
 * attempt), with a 64-bit digest of the agent id it claimed in its HELLO
 * (the id is the same after a reconnect; the name it was given may carry a
 * "#N" suffix). Pure logic: no I/O, no clock. At most PD_HELD_MAX entries
 * are kept; a note over that is refused (-ENOSPC) and its late result is
 * then refused too. Once a task is finished its notes are dropped
 * (pd_held_settle), so the table holds what unfinished tasks need.
 */
#ifndef PD_HELD_H
#define PD_HELD_H

#include <stddef.h>
#include <stdint.h>

#define PD_HELD_MAX (1u << 20)

typedef struct pd_held pd_held;

/* NULL on allocation failure. */
pd_held *pd_held_new(void);
void pd_held_free(pd_held *h);
/* The digest of a claimed agent id (never 0). */
uint64_t pd_held_digest(const char *id);
/* Notes that agent `who` (a digest) held attempt of task. A second note
 * of the same (task, attempt) replaces the first. 0, -ENOSPC, -ENOMEM. */
int pd_held_put(pd_held *h, uint64_t task, uint32_t attempt, uint64_t who);
/* The digest noted for (task, attempt), or 0 when none. */
uint64_t pd_held_get(const pd_held *h, uint64_t task, uint32_t attempt);
/* task is finished: drops every note of it, and, if there were any,
 * remembers that it had some (pd_held_settled), since a late report of
 * that task from one of those agents can no longer be told from another's
 * (the caller ignores it: it changes nothing). 0, or -ENOMEM (the notes
 * are kept then). */
int pd_held_settle(pd_held *h, uint64_t task);
/* 1 if pd_held_settle dropped notes of task, else 0. */
int pd_held_settled(const pd_held *h, uint64_t task);
/* Notes held now. */
size_t pd_held_count(const pd_held *h);

#endif
