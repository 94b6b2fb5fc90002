#include "journal_block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPT_HDR 24u /* u64 task, u32 attempt, u64 at_ms, u32 agent length */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint32_t pd_jblock_count(const pd_buf *b)
{
	return b->len >= 4 ? get32(b->data) : 0;
}

/* Makes room for an entry of size bytes in the block in b, which may take
 * max entries: -ENOSPC when it is full, else 0 with b started. (Both sizes
 * are below PD_JBLOCK_MAX: their sum cannot wrap.) */
static int block_room(pd_buf *b, size_t size, uint32_t max)
{
	if (b->len && (pd_jblock_count(b) >= max || b->len + size > PD_JBLOCK_SOFT))
		return -ENOSPC;
	if (pd_buf_reserve(b, size + (b->len ? 0 : 4)) < 0)
		return -ENOMEM;
	if (!b->len) {
		put32(b->data, 0);
		b->len = 4;
	}
	return 0;
}

int pd_jblock_task_size(const char *const *cells, size_t n, size_t *size)
{
	size_t total = 4 + 4 * n, len;

	*size = 0;
	if (n > PD_JOURNAL_MAX_CELLS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!cells[i])
			return -EINVAL;
		len = strlen(cells[i]);
		if (len > PD_JOURNAL_MAX_BLOB - total)
			return -E2BIG;
		total += len;
	}
	*size = total;
	return 0;
}

int pd_jblock_task_add(pd_buf *b, const char *const *cells, size_t n)
{
	size_t size, len;
	uint8_t *p;
	int rv;

	if ((rv = pd_jblock_task_size(cells, n, &size)) < 0 ||
	    (rv = block_room(b, size, PD_JBLOCK_TASKS)) < 0)
		return rv;
	p = b->data + b->len;
	put32(p, (uint32_t)n);
	p += 4 + 4 * n;
	for (size_t i = 0; i < n; i++) {
		len = strlen(cells[i]);
		put32(b->data + b->len + 4 + 4 * i, (uint32_t)len);
		memcpy(p, cells[i], len);
		p += len;
	}
	b->len += size;
	put32(b->data, pd_jblock_count(b) + 1);
	return 0;
}

int pd_jblock_attempt_add(pd_buf *b, uint64_t task, uint32_t attempt, uint64_t at_ms,
			  const char *agent)
{
	size_t len = agent ? strlen(agent) : 0;
	uint8_t *p;
	int rv;

	if (task > INT64_MAX)
		return -EOVERFLOW;
	if (len > PD_JOURNAL_MAX_BLOB)
		return -E2BIG;
	if ((rv = block_room(b, ATTEMPT_HDR + len, PD_JBLOCK_ATTEMPTS)) < 0)
		return rv;
	p = b->data + b->len;
	put64(p, task);
	put32(p + 8, attempt);
	put64(p + 12, at_ms);
	put32(p + 20, (uint32_t)len);
	if (len)
		memcpy(p + ATTEMPT_HDR, agent, len);
	b->len += ATTEMPT_HDR + len;
	put32(b->data, pd_jblock_count(b) + 1);
	return 0;
}

/* The checks every block passes before its entries are looked at. */
static int block_check(const uint8_t *p, size_t len, size_t count, uint32_t max)
{
	if (!p || len < 4 || len > PD_JBLOCK_MAX || count == 0 || count > max)
		return -EINVAL;
	return get32(p) == count ? 0 : -EINVAL;
}

