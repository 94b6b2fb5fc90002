/* dispatch.c - dispatch.h: tasks, their queue and the hand-outs; the agent
 * table is disp_agents.c. */
#include "dispatch.h"
#include "disp_agents.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE PD_DAG_NONE
/* task owner values above any agent slot (PD_DAG_MAX_SLOTS) */
#define OWN_QUEUED UINT32_MAX
#define OWN_DONE (UINT32_MAX - 1)
#define OWN_LOST (UINT32_MAX - 2)
_Static_assert(OWN_LOST > PD_DAG_MAX_SLOTS, "task owners collide with agent slots");
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

struct pd_disp {
	pd_disp_opts o;

	struct task *tasks;
	uint64_t total, cap_tasks;
	uint64_t queued, outstanding, finished;
	struct rqueue q;

	pd_dag at; /* the agents (disp_agents.h) */
};

void pd_disp_opts_default(pd_disp_opts *o)
{
	o->round_robin = 0;
	o->chunk = 1;
	o->prefetch = 2;
	o->rr_window = 64;
	o->crash_limit = 3;
	o->retries = 0;
	o->start = PD_DISP_START;
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
		if (o->start)
			d->o.start = o->start;
	}
	pd_dag_init(&d->at, d->o.round_robin);
	return d;
}

void pd_disp_free(pd_disp *d)
{
	if (!d)
		return;
	pd_dag_free(&d->at);
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

/* ---- agents ---- */

int pd_disp_agent_add(pd_disp *d, uint32_t agent, uint32_t slots)
{
	uint64_t full;
	int rv;

	if (!slots)
		return -EINVAL;
	if (pd_dag_find(&d->at, agent) != NONE)
		return -EEXIST;
	if (d->o.round_robin)
		full = (uint64_t)slots * d->o.rr_window;
	else
		full = (uint64_t)slots + d->o.prefetch;
	rv = pd_dag_add(&d->at, agent, slots, full < d->o.start ? full : d->o.start);
	if (rv == 0)
		d->at.ag[pd_dag_find(&d->at, agent)].full = full;
	return rv;
}

int pd_disp_agent_drain(pd_disp *d, uint32_t agent)
{
	uint32_t s = pd_dag_find(&d->at, agent);

	if (s == NONE)
		return -ENOENT;
	d->at.ag[s].draining = 1;
	pd_dag_update(&d->at, s);
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
	struct agent *a = &d->at.ag[s];
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
	uint32_t s = pd_dag_find(&d->at, agent);
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
	a = &d->at.ag[s];
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

	pd_dag_remove(&d->at, s);
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
	s = pd_dag_pick(&d->at);
	if (s == NONE)
		return 0;
	a = &d->at.ag[s];
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
	pd_dag_served(&d->at, s);
	*agent = a->id;
	return k;
}

int pd_disp_complete(pd_disp *d, uint32_t agent, uint64_t task, uint32_t attempt, int end)
{
	uint32_t s = pd_dag_find(&d->at, agent);
	struct agent *a;
	struct task *t;

	if (s == NONE || task >= d->total)
		return PD_DISP_STALE;
	t = &d->tasks[task];
	if (t->owner != s || t->attempt != attempt)
		return PD_DISP_STALE;
	a = &d->at.ag[s];
	a->out--;
	if (!a->out)
		a->nlog = 0;
	if (t->loss == SETTLED) {
		/* its result was taken elsewhere: the credit comes back, the
		 * report does not count */
		a->settled--;
		t->owner = OWN_DONE;
		pd_dag_update(&d->at, s);
		return PD_DISP_STALE;
	}
	d->outstanding--;
	/* slow start: a result earns one more task of credit */
	if (end != PD_END_CRASHED && a->limit < a->full)
		a->limit++;
	pd_dag_update(&d->at, s);
	if (end == PD_END_CRASHED && t->loss + 1 < d->o.crash_limit) {
		/* as if its agent were lost: to the front, not starved */
		t->loss++;
		t->attempt++;
		t->owner = OWN_QUEUED;
		d->queued++;
		rq_push_front(&d->q, task);
		return PD_DISP_RETRY;
	}
	if (end == PD_END_CRASHED) {
		t->loss++;
	} else if (end != PD_END_OK && t->fails < d->o.retries) {
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
		d->at.ag[t->owner].settled++;
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

int pd_disp_holder(const pd_disp *d, uint64_t task, uint32_t attempt, uint32_t *agent)
{
	const struct task *t;

	if (task >= d->total)
		return 0;
	t = &d->tasks[task];
	if (t->owner >= PD_DAG_MAX_SLOTS || t->attempt != attempt)
		return 0;
	*agent = d->at.ag[t->owner].id;
	return 1;
}

int pd_disp_agent_held(const pd_disp *d, uint32_t agent,
		       void (*cb)(void *arg, uint64_t task, uint32_t attempt), void *arg)
{
	uint32_t s = pd_dag_find(&d->at, agent);
	const struct agent *a;

	if (s == NONE)
		return -ENOENT;
	a = &d->at.ag[s];
	for (size_t i = 0; i < a->nlog; i++)
		if (hand_live(d, s, &a->log[i]))
			cb(arg, a->log[i].task, a->log[i].attempt);
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
	uint32_t s = pd_dag_find(&d->at, agent);

	return s == NONE ? 0 : d->at.ag[s].out - d->at.ag[s].settled;
}

size_t pd_disp_agents(const pd_disp *d)
{
	return d->at.nagents;
}

uint64_t pd_disp_finished(const pd_disp *d)
{
	return d->finished;
}

uint64_t pd_disp_total(const pd_disp *d)
{
	return d->total;
}
