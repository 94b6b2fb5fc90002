#include "csv.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The public struct has no room for the backing stores, so it is embedded. */
struct table_impl {
	pd_table t;
	char *arena; /* every parsed header name and cell, NUL-terminated */
	char **ptrs; /* header names, then the cells */
	size_t nowned; /* ptrs from here on were strdup'ed (pd_table_new/append) */
	size_t ptrcap, linecap;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	size_t line;
	char sep;
	int quoting;
	char *arena;
	size_t used;
	char **ptrs;
	size_t nptrs;
	size_t cap;
	char *err;
	size_t errlen;
};

static int push_ptr(struct parser *p, char *v)
{
	if (p->nptrs == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 1024;
		char **np;

		if (ncap > SIZE_MAX / sizeof(*np))
			return -ENOMEM;
		np = realloc(p->ptrs, ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		p->ptrs = np;
		p->cap = ncap;
	}
	p->ptrs[p->nptrs++] = v;
	return 0;
}

static int nul_error(struct parser *p)
{
	pd_seterr(p->err, p->errlen, "line %zu: NUL byte", p->line);
	return -EINVAL;
}

/* Returns 1 at a record end (consumed), 0 otherwise. */
static int take_eol(struct parser *p)
{
	const char *s = p->s;

	if (s[p->pos] == '\n') {
		p->pos++;
		p->line++;
		return 1;
	}
	if (s[p->pos] == '\r' && p->pos + 1 < p->len && s[p->pos + 1] == '\n') {
		p->pos += 2;
		p->line++;
		return 1;
	}
	return 0;
}

static int parse_quoted(struct parser *p, char *dst, int *end)
{
	const char *s = p->s;
	size_t start_line = p->line;

	p->pos++;
	for (;;) {
		char c;

		if (p->pos >= p->len) {
			pd_seterr(p->err, p->errlen, "line %zu: unterminated quoted field",
			       start_line);
			return -EINVAL;
		}
		c = s[p->pos];
		if (c == '"') {
			if (p->pos + 1 < p->len && s[p->pos + 1] == '"') {
				*dst++ = '"';
				p->pos += 2;
				continue;
			}
			p->pos++;
			break;
		}
		if (c == '\0')
			return nul_error(p);
		if (c == '\n')
			p->line++;
		*dst++ = c;
		p->pos++;
	}
	*dst++ = '\0';
	p->used = (size_t)(dst - p->arena);

	if (p->pos >= p->len) {
		*end = 1;
		return 0;
	}
	if (s[p->pos] == p->sep) {
		p->pos++;
		*end = 0;
		return 0;
	}
	if (take_eol(p)) {
		*end = 1;
		return 0;
	}
	pd_seterr(p->err, p->errlen, "line %zu: unexpected character after closing quote", p->line);
	return -EINVAL;
}

/* Parses one field into the arena; *end tells whether it closed its record. */
static int parse_field(struct parser *p, int *end)
{
	const char *s = p->s;
	char *dst = p->arena + p->used;
	int rv;

	rv = push_ptr(p, dst);
	if (rv < 0)
		return rv;
	if (p->quoting && p->pos < p->len && s[p->pos] == '"')
		return parse_quoted(p, dst, end);

	*end = 1;
	while (p->pos < p->len) {
		char c = s[p->pos];

		if (c == p->sep) {
			p->pos++;
			*end = 0;
			break;
		}
		if (take_eol(p))
			break;
		if (c == '\0')
			return nul_error(p);
		*dst++ = c;
		p->pos++;
	}
	*dst++ = '\0';
	p->used = (size_t)(dst - p->arena);
	return 0;
}

static int parse_record(struct parser *p, size_t *nfields)
{
	size_t n = 0;
	int end, rv;

	do {
		rv = parse_field(p, &end);
		if (rv < 0)
			return rv;
		n++;
	} while (!end);
	*nfields = n;
	return 0;
}

/* A lone empty line at EOF is the newline of the last record, not a record. */
static int at_end(const struct parser *p)
{
	size_t rest = p->len - p->pos;
	const char *s = p->s + p->pos;

	return rest == 0 || (rest == 1 && s[0] == '\n') ||
	       (rest == 2 && s[0] == '\r' && s[1] == '\n');
}

struct name_idx {
	const char *name;
	size_t idx;
};

static int cmp_name_idx(const void *a, const void *b)
{
	const struct name_idx *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The header starts on line 1 and only quoted LFs move it on, so a name's
 * line is 1 plus the LFs in the names before it. */
static size_t header_line(char **names, size_t k)
{
	size_t line = 1, i;
	const char *q;

	for (i = 0; i < k; i++)
		for (q = names[i]; (q = strchr(q, '\n')); q++)
			line++;
	return line;
}

static int check_header(char **names, size_t n, char *err, size_t errlen)
{
	struct name_idx *v;
	size_t i, dup = SIZE_MAX;

	if (n == 1 && !names[0][0]) {
		pd_seterr(err, errlen, "line 1: empty header");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!names[i][0]) {
			pd_seterr(err, errlen, "line %zu: column %zu has an empty name",
			       header_line(names, i), i + 1);
			return -EINVAL;
		}
		/* names become JSON keys (--format jsonl, coproc JSON lines), where
		 * ill-formed bytes become U+FFFD: two names could then clash */
		if (!pd_json_utf8_valid(names[i], strlen(names[i]))) {
			pd_seterr(err, errlen, "line %zu: column %zu name is not valid UTF-8",
			       header_line(names, i), i + 1);
			return -EINVAL;
		}
	}
	/* sorting keeps wide headers cheap; ties sort by index so the first
	 * repeat in file order is the one reported */
	v = malloc(n * sizeof(*v));
	if (!v) {
		pd_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		v[i].name = names[i];
		v[i].idx = i;
	}
	qsort(v, n, sizeof(*v), cmp_name_idx);
	for (i = 1; i < n; i++)
		if (!strcmp(v[i - 1].name, v[i].name) && v[i].idx < dup)
			dup = v[i].idx;
	free(v);
	if (dup != SIZE_MAX) {
		pd_seterr(err, errlen, "line %zu: duplicate column '%s'", header_line(names, dup),
		       names[dup]);
		return -EINVAL;
	}
	return 0;
}

static int push_line(size_t **lines, size_t *cap, size_t n, size_t line)
{
	if (n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		size_t *nl;

		if (ncap > SIZE_MAX / sizeof(*nl))
			return -ENOMEM;
		nl = realloc(*lines, ncap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		*lines = nl;
		*cap = ncap;
	}
	(*lines)[n] = line;
	return 0;
}

int pd_table_parse(const char *text, size_t len, int format, pd_table **out, char *err,
		   size_t errlen)
{
	struct parser p = {
		.s = text,
		.len = len,
		.line = 1,
		.sep = format == PD_TSV ? '\t' : ',',
		.quoting = format != PD_TSV,
		.err = err,
		.errlen = errlen,
	};
	struct table_impl *ti = NULL;
	size_t *lines = NULL, lcap = 0, nrows = 0, ncols, nf, start;
	int rv;

	*out = NULL;
	if (!text)
		len = p.len = 0;
	if (at_end(&p)) {
		pd_seterr(err, errlen, "empty input (no header)");
		return -EINVAL;
	}
	if (len == SIZE_MAX)
		goto nomem;
	/* each field's bytes plus NUL fit in its source bytes plus the byte
	 * ending it, with one extra for a last field ended by EOF */
	p.arena = malloc(len + 1);
	if (!p.arena)
		goto nomem;

	rv = parse_record(&p, &ncols);
	if (rv < 0)
		goto fail;
	rv = check_header(p.ptrs, ncols, err, errlen);
	if (rv < 0)
		goto fail;

	while (!at_end(&p)) {
		start = p.line;
		rv = parse_record(&p, &nf);
		if (rv < 0)
			goto fail;
		if (nf != ncols) {
			pd_seterr(err, errlen, "line %zu: %zu field%s, header has %zu", start, nf,
			       nf == 1 ? "" : "s", ncols);
			rv = -EINVAL;
			goto fail;
		}
		rv = push_line(&lines, &lcap, nrows, start);
		if (rv < 0)
			goto fail;
		nrows++;
	}

	ti = calloc(1, sizeof(*ti));
	if (!ti) {
		rv = -ENOMEM;
		goto fail;
	}
	/* growth can leave up to half the pointers unused; give them back */
	if (p.nptrs < p.cap) {
		char **np = realloc(p.ptrs, p.nptrs * sizeof(*np));

		if (np)
			p.ptrs = np;
	}
	if (nrows < lcap) {
		size_t *nl = realloc(lines, (nrows ? nrows : 1) * sizeof(*nl));

		if (nl)
			lines = nl;
	}
	ti->arena = p.arena;
	ti->ptrs = p.ptrs;
	ti->nowned = ti->ptrcap = ncols + nrows * ncols;
	ti->linecap = nrows;
	ti->t.ncols = ncols;
	ti->t.nrows = nrows;
	ti->t.header = p.ptrs;
	ti->t.cells = p.ptrs + ncols;
	ti->t.lines = lines;
	*out = &ti->t;
	return 0;

nomem:
	rv = -ENOMEM;
fail:
	if (rv == -ENOMEM)
		pd_seterr(err, errlen, "out of memory");
	free(p.arena);
	free(p.ptrs);
	free(lines);
	return rv;
}

static int read_all(int fd, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *b = NULL, *nb;
	ssize_t r;

	/* st_size is only a hint: pipes report 0 and files can grow */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (unsigned long long)st.st_size < SIZE_MAX - 1)
		cap = (size_t)st.st_size + 1;
	else
		cap = 65536;
	for (;;) {
		if (!b || n == cap) {
			if (b) {
				if (cap > SIZE_MAX / 2) {
					free(b);
					return -ENOMEM;
				}
				cap *= 2;
			}
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

int pd_table_load(const char *path, int format, pd_table **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rv, n;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rv = -errno;
		pd_seterr(err, errlen, "%s: %s", path, strerror(-rv));
		return rv;
	}
	rv = read_all(fd, &buf, &len);
	close(fd);
	if (rv < 0) {
		pd_seterr(err, errlen, "%s: %s", path, strerror(-rv));
		return rv;
	}

	/* the prefix goes in first so the parser can write right after it */
	n = 0;
	if (err && errlen) {
		n = snprintf(err, errlen, "%s: ", path);
		if (n < 0)
			n = 0;
	}
	if (err && (size_t)n < errlen)
		rv = pd_table_parse(buf, len, format, out, err + n, errlen - (size_t)n);
	else
		rv = pd_table_parse(buf, len, format, out, NULL, 0);
	free(buf);
	if (rv == 0 && err && errlen)
		err[0] = '\0';
	return rv;
}

long pd_table_col(const pd_table *t, const char *name)
{
	size_t i;

	if (!t || !name)
		return -1;
	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->header[i], name))
			return (long)i;
	return -1;
}

pd_table *pd_table_new(const char *const *header, size_t ncols)
{
	struct table_impl *ti = calloc(1, sizeof(*ti));

	if (!ti || !(ti->ptrs = calloc(ncols ? ncols : 1, sizeof(char *))))
		goto nomem;
	ti->ptrcap = ncols;
	ti->t.ncols = ncols;
	ti->t.header = ti->ptrs;
	ti->t.cells = ti->ptrs + ncols;
	for (size_t i = 0; i < ncols; i++)
		if (!(ti->ptrs[i] = strdup(header[i])))
			goto nomem;
	return &ti->t;
nomem:
	pd_table_free(ti ? &ti->t : NULL);
	return NULL;
}

int pd_table_append(pd_table *t, const char *const *cells)
{
	struct table_impl *ti = (struct table_impl *)t;
	size_t used = t->ncols + t->nrows * t->ncols;

	if (used + t->ncols > ti->ptrcap) {
		size_t cap = ti->ptrcap * 2 + 16 * (t->ncols ? t->ncols : 1);
		char **np = realloc(ti->ptrs, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		ti->ptrs = np;
		ti->ptrcap = cap;
		t->header = np;
		t->cells = np + t->ncols;
	}
	if (t->nrows == ti->linecap) {
		size_t cap = ti->linecap * 2 + 16;
		size_t *nl = realloc(t->lines, cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		t->lines = nl;
		ti->linecap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		if (!(ti->ptrs[used + i] = strdup(cells[i]))) {
			while (i--)
				free(ti->ptrs[used + i]);
			return -ENOMEM;
		}
	}
	t->lines[t->nrows] = 0;
	t->nrows++;
	return 0;
}

void pd_table_truncate(pd_table *t, size_t nrows)
{
	struct table_impl *ti = (struct table_impl *)t;
	size_t keep = t->ncols + nrows * t->ncols, used = t->ncols + t->nrows * t->ncols;

	if (nrows >= t->nrows)
		return;
	/* cells from nowned on were strdup'ed; those before live in the arena */
	for (size_t i = keep > ti->nowned ? keep : ti->nowned; i < used; i++) {
		free(ti->ptrs[i]);
		ti->ptrs[i] = NULL;
	}
	if (ti->nowned > keep)
		ti->nowned = keep;
	t->nrows = nrows;
}

int pd_table_rename(pd_table *t, size_t col, const char *name)
{
	struct table_impl *ti = (struct table_impl *)t;
	char *n = strdup(name);

	if (col >= t->ncols || ti->nowned > 0) {
		free(n);
		return n ? -EINVAL : -ENOMEM;
	}
	free(t->header[col]);
	t->header[col] = n;
	return 0;
}

void pd_table_free(pd_table *t)
{
	struct table_impl *ti = (struct table_impl *)t;

	if (!t)
		return;
	for (size_t i = ti->nowned; i < t->ncols + t->nrows * t->ncols; i++)
		free(ti->ptrs[i]);
	free(ti->arena);
	free(ti->ptrs);
	free(t->lines);
	free(ti);
}

int pd_csv_format_for(const char *path)
{
	const char *dot, *slash;

	if (!path)
		return PD_CSV;
	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return PD_CSV;
	if (!strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".tab"))
		return PD_TSV;
	return PD_CSV;
}
