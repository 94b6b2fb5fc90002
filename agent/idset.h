/* idset.h - a set of task ids: a sorted array without duplicates. What
 * one CANCEL names, made once (pd_idset_make, O(n log n)) and then asked
 * about each task the agent holds (pd_idset_has, O(log n)), so that the
 * work of a CANCEL grows with ids log ids + tasks held, never with ids x
 * tasks held. Header only (the handler kinds and the queue use it). */
#ifndef PD_IDSET_H
#define PD_IDSET_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct pd_idset {
	const uint64_t *ids; /* ascending, no duplicates; borrowed */
	size_t n;
} pd_idset;

static inline int pd_idset_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts ids[0, n) and drops the duplicates, in place; the set borrows
 * ids. */
static inline pd_idset pd_idset_make(uint64_t *ids, size_t n)
{
	pd_idset s = {ids, 0};

	if (n > 1)
		qsort(ids, n, sizeof(*ids), pd_idset_cmp);
	for (size_t i = 0; i < n; i++)
		if (!s.n || ids[s.n - 1] != ids[i])
			ids[s.n++] = ids[i];
	return s;
}

/* 1 if id is in s (NULL: the empty set), else 0. */
static inline int pd_idset_has(const pd_idset *s, uint64_t id)
{
	size_t lo = 0, hi = s ? s->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ids[mid] == id)
			return 1;
		if (s->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

#endif
