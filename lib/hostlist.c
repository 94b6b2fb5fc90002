/* hostlist.c - Slurm's compact host lists; see hostlist.h. */
#include "hostlist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NUM_DIGITS_MAX 9

typedef struct walk {
	int (*cb)(void *arg, const char *host);
	void *arg;
	unsigned long n;
	char *err;
	size_t errlen;
} walk;

static int fail(walk *w, const char *why, const char *at)
{
	if (w->err && w->errlen)
		snprintf(w->err, w->errlen, "not a Slurm host list: %s at '%.40s'", why, at);
	return -EINVAL;
}

/* One host made of prefix, a number (of width digits, or none when
 * width is 0) and suffix. */
static int emit(walk *w, const char *pre, size_t plen, unsigned long num, int width,
                const char *suf, size_t slen)
{
	char host[PD_HOST_MAX];
	int k = 0;

	if (++w->n > PD_HOSTLIST_MAX)
		return -E2BIG;
	if (plen >= sizeof(host))
		return fail(w, "a host name too long", pre);
	memcpy(host, pre, plen);
	if (width > 0)
		k = snprintf(host + plen, sizeof(host) - plen, "%0*lu", width, num);
	if (k < 0 || plen + (size_t)k + slen >= sizeof(host))
		return fail(w, "a host name too long", pre);
	memcpy(host + plen + (size_t)k, suf, slen);
	host[plen + (size_t)k + slen] = 0;
	return w->cb(w->arg, host);
}

/* A decimal number at *p (1 to NUM_DIGITS_MAX digits); advances *p. */
static int number(const char **p, unsigned long *v, int *digits)
{
	const char *s = *p;
	unsigned long n = 0;
	int d = 0;

	while (*s >= '0' && *s <= '9') {
		if (++d > NUM_DIGITS_MAX)
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
		s++;
	}
	if (!d)
		return -1;
	*p = s;
	*v = n;
	*digits = d;
	return 0;
}

/* The bracket group at b (just after '['), up to close (the ']'), for
 * the item's prefix and suffix. */
static int ranges(walk *w, const char *pre, size_t plen, const char *b, const char *close,
                  const char *suf, size_t slen)
{
	const char *p = b;
	int rv;

	for (;;) {
		unsigned long lo, hi;
		int dlo, dhi, width;

		if (number(&p, &lo, &dlo) < 0)
			return fail(w, "expected a number", p);
		hi = lo;
		dhi = dlo;
		if (*p == '-') {
			p++;
			if (number(&p, &hi, &dhi) < 0)
				return fail(w, "expected a number after '-'", p);
			if (hi < lo)
				return fail(w, "a range that runs backwards", b);
		}
		/* "08-10": the width of the lower bound when it has a leading
		 * zero; else no padding (1-10 is 1..10) */
		width = (dlo > 1 && b[0] == '0') ? dlo : 0;
		(void)dhi;
		for (unsigned long v = lo;; v++) {
			int wd = width;
			if (!wd) {
				char tmp[16];
				wd = snprintf(tmp, sizeof(tmp), "%lu", v);
			}
			if ((rv = emit(w, pre, plen, v, wd, suf, slen)) != 0)
				return rv;
			if (v == hi)
				break;
		}
		if (p == close)
			return 0;
		if (*p != ',')
			return fail(w, "expected ',' or ']'", p);
		b = ++p;
	}
}

/* One item [s, e): PREFIX[RANGES]SUFFIX or a plain name. */
static int item(walk *w, const char *s, const char *e)
{
	const char *open = memchr(s, '[', (size_t)(e - s)), *close;

	if (s == e)
		return fail(w, "an empty name", s);
	if (!open) {
		if (memchr(s, ']', (size_t)(e - s)))
			return fail(w, "']' without '['", s);
		return emit(w, s, (size_t)(e - s), 0, 0, "", 0);
	}
	close = memchr(open, ']', (size_t)(e - open));
	if (!close)
		return fail(w, "'[' without ']'", open);
	if (memchr(open + 1, '[', (size_t)(close - open - 1)) ||
	    memchr(close + 1, '[', (size_t)(e - close - 1)) ||
	    memchr(close + 1, ']', (size_t)(e - close - 1)))
		return fail(w, "more than one bracket group", open);
	return ranges(w, s, (size_t)(open - s), open + 1, close, close + 1,
	              (size_t)(e - close - 1));
}

int pd_hostlist_each(const char *list, int (*cb)(void *arg, const char *host), void *arg,
                     char *err, size_t errlen)
{
	walk w = {cb, arg, 0, err, errlen};
	const char *s = list;
	int depth = 0, rv;

	if (!list || !*list)
		return fail(&w, "an empty list", "");
	/* items end at a ',' outside brackets */
	for (const char *p = list;; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		if (depth < 0 || depth > 1)
			return fail(&w, "unbalanced brackets", p);
		if ((*p == ',' && depth == 0) || !*p) {
			if (!*p && depth)
				return fail(&w, "'[' without ']'", s);
			if ((rv = item(&w, s, p)) != 0)
				return rv;
			if (!*p)
				return 0;
			s = p + 1;
		}
	}
}

struct first {
	char *out;
	size_t len;
	int rv;
};

static int take_first(void *arg, const char *host)
{
	struct first *f = arg;
	size_t n = strlen(host);

	f->rv = n < f->len ? 0 : -ENAMETOOLONG;
	if (!f->rv)
		memcpy(f->out, host, n + 1);
	return 1;
}

int pd_hostlist_first(const char *list, char *out, size_t len)
{
	struct first f = {out, len, -EINVAL};
	int rv = pd_hostlist_each(list, take_first, &f, NULL, 0);

	if (rv < 0)
		return rv;
	return f.rv;
}

static int count_one(void *arg, const char *host)
{
	(void)host;
	(*(long *)arg)++;
	return 0;
}

long pd_hostlist_count(const char *list)
{
	long n = 0;
	int rv = pd_hostlist_each(list, count_one, &n, NULL, 0);

	return rv < 0 ? rv : n;
}

unsigned pd_hostlist_share(unsigned n, unsigned long nnodes, unsigned long i)
{
	if (nnodes == 0 || i >= nnodes)
		return 0;
	return (unsigned)(n / nnodes + (i < n % nnodes ? 1 : 0));
}
