/* dispatch.h - which task goes to which agent (pure logic: no I/O, no clock).
 *
 * Tasks are dense ids 0, 1, 2, ... added in order; the queue is FIFO
 * (requeued tasks go to the front so they are not starved). Agents are
 * small integer ids chosen by the caller, each with a number of slots.
 *
 * Default mode ("dispatcher"): an agent may hold at most slots + prefetch
 * outstanding tasks; pd_disp_next() serves the agent with credit that is
 * least loaded (outstanding / slots, ties to the lowest agent id).
 * Round-robin mode (--no-dispatcher): agents are served in strict rotation
 * regardless of load, each may hold up to slots * rr_window tasks, so the
 * queue is pushed out up front in large shares.
 * A batch handed out is at most `chunk` tasks (one frame).
 *
 * Attempts start at 1. A task whose agent is lost is requeued with
 * attempt + 1 until it has been lost crash_limit times, then it is reported
 * lost. A task that fails on its own is retried (attempt + 1, back of the
 * queue) up to `retries` times. Both budgets count only what this
 * dispatcher saw, so a restarted controller gives every task a fresh one.
 *
 * A task is queued, outstanding (handed out, not finished) or finished
 * (done, lost or settled); queued + outstanding + finished = total.
 * A task settled while an agent holds it is finished, yet that agent keeps
 * the credit for it until it reports the task or is removed.
 */
#ifndef PD_DISPATCH_H
#define PD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct pd_disp pd_disp;

typedef struct pd_disp_opts {
	int round_robin;      /* 0: dispatcher mode, 1: round-robin */
	uint32_t chunk;       /* tasks per batch, >= 1 (default 1) */
	uint32_t prefetch;    /* extra outstanding per agent in dispatcher mode */
	uint32_t rr_window;   /* outstanding per slot in round-robin mode */
	uint32_t crash_limit; /* losses before a task is lost (default 3) */
	uint32_t retries;     /* re-runs of a task that failed by itself */
	uint32_t start;       /* credit of a new agent (slow start, below) */
} pd_disp_opts;

/* Slow start: a new agent may hold at most min(its limit, start) tasks at
 * first, and every result it reports (done or retried; not a crash, not a
 * stale one) raises that by one up to its limit, so its credit doubles
 * with each round of results. What an agent that never reports can hold,
 * and so make lost by leaving crash_limit times, is bounded by start, not
 * by the slot count it claims. */
#define PD_DISP_START 64u

/* Fills defaults: dispatcher mode, chunk 1, prefetch 2, rr_window 64,
 * crash_limit 3, retries 0, start PD_DISP_START. */
void pd_disp_opts_default(pd_disp_opts *o);

/* NULL on allocation failure. Zero fields of o are replaced by defaults
 * except round_robin and retries. */
pd_disp *pd_disp_new(const pd_disp_opts *o);
void pd_disp_free(pd_disp *d);

/* Adds tasks [first, first + n) to the back of the queue; first must be
 * the number of tasks added so far. 0, -EINVAL or -ENOMEM. */
int pd_disp_add_tasks(pd_disp *d, uint64_t first, uint64_t n);

/* Registers an agent (id unused so far, slots >= 1). 0, -EEXIST, -ENOMEM. */
int pd_disp_agent_add(pd_disp *d, uint32_t agent, uint32_t slots);
/* The agent takes no new tasks (drain); its outstanding ones stay. */
int pd_disp_agent_drain(pd_disp *d, uint32_t agent);
/* Removes an agent that is gone. Its outstanding tasks are requeued at the
 * front (attempt + 1) or, at the crash limit, become lost: their ids are
 * stored in a malloc'd *lost array (*nlost of them; NULL when none),
 * which the caller frees. Tasks it held that were settled stay finished.
 * 0, -ENOENT, -ENOMEM. */
int pd_disp_agent_remove(pd_disp *d, uint32_t agent, uint64_t **lost, size_t *nlost);

