/* held.c - held.h: an open-addressing hash of (task, attempt) -> digest,
 * linear probing on the task alone (so every note of one task is in the
 * run of slots from its home slot to the next empty one) with
 * backward-shift deletion, and a bitset of the tasks settled with notes. */
#include "held.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t task;
	uint64_t who; /* 0: empty */
	uint32_t attempt;
};

struct pd_held {
	struct entry *e;
	size_t cap; /* 0 or a power of two */
	size_t n;
	uint64_t *settled; /* bit per task: pd_held_settle dropped its notes */
	size_t nsettled;   /* words in it */
};

pd_held *pd_held_new(void)
{
	return calloc(1, sizeof(pd_held));
}

void pd_held_free(pd_held *h)
{
	if (!h)
		return;
	free(h->e);
	free(h->settled);
	free(h);
}

uint64_t pd_held_digest(const char *id)
{
	/* FNV-1a: the id is claimed by the agent anyway, so this needs to
	 * tell honest ids apart, not resist a forger */
	uint64_t x = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		x ^= *p;
		x *= 0x100000001b3ull;
	}
	return x ? x : 1;
}

static size_t slot_of(uint64_t task, size_t cap)
{
	uint64_t k = task * 0x9e3779b97f4a7c15ull;

	return (size_t)(k ^ (k >> 29)) & (cap - 1);
}

static struct entry *find(const pd_held *h, uint64_t task, uint32_t attempt)
{
	size_t i;

	if (!h->cap)
		return NULL;
	for (i = slot_of(task, h->cap);; i = (i + 1) & (h->cap - 1)) {
		struct entry *e = &h->e[i];
		if (!e->who || (e->task == task && e->attempt == attempt))
			return e;
	}
}

static int grow(pd_held *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 1024;
	struct entry *old = h->e;
	size_t ocap = h->cap;

	h->e = calloc(ncap, sizeof(*h->e));
	if (!h->e) {
		h->e = old;
		return -ENOMEM;
	}
	h->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].who)
			*find(h, old[i].task, old[i].attempt) = old[i];
	free(old);
	return 0;
}

int pd_held_put(pd_held *h, uint64_t task, uint32_t attempt, uint64_t who)
{
	struct entry *e = find(h, task, attempt);

	if (e && e->who) {
		e->who = who;
		return 0;
	}
	if (h->n >= PD_HELD_MAX)
		return -ENOSPC;
	/* at most half full: probes stay short */
	if ((h->n + 1) * 2 > h->cap) {
		int rv = grow(h);
		if (rv < 0)
			return rv;
	}
	e = find(h, task, attempt);
	e->task = task;
	e->attempt = attempt;
	e->who = who;
	h->n++;
	return 0;
}

uint64_t pd_held_get(const pd_held *h, uint64_t task, uint32_t attempt)
{
	const struct entry *e = find(h, task, attempt);

	return e ? e->who : 0;
}

/* Empties slot i and moves later entries of its run back so that every
 * entry stays reachable from its home slot without crossing an empty one. */
static void remove_at(pd_held *h, size_t i)
{
	size_t mask = h->cap - 1, j = i;

	for (;;) {
		size_t k;
		j = (j + 1) & mask;
		if (!h->e[j].who)
			break;
		k = slot_of(h->e[j].task, h->cap);
		/* e[j] may move to i unless its home k lies cyclically in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			h->e[i] = h->e[j];
			i = j;
		}
	}
	memset(&h->e[i], 0, sizeof(h->e[i]));
	h->n--;
}

/* The slot of some note of task, or cap when it has none. */
static size_t first_of(const pd_held *h, uint64_t task)
{
	size_t i = slot_of(task, h->cap);

	while (h->e[i].who && h->e[i].task != task)
		i = (i + 1) & (h->cap - 1);
	return h->e[i].who ? i : h->cap;
}

int pd_held_settle(pd_held *h, uint64_t task)
{
	size_t i;

	if (!h->cap || first_of(h, task) == h->cap)
		return 0;
	/* remember the task first: without that, its notes must stay */
	if (task / 64 >= h->nsettled) {
		size_t n = h->nsettled ? h->nsettled : 16;
		uint64_t *t;
		while (n <= task / 64)
			n *= 2;
		t = realloc(h->settled, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + h->nsettled, 0, (n - h->nsettled) * sizeof(*t));
		h->settled = t;
		h->nsettled = n;
	}
	h->settled[task / 64] |= 1ull << (task % 64);
	while ((i = first_of(h, task)) != h->cap)
		remove_at(h, i);
	return 0;
}

int pd_held_settled(const pd_held *h, uint64_t task)
{
	return task / 64 < h->nsettled && (h->settled[task / 64] >> (task % 64)) & 1;
}

size_t pd_held_count(const pd_held *h)
{
	return h->n;
}
