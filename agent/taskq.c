/* taskq.c - see taskq.h. */
#include "taskq.h"

#include <errno.h>
#include <stdlib.h>

#define AT(q, i) ((q)->v[((q)->head + (i)) % (q)->cap])

int pd_taskq_push(pd_taskq *q, pd_task_msg *t)
{
	if (q->len == q->cap) {
		size_t n = q->cap ? q->cap * 2 : 64;
		pd_task_msg **v = malloc(n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < q->len; i++)
			v[i] = AT(q, i);
		free(q->v);
		q->v = v;
		q->head = 0;
		q->cap = n;
	}
	AT(q, q->len) = t;
	q->len++;
	return 0;
}

pd_task_msg *pd_taskq_pop(pd_taskq *q)
{
	pd_task_msg *t;

	if (!q->len)
		return NULL;
	t = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return t;
}

pd_task_msg *pd_taskq_take(pd_taskq *q, uint64_t id)
{
	pd_task_msg *t;
	size_t at = 0;

	while (at < q->len && AT(q, at)->id != id)
		at++;
	if (at == q->len)
		return NULL;
	t = AT(q, at);
	for (size_t i = at; i + 1 < q->len; i++)
		AT(q, i) = AT(q, i + 1);
	q->len--;
	return t;
}

size_t pd_taskq_take_set(pd_taskq *q, const pd_idset *s, pd_task_msg **out)
{
	size_t kept = 0, taken = 0;

	for (size_t i = 0; i < q->len; i++) {
		pd_task_msg *t = AT(q, i);
		if (pd_idset_has(s, t->id))
			out[taken++] = t;
		else
			AT(q, kept++) = t;
	}
	q->len = kept;
	return taken;
}

size_t pd_taskq_clear(pd_taskq *q)
{
	size_t n = q->len;

	while (q->len)
		free(pd_taskq_pop(q));
	return n;
}

void pd_taskq_free(pd_taskq *q)
{
	pd_taskq_clear(q);
	free(q->v);
	q->v = NULL;
	q->head = q->cap = 0;
}
