/* disp_agents.h - the dispatcher's agent table: agents by id, and which one
 * to serve next (pure logic: no I/O, no clock). Private to dispatch.c and
 * disp_agents.c.
 *
 * Agents live in slots of one array; a removed agent's slot goes on a free
 * list for the next one. An id finds its slot through an open-addressing
 * hash. The agents with credit (not draining, out < limit) are kept in a
 * min-heap by load in dispatcher mode, or marked in a bitmap over the add
 * order in round-robin mode; pd_dag_pick reads whichever is in use.
 *
 * The table reads an agent's id, slots, limit, out and draining; dispatch.c
 * owns the meaning of out, settled and the log, and calls pd_dag_update
 * after it changes out or draining. Nothing here allocates but
 * pd_dag_add. */
#ifndef PD_DISP_AGENTS_H
#define PD_DISP_AGENTS_H

#include <stddef.h>
#include <stdint.h>

/* no slot: not found, nothing to pick */
#define PD_DAG_NONE UINT32_MAX
/* slots stay below this; dispatch.c uses the values above it as task
 * owners that are not agents */
#define PD_DAG_MAX_SLOTS (UINT32_MAX - 3)

/* (task, attempt) handed to an agent; dead once the task moved on */
struct hand {
	uint64_t task;
	uint32_t attempt;
};

struct agent {
	uint32_t id;
	uint32_t slots;
	uint64_t limit;   /* max outstanding now */
	uint64_t full;    /* what limit grows to (dispatch.c: slow start) */
	uint64_t out;     /* tasks held: the credit in use */
	uint64_t settled; /* of those, settled elsewhere, not yet reported */
	int draining;
	uint32_t hpos;   /* index in heap, dispatcher mode */
	size_t rpos;     /* index in rr order, round-robin mode */
	uint32_t next_free;
	/* handout log in handout order, live entries = out; compacted lazily
	 * so completion is O(1) and removal can requeue in order */
	struct hand *log;
	size_t nlog, caplog;
};

/* Embedded in the dispatcher; only disp_agents.c touches the fields but
 * ag (an agent by slot) and nagents (how many are in the table). */
typedef struct pd_dag {
	int round_robin; /* pd_disp_opts.round_robin */

	struct agent *ag;
	uint32_t nag_slots, cap_ag, free_head, nagents;
	uint32_t *hash; /* open addressing, linear probing, slot or NONE */
	uint32_t hcap;  /* power of two */

	/* dispatcher mode: min-heap of agents with credit */
	uint32_t *heap;
	uint32_t nheap;

	/* round-robin mode: agents in add order, holes for removed ones,
	 * with a bitmap of those with credit */
	uint32_t *order;
	uint64_t *elig;
	size_t norder, cap_order, nelig, rr_cur;
} pd_dag;

/* Makes *d an empty table for round-robin (1) or dispatcher (0) mode;
 * allocates nothing. */
void pd_dag_init(pd_dag *d, int round_robin);
/* Frees what d holds, every agent's log included; not d itself. */
void pd_dag_free(pd_dag *d);

/* The slot of agent id, or PD_DAG_NONE. */
uint32_t pd_dag_find(const pd_dag *d, uint32_t id);
/* Adds agent id (not in d yet) with slots (>= 1) and limit (the most it
 * may hold): nothing out, not draining, an empty log (a reused slot keeps
 * its log's memory). 0, or -ENOMEM and no agent is added. */
int pd_dag_add(pd_dag *d, uint32_t id, uint32_t slots, uint64_t limit);
/* Removes the agent in slot s: zeroes its out, settled and log, and puts
 * the slot on the free list. */
void pd_dag_remove(pd_dag *d, uint32_t s);

/* puts the agent in or out of the pick structure after any change */
void pd_dag_update(pd_dag *d, uint32_t s);
/* The slot of the agent to serve next, PD_DAG_NONE when none has credit:
 * dispatcher mode the least loaded (out / slots, ties to the lowest id),
 * round-robin mode the next in add order after the one last served. */
uint32_t pd_dag_pick(pd_dag *d);
/* Slot s was just handed tasks: round-robin moves on past it; then as
 * pd_dag_update. */
void pd_dag_served(pd_dag *d, uint32_t s);

#endif