int pd_jblock_tasks_decode(pd_buf *out, const void *blob, size_t len, size_t count,
			   pd_jbtask **tasks)
{
	const uint8_t *p = blob, *lens;
	size_t at = 4, ptrs = 0, bytes = 0, n, cl;
	pd_jbtask *t;
	char **v, *s;
	int rv;

	*tasks = NULL;
	if ((rv = block_check(p, len, count, PD_JBLOCK_TASKS)) < 0)
		return rv;
	/* first pass: every length within the blob, and the sizes to allocate */
	for (size_t i = 0; i < count; i++) {
		if (len - at < 4)
			return -EINVAL;
		n = get32(p + at);
		at += 4;
		if (n > PD_JOURNAL_MAX_CELLS || n > (len - at) / 4)
			return -EINVAL;
		lens = p + at;
		at += 4 * n;
		for (size_t k = 0; k < n; k++) {
			cl = get32(lens + 4 * k);
			if (cl > len - at || memchr(p + at, 0, cl))
				return -EINVAL;
			at += cl;
			bytes += cl + 1;
		}
		ptrs += n + 1;
	}
	if (at != len)
		return -EINVAL;
	/* ptrs <= len / 4 + count and bytes <= 2 * len: no overflow */
	pd_buf_reset(out);
	if (pd_buf_reserve(out, count * sizeof(*t) + ptrs * sizeof(char *) + bytes) < 0)
		return -ENOMEM;
	t = (pd_jbtask *)(void *)out->data;
	v = (char **)(void *)(t + count);
	s = (char *)(v + ptrs);
	at = 4;
	for (size_t i = 0; i < count; i++) {
		n = get32(p + at);
		lens = p + at + 4;
		at += 4 + 4 * n;
		t[i].cells = v;
		t[i].n = n;
		for (size_t k = 0; k < n; k++) {
			cl = get32(lens + 4 * k);
			*v++ = s;
			memcpy(s, p + at, cl);
			s[cl] = 0;
			s += cl + 1;
			at += cl;
		}
		*v++ = NULL;
	}
	out->len = (size_t)((uint8_t *)s - out->data);
	*tasks = t;
	return 0;
}

int pd_jblock_attempts_decode(pd_buf *out, const void *blob, size_t len, size_t count,
			      pd_jbattempt **attempts)
{
	const uint8_t *p = blob;
	size_t at = 4, bytes = 0, al;
	pd_jbattempt *a;
	char *s;
	int rv;

	*attempts = NULL;
	if ((rv = block_check(p, len, count, PD_JBLOCK_ATTEMPTS)) < 0)
		return rv;
	for (size_t i = 0; i < count; i++) {
		if (len - at < ATTEMPT_HDR || get64(p + at) > INT64_MAX)
			return -EINVAL;
		al = get32(p + at + 20);
		at += ATTEMPT_HDR;
		if (al > len - at || memchr(p + at, 0, al))
			return -EINVAL;
		at += al;
		bytes += al + 1;
	}
	if (at != len)
		return -EINVAL;
	pd_buf_reset(out);
	if (pd_buf_reserve(out, count * sizeof(*a) + bytes) < 0)
		return -ENOMEM;
	a = (pd_jbattempt *)(void *)out->data;
	s = (char *)(a + count);
	at = 4;
	for (size_t i = 0; i < count; i++) {
		a[i].task = get64(p + at);
		a[i].attempt = get32(p + at + 8);
		a[i].at_ms = get64(p + at + 12);
		al = get32(p + at + 20);
		at += ATTEMPT_HDR;
		memcpy(s, p + at, al);
		s[al] = 0;
		a[i].agent = s;
		s += al + 1;
		at += al;
	}
	out->len = (size_t)((uint8_t *)s - out->data);
	*attempts = a;
	return 0;
}

static int max_cmp(const void *pa, const void *pb)
{
	const struct pd_jblock_max_entry *a = pa, *b = pb;

	if (a->task != b->task)
		return a->task < b->task ? -1 : 1;
	return a->attempt > b->attempt ? -1 : a->attempt < b->attempt;
}

void pd_jblock_max_finish(pd_jblock_max *m)
{
	size_t k = 0;

	if (!m->n)
		return;
	qsort(m->v, m->n, sizeof(*m->v), max_cmp);
	for (size_t i = 0; i < m->n; i++)
		if (k == 0 || m->v[k - 1].task != m->v[i].task)
			m->v[k++] = m->v[i];
	m->n = k;
}

int pd_jblock_max_add(pd_jblock_max *m, const pd_jbattempt *a, size_t count)
{
	struct pd_jblock_max_entry *v;
	size_t cap;

	for (size_t i = 0; i < count; i++) {
		if (m->n == m->cap) {
			/* squeeze first: grow only when most entries are distinct tasks */
			pd_jblock_max_finish(m);
			if (m->n >= m->cap / 2) {
				cap = m->cap ? 2 * m->cap : 4096;
				if (cap > SIZE_MAX / sizeof(*v) ||
				    !(v = realloc(m->v, cap * sizeof(*v))))
					return -ENOMEM;
				m->v = v;
				m->cap = cap;
			}
		}
		m->v[m->n].task = a[i].task;
		m->v[m->n++].attempt = a[i].attempt;
	}
	return 0;
}

void pd_jblock_max_free(pd_jblock_max *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}
