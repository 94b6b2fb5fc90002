/* disp_agents.c - the dispatcher's agent table (disp_agents.h). */
#include "disp_agents.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE PD_DAG_NONE
#define MAX_SLOTS PD_DAG_MAX_SLOTS

void pd_dag_init(pd_dag *d, int round_robin)
{
	memset(d, 0, sizeof(*d));
	d->round_robin = round_robin;
	d->free_head = NONE;
}

void pd_dag_free(pd_dag *d)
{
	uint32_t i;

	for (i = 0; i < d->nag_slots; i++)
		free(d->ag[i].log);
	free(d->ag);
	free(d->hash);
	free(d->heap);
	free(d->order);
	free(d->elig);
}

/* ---- agent id map ---- */

static uint32_t hash_id(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32);
}

uint32_t pd_dag_find(const pd_dag *d, uint32_t id)
{
	uint32_t i, s;

	if (!d->hcap)
		return NONE;
	for (i = hash_id(id) & (d->hcap - 1);; i = (i + 1) & (d->hcap - 1)) {
		s = d->hash[i];
		if (s == NONE || d->ag[s].id == id)
			return s;
	}
}

static void hash_put(uint32_t *h, uint32_t hcap, const struct agent *ag, uint32_t s)
{
	uint32_t i = hash_id(ag[s].id) & (hcap - 1);

	while (h[i] != NONE)
		i = (i + 1) & (hcap - 1);
	h[i] = s;
}

static int hash_grow(pd_dag *d)
{
	uint32_t ncap, *h, i;

	if ((uint64_t)(d->nagents + 1) * 2 <= d->hcap)
		return 0;
	ncap = d->hcap ? d->hcap * 2 : 16;
	if (ncap < d->hcap)
		return -ENOMEM;
	h = malloc((size_t)ncap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h, 0xff, (size_t)ncap * sizeof(*h));
	for (i = 0; i < d->hcap; i++)
		if (d->hash[i] != NONE)
			hash_put(h, ncap, d->ag, d->hash[i]);
	free(d->hash);
	d->hash = h;
	d->hcap = ncap;
	return 0;
}

