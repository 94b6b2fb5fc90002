#include "dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
/* task owner values above any agent slot */
#define OWN_QUEUED UINT32_MAX
#define OWN_DONE (UINT32_MAX - 1)
#define OWN_LOST (UINT32_MAX - 2)
#define MAX_SLOTS (UINT32_MAX - 3)
/* task.loss of a task settled while an agent holds it: a real loss count
 * stays below crash_limit, and a settled task needs none */
#define SETTLED UINT32_MAX

struct task {
	uint32_t attempt;
	uint32_t loss;  /* losses seen by this dispatcher, or SETTLED */
	uint32_t fails; /* own failures retried by this dispatcher */
	uint32_t owner; /* agent slot or OWN_* */
};

struct range {
	uint64_t first;
	uint64_t n;
};

/* ring of id ranges: a plain add_tasks costs one entry however large */
struct rqueue {
	struct range *r;
	size_t head, len, cap; /* cap is 0 or a power of two */
};

/* (task, attempt) handed to an agent; dead once the task moved on */
struct hand {
	uint64_t task;
	uint32_t attempt;
};

struct agent {
	uint32_t id;
	uint32_t slots;
	uint64_t limit;   /* max outstanding */
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

struct pd_disp {
	pd_disp_opts o;

	struct task *tasks;
	uint64_t total, cap_tasks;
	uint64_t queued, outstanding, finished;
	struct rqueue q;

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
};

void pd_disp_opts_default(pd_disp_opts *o)
{
	o->round_robin = 0;
	o->chunk = 1;
	o->prefetch = 2;
	o->rr_window = 64;
	o->crash_limit = 3;
	o->retries = 0;
}

pd_disp *pd_disp_new(const pd_disp_opts *o)
{
	pd_disp_opts def;
	pd_disp *d;

	pd_disp_opts_default(&def);
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->o = def;
	if (o) {
		d->o.round_robin = o->round_robin;
		d->o.retries = o->retries;
		if (o->chunk)
			d->o.chunk = o->chunk;
		if (o->prefetch)
			d->o.prefetch = o->prefetch;
		if (o->rr_window)
			d->o.rr_window = o->rr_window;
		if (o->crash_limit)
			d->o.crash_limit = o->crash_limit;
	}
	d->free_head = NONE;
	return d;
}

void pd_disp_free(pd_disp *d)
{
	uint32_t i;

	if (!d)
		return;
	for (i = 0; i < d->nag_slots; i++)
		free(d->ag[i].log);
	free(d->ag);
	free(d->hash);
	free(d->heap);
	free(d->order);
	free(d->elig);
	free(d->q.r);
	free(d->tasks);
	free(d);
}

/* ---- queue ---- */

static int rq_reserve(struct rqueue *q, size_t extra)
{
	struct range *r;
	size_t ncap, i;

	if (extra > SIZE_MAX / 2 - q->len)
		return -ENOMEM;
	if (q->len + extra <= q->cap)
		return 0;
	ncap = q->cap ? q->cap : 16;
	while (ncap < q->len + extra)
		ncap *= 2;
	if (ncap > SIZE_MAX / sizeof(*r))
		return -ENOMEM;
	r = malloc(ncap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < q->len; i++)
		r[i] = q->r[(q->head + i) & (q->cap - 1)];
	free(q->r);
	q->r = r;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

/* callers have reserved room; see the invariant in pd_disp_next */
static void rq_push_back(struct rqueue *q, uint64_t first, uint64_t n)
{
	struct range *b;

	if (q->len) {
		b = &q->r[(q->head + q->len - 1) & (q->cap - 1)];
		if (b->first + b->n == first) {
			b->n += n;
			return;
		}
	}
	b = &q->r[(q->head + q->len) & (q->cap - 1)];
	b->first = first;
	b->n = n;
	q->len++;
}

static void rq_push_front(struct rqueue *q, uint64_t id)
{
	struct range *f;

	if (q->len) {
		f = &q->r[q->head];
		if (f->first == id + 1) {
			f->first--;
			f->n++;
			return;
		}
	}
	q->head = (q->head - 1) & (q->cap - 1);
	f = &q->r[q->head];
	f->first = id;
	f->n = 1;
	q->len++;
}

/* Takes k queued tasks off the front (k <= d->queued). Tasks settled while
 * queued are left in the ring, no longer OWN_QUEUED, and skipped here:
 * each is passed over once, so settling stays O(1) and popping amortised
 * O(1). */
static void queue_pop(pd_disp *d, uint64_t *ids, size_t k)
{
	struct rqueue *q = &d->q;
	struct range *f;
	uint64_t id;
	size_t i = 0;

	while (i < k) {
		f = &q->r[q->head];
		while (i < k && f->n) {
			id = f->first++;
			f->n--;
			if (d->tasks[id].owner == OWN_QUEUED)
				ids[i++] = id;
		}
		if (!f->n) {
			q->head = (q->head + 1) & (q->cap - 1);
			q->len--;
		}
	}
	d->queued -= k;
	/* whatever is left is dead: drop it rather than skip it later */
	if (!d->queued)
		q->len = 0;
}

/* ---- agent id map ---- */

static uint32_t hash_id(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32);
}

static uint32_t agent_find(const pd_disp *d, uint32_t id)
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

static int hash_grow(pd_disp *d)
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
static void hash_del(pd_disp *d, uint32_t s)
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

static int heap_less(const pd_disp *d, uint32_t i, uint32_t j)
{
	return load_cmp(&d->ag[d->heap[i]], &d->ag[d->heap[j]]) < 0;
}

static void heap_swap(pd_disp *d, uint32_t i, uint32_t j)
{
	uint32_t t = d->heap[i];

	d->heap[i] = d->heap[j];
	d->heap[j] = t;
	d->ag[d->heap[i]].hpos = i;
	d->ag[d->heap[j]].hpos = j;
}

static void heap_fix(pd_disp *d, uint32_t i)
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

static void heap_remove(pd_disp *d, uint32_t s)
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

static void elig_set(pd_disp *d, size_t pos, int on)
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

static size_t elig_next(const pd_disp *d, size_t pos)
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

static int order_append(pd_disp *d, uint32_t s)
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

/* puts the agent in or out of the pick structure after any change */
static void agent_update(pd_disp *d, uint32_t s)
{
	struct agent *a = &d->ag[s];
	int ok = !a->draining && a->out < a->limit;

	if (d->o.round_robin) {
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

static uint32_t agent_pick(pd_disp *d)
{
	size_t p;

	if (!d->o.round_robin)
		return d->nheap ? d->heap[0] : NONE;
	if (!d->nelig)
		return NONE;
	p = elig_next(d, d->rr_cur);
	if (p == SIZE_MAX)
		p = elig_next(d, 0);
	return d->order[p];
}

int pd_disp_agent_add(pd_disp *d, uint32_t agent, uint32_t slots)
{
	struct agent *a;
	uint32_t s, *h;
	size_t ncap;
	int rv;

	if (!slots)
		return -EINVAL;
	if (agent_find(d, agent) != NONE)
		return -EEXIST;
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
	a->id = agent;
	a->slots = slots;
	if (d->o.round_robin)
		a->limit = (uint64_t)slots * d->o.rr_window;
	else
		a->limit = (uint64_t)slots + d->o.prefetch;
	a->out = 0;
	a->settled = 0;
	a->draining = 0;
	a->hpos = NONE;
	a->nlog = 0;
	if (d->o.round_robin) {
		rv = order_append(d, s);
		if (rv < 0) {
			a->next_free = d->free_head;
			d->free_head = s;
			return rv;
		}
	}
	hash_put(d->hash, d->hcap, d->ag, s);
	d->nagents++;
	agent_update(d, s);
	return 0;
}

int pd_disp_agent_drain(pd_disp *d, uint32_t agent)
{
	uint32_t s = agent_find(d, agent);

	if (s == NONE)
		return -ENOENT;
	d->ag[s].draining = 1;
	agent_update(d, s);
	return 0;
}

static int hand_live(const pd_disp *d, uint32_t s, const struct hand *h)
{
	const struct task *t = &d->tasks[h->task];

	return t->owner == s && t->attempt == h->attempt;
}

/* whether a live hand-out becomes lost when its agent goes */
static int hand_lost(const pd_disp *d, const struct hand *h)
{
	const struct task *t = &d->tasks[h->task];

	return t->loss != SETTLED && t->loss + 1 >= d->o.crash_limit;
}

static int log_reserve(pd_disp *d, uint32_t s, size_t k)
{
	struct agent *a = &d->ag[s];
	struct hand *n;
	size_t i, j, need;

	if (a->nlog + k <= a->caplog)
		return 0;
	for (i = j = 0; i < a->nlog; i++)
		if (hand_live(d, s, &a->log[i]))
			a->log[j++] = a->log[i];
	a->nlog = j;
	if (k > SIZE_MAX / 4 / sizeof(*n) - j)
		return -ENOMEM;
	need = j + k;
	/* grow to twice the need so compaction stays amortised O(1) */
	if (need * 2 > a->caplog) {
		n = realloc(a->log, need * 2 * sizeof(*n));
		if (!n)
			return a->caplog >= need ? 0 : -ENOMEM;
		a->log = n;
		a->caplog = need * 2;
	}
	return 0;
}

int pd_disp_agent_remove(pd_disp *d, uint32_t agent, uint64_t **lost, size_t *nlost)
{
	uint32_t s = agent_find(d, agent);
	uint64_t *l = NULL;
	struct agent *a;
	struct task *t;
	size_t i, nl = 0;

	if (lost)
		*lost = NULL;
	if (nlost)
		*nlost = 0;
	if (s == NONE)
		return -ENOENT;
	a = &d->ag[s];
	for (i = 0; i < a->nlog; i++)
		if (hand_live(d, s, &a->log[i]) && hand_lost(d, &a->log[i]))
			nl++;
	if (nl && lost) {
		l = malloc(nl * sizeof(*l));
		if (!l)
			return -ENOMEM;
	}
	nl = 0;
	for (i = 0; i < a->nlog; i++) {
		t = &d->tasks[a->log[i].task];
		if (!hand_live(d, s, &a->log[i]) || !hand_lost(d, &a->log[i]))
			continue;
		t->loss++;
		t->owner = OWN_LOST;
		d->finished++;
		d->outstanding--;
		if (l)
			l[nl++] = a->log[i].task;
	}
	/* backwards, so pushing each to the front keeps handout order */
	for (i = a->nlog; i-- > 0;) {
		t = &d->tasks[a->log[i].task];
		if (!hand_live(d, s, &a->log[i]))
			continue;
		if (t->loss == SETTLED) {
			/* finished already (and counted): nothing to requeue */
			t->owner = OWN_DONE;
			continue;
		}
		t->loss++;
		t->attempt++;
		t->owner = OWN_QUEUED;
		d->outstanding--;
		d->queued++;
		rq_push_front(&d->q, a->log[i].task);
	}
	if (lost)
		*lost = l;
	if (nlost)
		*nlost = nl;

	if (d->o.round_robin) {
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
	return 0;
}

/* ---- tasks ---- */

int pd_disp_add_tasks(pd_disp *d, uint64_t first, uint64_t n)
{
	struct task *t;
	uint64_t need, ncap, i;
	int rv;

	if (first != d->total)
		return -EINVAL;
	if (!n)
		return 0;
	if (n > SIZE_MAX / sizeof(*t) - d->total)
		return -ENOMEM;
	need = d->total + n;
	if (need > d->cap_tasks) {
		/* exact fit for one large add, 1.5x for many small ones */
		ncap = d->cap_tasks + d->cap_tasks / 2;
		if (ncap < need || ncap > SIZE_MAX / sizeof(*t))
			ncap = need;
		t = realloc(d->tasks, ncap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->tasks = t;
		d->cap_tasks = ncap;
	}
	rv = rq_reserve(&d->q, d->outstanding + 1);
	if (rv < 0)
		return rv;
	for (i = d->total; i < need; i++) {
		d->tasks[i].attempt = 1;
		d->tasks[i].loss = 0;
		d->tasks[i].fails = 0;
		d->tasks[i].owner = OWN_QUEUED;
	}
	rq_push_back(&d->q, first, n);
	d->total = need;
	d->queued += n;
	return 0;
}

size_t pd_disp_next(pd_disp *d, uint32_t *agent, uint64_t *ids, size_t max)
{
	struct agent *a;
	struct task *t;
	uint32_t s;
	uint64_t k;
	size_t i;

	if (!max || !d->queued)
		return 0;
	s = agent_pick(d);
	if (s == NONE)
		return 0;
	a = &d->ag[s];
	k = a->limit - a->out;
	if (k > max)
		k = max;
	if (k > d->o.chunk)
		k = d->o.chunk;
	if (k > d->queued)
		k = d->queued;
	/* every outstanding task may come back as a range of its own;
	 * reserving for that here lets complete/remove never allocate */
	if (rq_reserve(&d->q, d->outstanding + k) < 0 || log_reserve(d, s, k) < 0)
		return 0;
	queue_pop(d, ids, k);
	for (i = 0; i < k; i++) {
		t = &d->tasks[ids[i]];
		t->owner = s;
		a->log[a->nlog].task = ids[i];
		a->log[a->nlog].attempt = t->attempt;
		a->nlog++;
	}
	a->out += k;
	d->outstanding += k;
	if (d->o.round_robin)
		d->rr_cur = a->rpos + 1;
	agent_update(d, s);
	*agent = a->id;
	return k;
}

int pd_disp_complete(pd_disp *d, uint32_t agent, uint64_t task, uint32_t attempt, int failed)
{
	uint32_t s = agent_find(d, agent);
	struct agent *a;
	struct task *t;

	if (s == NONE || task >= d->total)
		return PD_DISP_STALE;
	t = &d->tasks[task];
	if (t->owner != s || t->attempt != attempt)
		return PD_DISP_STALE;
	a = &d->ag[s];
	a->out--;
	if (!a->out)
		a->nlog = 0;
	if (t->loss == SETTLED) {
		/* its result was taken elsewhere: the credit comes back, the
		 * report does not count */
		a->settled--;
		t->owner = OWN_DONE;
		agent_update(d, s);
		return PD_DISP_STALE;
	}
	d->outstanding--;
	agent_update(d, s);
	if (failed && t->fails < d->o.retries) {
		t->fails++;
		t->attempt++;
		t->owner = OWN_QUEUED;
		d->queued++;
		rq_push_back(&d->q, task, 1);
		return PD_DISP_RETRY;
	}
	t->owner = OWN_DONE;
	d->finished++;
	return PD_DISP_DONE;
}

int pd_disp_settle(pd_disp *d, uint64_t task)
{
	struct task *t;

	if (task >= d->total)
		return -EINVAL;
	t = &d->tasks[task];
	if (t->owner == OWN_DONE || t->owner == OWN_LOST)
		return 0;
	if (t->owner == OWN_QUEUED) {
		/* its queue entry stays behind, dead; queue_pop skips it */
		t->owner = OWN_DONE;
		if (!--d->queued)
			d->q.len = 0;
	} else {
		if (t->loss == SETTLED)
			return 0;
		/* the agent keeps it (and its credit) until it reports or goes */
		t->loss = SETTLED;
		d->ag[t->owner].settled++;
		d->outstanding--;
	}
	d->finished++;
	return 1;
}

int pd_disp_set_attempt(pd_disp *d, uint64_t task, uint32_t attempt)
{
	struct task *t;

	if (task >= d->total)
		return -EINVAL;
	t = &d->tasks[task];
	/* never lower: a number this dispatcher handed out must stay stale */
	if (t->owner != OWN_QUEUED || attempt < t->attempt)
		return -EINVAL;
	t->attempt = attempt;
	return 0;
}

uint32_t pd_disp_attempt(const pd_disp *d, uint64_t task)
{
	return task < d->total ? d->tasks[task].attempt : 0;
}

size_t pd_disp_queued(const pd_disp *d)
{
	return d->queued;
}

size_t pd_disp_outstanding(const pd_disp *d)
{
	return d->outstanding;
}

size_t pd_disp_agent_outstanding(const pd_disp *d, uint32_t agent)
{
	uint32_t s = agent_find(d, agent);

	return s == NONE ? 0 : d->ag[s].out - d->ag[s].settled;
}

size_t pd_disp_agents(const pd_disp *d)
{
	return d->nagents;
}

uint64_t pd_disp_finished(const pd_disp *d)
{
	return d->finished;
}

uint64_t pd_disp_total(const pd_disp *d)
{
	return d->total;
}
