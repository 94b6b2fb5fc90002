/* taskq.h - the agent's queue of tasks received and not started: a FIFO
 * of owned pd_task_msg (each one malloc block, as pd_tasks_decode makes
 * them). Pure memory, no I/O. A zeroed pd_taskq is an empty queue. */
#ifndef PD_TASKQ_H
#define PD_TASKQ_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "idset.h"

typedef struct pd_taskq {
	pd_task_msg **v;
	size_t head, len, cap;
} pd_taskq;

/* Appends t. 0 (the queue owns t) or -ENOMEM (the caller keeps it). */
int pd_taskq_push(pd_taskq *q, pd_task_msg *t);
/* The oldest task, taken off the queue (the caller owns it), or NULL. */
pd_task_msg *pd_taskq_pop(pd_taskq *q);
/* The oldest task with id, taken off the queue (the caller owns it; the
 * others keep their order), or NULL. O(len): for one id, not a batch. */
pd_task_msg *pd_taskq_take(pd_taskq *q, uint64_t id);
/* Takes off the queue every task whose id is in s, in queue order, into
 * out (room for q->len pointers; the caller owns them); the others keep
 * their order. How many were taken. One pass: O(len x log s->n). */
size_t pd_taskq_take_set(pd_taskq *q, const pd_idset *s, pd_task_msg **out);
/* Frees every queued task; returns how many there were. */
size_t pd_taskq_clear(pd_taskq *q);
/* pd_taskq_clear, and the queue's own storage (it is empty and usable
 * again afterwards). */
void pd_taskq_free(pd_taskq *q);

#endif