/* backward-shift deletion keeps probe chains intact without tombstones */
static void hash_del(pd_dag *d, uint32_t s)
{
	uint32_t mask = d->hcap - 1, i, j, k;

	i = hash_id(d->ag[s].id) & mask;
	while (d->hash[i] != s)
		i = (i + 1) & mask;
	for (;;) {
		d->hash[i] = NONE;
		j = i;
		for (;;) {
			j = (j + 1) & mask;
			if (d->hash[j] == NONE)
				return;
			k = hash_id(d->ag[d->hash[j]].id) & mask;
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		d->hash[i] = d->hash[j];
		i = j;
	}
}

/* ---- dispatcher heap ---- */

/* a->out / a->slots against b's without overflow: split off the integer
 * part, the remainders are below 2^32 so their cross products fit */
static int load_cmp(const struct agent *a, const struct agent *b)
{
	uint64_t qa = a->out / a->slots, qb = b->out / b->slots, x, y;

	if (qa != qb)
		return qa < qb ? -1 : 1;
	x = (a->out % a->slots) * b->slots;
	y = (b->out % b->slots) * a->slots;
	if (x != y)
		return x < y ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

static int heap_less(const pd_dag *d, uint32_t i, uint32_t j)
{
	return load_cmp(&d->ag[d->heap[i]], &d->ag[d->heap[j]]) < 0;
}

static void heap_swap(pd_dag *d, uint32_t i, uint32_t j)
{
	uint32_t t = d->heap[i];

	d->heap[i] = d->heap[j];
	d->heap[j] = t;
	d->ag[d->heap[i]].hpos = i;
	d->ag[d->heap[j]].hpos = j;
}

static void heap_fix(pd_dag *d, uint32_t i)
{
	uint32_t c;

	while (i && heap_less(d, i, (i - 1) / 2)) {
		heap_swap(d, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= d->nheap)
			break;
		if (c + 1 < d->nheap && heap_less(d, c + 1, c))
			c++;
		if (!heap_less(d, c, i))
			break;
		heap_swap(d, i, c);
		i = c;
	}
}

static void heap_remove(pd_dag *d, uint32_t s)
{
	uint32_t i = d->ag[s].hpos;

	d->ag[s].hpos = NONE;
	if (i != --d->nheap) {
		d->heap[i] = d->heap[d->nheap];
		d->ag[d->heap[i]].hpos = i;
		heap_fix(d, i);
	}
}

/* ---- round-robin order ---- */

static void elig_set(pd_dag *d, size_t pos, int on)
{
	uint64_t bit = 1ULL << (pos & 63);
	uint64_t *w = &d->elig[pos >> 6];

	if (on && !(*w & bit)) {
		*w |= bit;
		d->nelig++;
	} else if (!on && (*w & bit)) {
		*w &= ~bit;
		d->nelig--;
	}
}

static size_t elig_next(const pd_dag *d, size_t pos)
{
	size_t w, nw = (d->norder + 63) / 64;
	uint64_t m;

	if (pos >= d->norder)
		return SIZE_MAX;
	w = pos >> 6;
	m = d->elig[w] & (~0ULL << (pos & 63));
	while (!m) {
		if (++w >= nw)
			return SIZE_MAX;
		m = d->elig[w];
	}
	return w * 64 + (size_t)__builtin_ctzll(m);
}

static int order_append(pd_dag *d, uint32_t s)
{
	size_t i, j, ncap, cur;
	uint32_t *o;
	uint64_t *e;

	if (d->norder == d->cap_order && d->nagents < d->norder / 2) {
		/* compact the holes left by removed agents */
		cur = d->rr_cur;
		for (i = j = 0; i < d->norder; i++) {
			if (i == d->rr_cur)
				cur = j;
			if (d->order[i] == NONE)
				continue;
			d->order[j] = d->order[i];
			d->ag[d->order[j]].rpos = j;
			j++;
		}
		d->rr_cur = d->rr_cur >= d->norder ? j : cur;
		d->norder = j;
		memset(d->elig, 0, d->cap_order / 8);
		d->nelig = 0;
		for (i = 0; i < j; i++) {
			const struct agent *a = &d->ag[d->order[i]];

			if (!a->draining && a->out < a->limit)
				elig_set(d, i, 1);
		}
	}
	if (d->norder == d->cap_order) {
		ncap = d->cap_order ? d->cap_order * 2 : 64;
		o = realloc(d->order, ncap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		d->order = o;
		e = realloc(d->elig, ncap / 8);
		if (!e)
			return -ENOMEM;
		memset(e + d->cap_order / 64, 0, (ncap - d->cap_order) / 8);
		d->elig = e;
		d->cap_order = ncap;
	}
	d->order[d->norder] = s;
	d->ag[s].rpos = d->norder++;
	return 0;
}

/* ---- agents ---- */

void pd_dag_update(pd_dag *d, uint32_t s)
{
	struct agent *a = &d->ag[s];
	int ok = !a->draining && a->out < a->limit;

	if (d->round_robin) {
		elig_set(d, a->rpos, ok);
		return;
	}
	if (ok && a->hpos == NONE) {
		a->hpos = d->nheap;
		d->heap[d->nheap++] = s;
		heap_fix(d, a->hpos);
	} else if (!ok && a->hpos != NONE) {
		heap_remove(d, s);
	} else if (ok) {
		heap_fix(d, a->hpos);
	}
}

uint32_t pd_dag_pick(pd_dag *d)
{
	size_t p;

	if (!d->round_robin)
		return d->nheap ? d->heap[0] : NONE;
	if (!d->nelig)
		return NONE;
	p = elig_next(d, d->rr_cur);
	if (p == SIZE_MAX)
		p = elig_next(d, 0);
	return d->order[p];
}

int pd_dag_add(pd_dag *d, uint32_t id, uint32_t slots, uint64_t limit)
{
	struct agent *a;
	uint32_t s, *h;
	size_t ncap;
	int rv;

	rv = hash_grow(d);
	if (rv < 0)
		return rv;
	if (d->free_head == NONE && d->nag_slots == d->cap_ag) {
		if (d->cap_ag >= MAX_SLOTS / 2)
			return -ENOMEM;
		ncap = d->cap_ag ? (size_t)d->cap_ag * 2 : 16;
		a = realloc(d->ag, ncap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		d->ag = a;
		h = realloc(d->heap, ncap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		d->heap = h;
		d->cap_ag = (uint32_t)ncap;
	}
	if (d->free_head != NONE) {
		s = d->free_head;
		d->free_head = d->ag[s].next_free;
	} else {
		s = d->nag_slots++;
		d->ag[s].log = NULL;
		d->ag[s].caplog = 0;
	}
	a = &d->ag[s];
	a->id = id;
	a->slots = slots;
	a->limit = limit;
	a->out = 0;
	a->settled = 0;
	a->draining = 0;
	a->hpos = NONE;
	a->nlog = 0;
	if (d->round_robin) {
		rv = order_append(d, s);
		if (rv < 0) {
			a->next_free = d->free_head;
			d->free_head = s;
			return rv;
		}
	}
	hash_put(d->hash, d->hcap, d->ag, s);
	d->nagents++;
	pd_dag_update(d, s);
	return 0;
}

void pd_dag_remove(pd_dag *d, uint32_t s)
{
	struct agent *a = &d->ag[s];

	if (d->round_robin) {
		elig_set(d, a->rpos, 0);
		d->order[a->rpos] = NONE;
	} else if (a->hpos != NONE) {
		heap_remove(d, s);
	}
	hash_del(d, s);
	a->out = 0;
	a->settled = 0;
	a->nlog = 0;
	a->next_free = d->free_head;
	d->free_head = s;
	d->nagents--;
}

void pd_dag_served(pd_dag *d, uint32_t s)
{
	if (d->round_robin)
		d->rr_cur = d->ag[s].rpos + 1;
	pd_dag_update(d, s);
}