/* Picks the next agent to serve and up to min(max, chunk, its credit)
 * tasks for it, taking them off the queue (settled tasks are never handed
 * out). Returns the number of tasks written to ids[] (0: nothing to do
 * now) and sets *agent. */
size_t pd_disp_next(pd_disp *d, uint32_t *agent, uint64_t *ids, size_t max);

enum pd_disp_outcome { PD_DISP_DONE = 0, PD_DISP_RETRY = 1, PD_DISP_STALE = 2 };
/* How a task ended on its agent: ok, failed by itself (--retries), or its
 * handler crashed under it (a coprocess died): a crash counts like a loss
 * of the agent, against the crash limit. */
enum pd_disp_end { PD_END_OK = 0, PD_END_FAILED = 1, PD_END_CRASHED = 2 };
/* Reports that `agent` finished `task` at `attempt`, ending as `end`
 * (enum pd_disp_end). DONE: record it. RETRY: it went back to the queue
 * with attempt + 1: at the back after a failure while retries remain, at
 * the front after a crash below the crash limit (at the limit the crash is
 * DONE: the caller reports the task lost). STALE: the report does not
 * match an outstanding (agent, task, attempt): ignore it. The agent's own
 * report of a task settled while it held it is STALE too, and gives the
 * agent its credit back. */
int pd_disp_complete(pd_disp *d, uint32_t agent, uint64_t task, uint32_t attempt, int end);

/* A result for `task` came from outside pd_disp_complete (a late report of
 * an older attempt, say from an agent that reconnected, or one a restarted
 * controller found in its journal); the caller records it. Returns 1 if
 * the task was not finished and now is (counted in pd_disp_finished): a
 * queued task leaves the queue for good; an outstanding one stays with its
 * agent (see pd_disp_complete, pd_disp_agent_remove) but no longer counts
 * as outstanding. Returns 0 if it was finished already (done, lost or
 * settled), -EINVAL if task >= total. O(1). */
int pd_disp_settle(pd_disp *d, uint64_t task);

/* For a restarted controller: the queued `task` will be handed out as
 * `attempt`, which should be above every attempt handed out before the
 * restart so that their late reports are STALE. Later requeues count on
 * from it. Loss and retry counts are not touched (see the top). 0, or
 * -EINVAL if task >= total, the task is not queued, or attempt is below
 * its current attempt (a number this dispatcher may have handed out). */
int pd_disp_set_attempt(pd_disp *d, uint64_t task, uint32_t attempt);

/* Whether some agent holds `task` at `attempt` now (handed out and not
 * reported, settled or not): 1 with *agent set, else 0. O(1). */
int pd_disp_holder(const pd_disp *d, uint64_t task, uint32_t attempt, uint32_t *agent);
/* Calls cb(arg, task, attempt) for every task `agent` holds now, in
 * hand-out order (before pd_disp_agent_remove, to note who held what).
 * 0 or -ENOENT. */
int pd_disp_agent_held(const pd_disp *d, uint32_t agent,
		       void (*cb)(void *arg, uint64_t task, uint32_t attempt), void *arg);

/* Current attempt number of a task (1 for a task never requeued nor given
 * one by pd_disp_set_attempt); 0 if task >= total. */
uint32_t pd_disp_attempt(const pd_disp *d, uint64_t task);
/* Counts, all exact and O(1). Outstanding: handed out and not finished, so
 * settled tasks do not count, though their agent may still run them. */
size_t pd_disp_queued(const pd_disp *d);
size_t pd_disp_outstanding(const pd_disp *d);
/* 0 for an unknown agent */
size_t pd_disp_agent_outstanding(const pd_disp *d, uint32_t agent);
size_t pd_disp_agents(const pd_disp *d);
/* Number of tasks done, lost or settled (terminal). */
uint64_t pd_disp_finished(const pd_disp *d);
uint64_t pd_disp_total(const pd_disp *d);

#endif
