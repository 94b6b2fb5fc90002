/* json.c - strict bounded JSON reader; see json.h (the writer is json_write.c).
 *
 * A parsed document is one block: a header, then the nodes in document
 * order (the root first, each container before its members, each object
 * key right before its value). A container lists its members as distances
 * from itself to their nodes in a shared array, so any value reaches its
 * members without a pointer back to the document. */
#include "json.h"
#include "json_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_INT = 1, F_NEG = 2, F_ROOT = 4, F_NUL = 8 };

struct pd_json {
	uint8_t type;
	uint8_t flags; /* F_INT: integer literal in v.u, sign in F_NEG; F_NUL:
			* the string holds a NUL byte */
	uint32_t n;    /* string bytes, array elements, object members */
	union {
		double d;
		uint64_t u;
		int b;
		size_t at; /* while parsing: offset into the pool or kids */
		const char *s;
		const uint32_t *kids; /* distance to each element/member value */
	} v;
};

struct doc {
	char *pool;     /* decoded strings, each NUL-terminated */
	uint32_t *kids; /* member distances of all containers */
	pd_json node[];
};

struct parser {
	const unsigned char *p;
	size_t len, pos;
	struct doc *doc;
	size_t nnodes, capnodes;
	char *pool; /* len + 1 bytes: decoded strings never outgrow the input */
	size_t npool;
	uint32_t *kids;
	size_t nkids, capkids;
	/* members of the open containers: node index per array element,
	 * (key offset, value node index) per object member */
	uint32_t *stack;
	size_t nstack, capstack;
	char *err;
	size_t errlen;
	int rv;
};

/* ---- shared by reader and writer ---- */

/* Pairs of escape letter and the byte it stands for; the writer uses all
 * but the last ("\/" is only read). */
const char pd_json_short_esc[] = "\"\"\\\\b\bf\fn\nr\rt\t//";

/* Length of the well-formed UTF-8 sequence at s[0, n), s[0] >= 0x80; or 0
 * with *bad set to the length of the maximal ill-formed subpart. */
size_t pd_json_utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 2;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 3;
	else {
		*bad = 1;
		return 0;
	}
	/* the second byte's range excludes overlongs, surrogates and
	 * code points above U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* ---- reader: errors and storage ---- */

static int fail(struct parser *ps, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, size_t pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->rv)
		return ps->rv;
	ps->rv = -EINVAL;
	if (!ps->err || !ps->errlen)
		return ps->rv;
	n = snprintf(ps->err, ps->errlen, "at byte %zu: ", pos);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return ps->rv;
}

static int nomem(struct parser *ps)
{
	if (!ps->rv) {
		ps->rv = -ENOMEM;
		if (ps->err && ps->errlen)
			snprintf(ps->err, ps->errlen, "out of memory");
	}
	return ps->rv;
}

/* "unexpected 'x', <what>" for the byte at pos, or end of input. */
static int unexpected(struct parser *ps, const char *what)
{
	unsigned c;

	if (ps->pos >= ps->len)
		return fail(ps, ps->pos, "unexpected end of input, %s", what);
	c = ps->p[ps->pos];
	if (c > 0x20 && c < 0x7f)
		return fail(ps, ps->pos, "unexpected '%c', %s", c, what);
	return fail(ps, ps->pos, "unexpected byte 0x%02x, %s", c, what);
}

static int reserve(struct parser *ps, uint32_t **a, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 16;
	uint32_t *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / sizeof(**a))
		return nomem(ps);
	p = realloc(*a, ncap * sizeof(**a));
	if (!p)
		return nomem(ps);
	*a = p;
	*cap = ncap;
	return 0;
}

static int push(struct parser *ps, size_t v)
{
	if (reserve(ps, &ps->stack, &ps->capstack, ps->nstack + 1) < 0)
		return ps->rv;
	ps->stack[ps->nstack++] = (uint32_t)v;
	return 0;
}

static int new_node(struct parser *ps, int type, size_t *idx)
{
	size_t cap;
	struct doc *d;

	if (ps->nnodes == ps->capnodes) {
		cap = ps->capnodes ? ps->capnodes * 2 : 16;
		if (cap > (SIZE_MAX - sizeof(*d)) / sizeof(pd_json))
			return nomem(ps);
		d = realloc(ps->doc, sizeof(*d) + cap * sizeof(pd_json));
		if (!d)
			return nomem(ps);
		ps->doc = d;
		ps->capnodes = cap;
	}
	*idx = ps->nnodes++;
	memset(&ps->doc->node[*idx], 0, sizeof(pd_json));
	ps->doc->node[*idx].type = (uint8_t)type;
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len && (ps->p[ps->pos] == ' ' || ps->p[ps->pos] == '\t' ||
				     ps->p[ps->pos] == '\n' || ps->p[ps->pos] == '\r'))
		ps->pos++;
}

static int is_digit(const struct parser *ps, size_t pos)
{
	return pos < ps->len && ps->p[pos] >= '0' && ps->p[pos] <= '9';
}

/* ---- reader: scalars ---- */

static int hex4(const struct parser *ps, size_t pos, uint32_t *cp)
{
	size_t i;
	unsigned c;

	if (pos > ps->len || ps->len - pos < 4)
		return -1;
	*cp = 0;
	for (i = 0; i < 4; i++) {
		c = ps->p[pos + i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*cp = *cp << 4 | c;
	}
	return 0;
}

/* A \u escape at ps->pos (surrogate pairs included), written as UTF-8. */
static int unicode_escape(struct parser *ps, char **o, int *nul)
{
	size_t at = ps->pos;
	uint32_t cp, lo;
	char *q = *o;

	if (hex4(ps, at + 2, &cp) < 0)
		return fail(ps, at, "\\u must be followed by four hex digits");
	ps->pos += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, at, "lone low surrogate \\u%04x", (unsigned)cp);
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->len - ps->pos < 6 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u' ||
		    hex4(ps, ps->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, at, "lone high surrogate \\u%04x (no low surrogate follows)",
				    (unsigned)cp);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		ps->pos += 6;
	}
	if (cp == 0)
		*nul = 1;
	if (cp < 0x80) {
		*q++ = (char)cp;
	} else if (cp < 0x800) {
		*q++ = (char)(0xc0 | cp >> 6);
		*q++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*q++ = (char)(0xe0 | cp >> 12);
		*q++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (char)(0xf0 | cp >> 18);
		*q++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*q++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = q;
	return 0;
}

static int parse_string(struct parser *ps, size_t *out)
{
	size_t start = ps->pos, self, n, bad;
	char *o0 = ps->pool + ps->npool, *o = o0;
	const char *e;
	unsigned c;
	int nul = 0;

	if (new_node(ps, PD_JSON_STRING, &self) < 0)
		return ps->rv;
	ps->pos++;
	for (;;) {
		if (ps->pos >= ps->len)
			return fail(ps, start, "unterminated string");
		c = ps->p[ps->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(ps, ps->pos, "raw control byte 0x%02x in a string (escape it)",
				    c);
		if (c == '\\') {
			if (ps->pos + 1 >= ps->len)
				return fail(ps, start, "unterminated string");
			c = ps->p[ps->pos + 1];
			if (c == 'u') {
				if (unicode_escape(ps, &o, &nul) < 0)
					return ps->rv;
				continue;
			}
			for (e = pd_json_short_esc; *e && (unsigned char)*e != c; e += 2)
				;
			if (!*e || c == 0)
				return fail(ps, ps->pos, "invalid escape \\%c",
					    c > 0x20 && c < 0x7f ? (int)c : '?');
			*o++ = e[1];
			ps->pos += 2;
			continue;
		}
		n = 1;
		if (c >= 0x80) {
			n = pd_json_utf8_seq(ps->p + ps->pos, ps->len - ps->pos, &bad);
			if (!n)
				return fail(ps, ps->pos, "invalid UTF-8 byte 0x%02x in a string", c);
		}
		memcpy(o, ps->p + ps->pos, n);
		o += n;
		ps->pos += n;
	}
	ps->pos++;
	*o++ = '\0';
	ps->doc->node[self].n = (uint32_t)(o - o0 - 1);
	ps->doc->node[self].v.at = ps->npool;
	ps->doc->node[self].flags = nul ? F_NUL : 0;
	ps->npool += (size_t)(o - o0);
	*out = self;
	return 0;
}

static int parse_number(struct parser *ps, size_t *out)
{
	size_t start = ps->pos, self;
	char tmp[PD_JSON_MAX_NUMBER + 1], *end;
	uint64_t mag = 0;
	unsigned digit;
	int neg = 0, integral = 1, over = 0;
	pd_json *v;
	double d = 0;

	if (ps->p[ps->pos] == '-') {
		neg = 1;
		ps->pos++;
	}
	if (!is_digit(ps, ps->pos))
		return unexpected(ps, "expected a digit");
	if (ps->p[ps->pos] == '0') {
		ps->pos++;
		if (is_digit(ps, ps->pos))
			return fail(ps, start, "leading zero in a number");
	}
	while (is_digit(ps, ps->pos)) {
		digit = ps->p[ps->pos++] - '0';
		if (mag > (UINT64_MAX - digit) / 10)
			over = 1;
		else
			mag = mag * 10 + digit;
	}
	if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
		integral = 0;
		if (!is_digit(ps, ++ps->pos))
			return unexpected(ps, "expected a digit after '.'");
		while (is_digit(ps, ps->pos))
			ps->pos++;
	}
	if (ps->pos < ps->len && (ps->p[ps->pos] | 0x20) == 'e') {
		integral = 0;
		ps->pos++;
		if (ps->pos < ps->len && (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-'))
			ps->pos++;
		if (!is_digit(ps, ps->pos))
			return unexpected(ps, "expected a digit in the exponent");
		while (is_digit(ps, ps->pos))
			ps->pos++;
	}
	if (ps->pos - start > PD_JSON_MAX_NUMBER)
		return fail(ps, start, "number longer than %d characters", PD_JSON_MAX_NUMBER);
	if (!integral || over) {
		memcpy(tmp, ps->p + start, ps->pos - start);
		tmp[ps->pos - start] = '\0';
		d = strtod(tmp, &end);
		if (end != tmp + (ps->pos - start))
			return fail(ps, start, "unreadable number");
		if (isinf(d))
			return fail(ps, start, "number out of range");
	}
	if (new_node(ps, PD_JSON_NUMBER, &self) < 0)
		return ps->rv;
	v = &ps->doc->node[self];
	if (integral && !over) {
		v->flags = F_INT | (neg ? F_NEG : 0);
		v->v.u = mag;
	} else {
		v->v.d = d;
	}
	*out = self;
	return 0;
}

static int parse_word(struct parser *ps, const char *word, int type, int b, size_t *out)
{
	size_t n = strlen(word);

	if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n))
		return unexpected(ps, "expected a value");
	if (new_node(ps, type, out) < 0)
		return ps->rv;
	ps->doc->node[*out].v.b = b;
	ps->pos += n;
	return 0;
}

/* ---- reader: containers ---- */

struct keyref {
	const char *s;
	size_t n;
	size_t pos;
};

static int keycmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

	if (c)
		return c;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int dup_key(struct parser *ps, const struct keyref *k)
{
	char show[44];
	size_t i, j;

	for (i = j = 0; i < k->n && j < 40; i++, j++)
		show[j] = k->s[i] >= 0x20 && k->s[i] < 0x7f ? k->s[i] : '?';
	show[j] = '\0';
	return fail(ps, k->pos, "duplicate key \"%s%s\"", show, i < k->n ? "..." : "");
}

static void keyref_at(const struct parser *ps, size_t base, size_t i, struct keyref *k)
{
	const pd_json *key = &ps->doc->node[ps->stack[base + 2 * i + 1] - 1];

	k->s = ps->pool + key->v.at;
	k->n = key->n;
	k->pos = ps->stack[base + 2 * i];
}

/* Members base.. of the object being closed: small objects compare every
 * pair, large ones sort a copy of their keys. */
static int check_dups(struct parser *ps, size_t base, size_t n)
{
	struct keyref a, b, *all;
	size_t i, j;

	if (n <= 8) {
		for (i = 1; i < n; i++) {
			keyref_at(ps, base, i, &a);
			for (j = 0; j < i; j++) {
				keyref_at(ps, base, j, &b);
				if (a.n == b.n && !memcmp(a.s, b.s, a.n))
					return dup_key(ps, &a);
			}
		}
		return 0;
	}
	all = malloc(n * sizeof(*all));
	if (!all)
		return nomem(ps);
	for (i = 0; i < n; i++)
		keyref_at(ps, base, i, &all[i]);
	qsort(all, n, sizeof(*all), keycmp);
	for (i = 1; i < n; i++)
		if (all[i].n == all[i - 1].n && !memcmp(all[i].s, all[i - 1].s, all[i].n))
			break;
	if (i < n)
		dup_key(ps, &all[i]);
	free(all);
	return ps->rv;
}

static int parse_value(struct parser *ps, unsigned depth, size_t *out);

static int parse_container(struct parser *ps, unsigned depth, int obj, size_t *out)
{
	char close = obj ? '}' : ']';
	size_t self, base = ps->nstack, kid, keypos, n, i;

	if (depth >= PD_JSON_MAX_DEPTH)
		return fail(ps, ps->pos, "nesting deeper than %d levels", PD_JSON_MAX_DEPTH);
	if (new_node(ps, obj ? PD_JSON_OBJECT : PD_JSON_ARRAY, &self) < 0)
		return ps->rv;
	ps->pos++;
	skip_ws(ps);
	if (ps->pos < ps->len && ps->p[ps->pos] == close) {
		ps->pos++;
		goto done;
	}
	for (;;) {
		if (obj) {
			if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
				return unexpected(ps, "expected a string key");
			keypos = ps->pos;
			if (parse_string(ps, &kid) < 0 || push(ps, keypos) < 0)
				return ps->rv;
			skip_ws(ps);
			if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
				return unexpected(ps, "expected ':' after the key");
			ps->pos++;
		}
		if (parse_value(ps, depth + 1, &kid) < 0 || push(ps, kid) < 0)
			return ps->rv;
		skip_ws(ps);
		if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
			ps->pos++;
			skip_ws(ps);
			continue;
		}
		if (ps->pos < ps->len && ps->p[ps->pos] == close) {
			ps->pos++;
			break;
		}
		return unexpected(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
done:
	n = (ps->nstack - base) / (obj ? 2 : 1);
	if (obj && n > 1 && check_dups(ps, base, n) < 0)
		return ps->rv;
	if (reserve(ps, &ps->kids, &ps->capkids, ps->nkids + n) < 0)
		return ps->rv;
	ps->doc->node[self].n = (uint32_t)n;
	ps->doc->node[self].v.at = ps->nkids;
	for (i = 0; i < n; i++)
		ps->kids[ps->nkids++] = ps->stack[base + (obj ? 2 * i + 1 : i)] - (uint32_t)self;
	ps->nstack = base;
	*out = self;
	return 0;
}

static int parse_value(struct parser *ps, unsigned depth, size_t *out)
{
	unsigned c;

	skip_ws(ps);
	if (ps->pos >= ps->len)
		return unexpected(ps, "expected a value");
	c = ps->p[ps->pos];
	switch (c) {
	case '{':
	case '[':
		return parse_container(ps, depth, c == '{', out);
	case '"':
		return parse_string(ps, out);
	case 't':
		return parse_word(ps, "true", PD_JSON_BOOL, 1, out);
	case 'f':
		return parse_word(ps, "false", PD_JSON_BOOL, 0, out);
	case 'n':
		return parse_word(ps, "null", PD_JSON_NULL, 0, out);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(ps, out);
		return unexpected(ps, "expected a value");
	}
}

/* Turns offsets into pointers once no array moves any more. */
static void fix_up(struct doc *d, size_t nnodes)
{
	size_t i;
	pd_json *v;

	for (i = 0; i < nnodes; i++) {
		v = &d->node[i];
		if (v->type == PD_JSON_STRING)
			v->v.s = d->pool + v->v.at;
		else if (v->type == PD_JSON_ARRAY || v->type == PD_JSON_OBJECT)
			v->v.kids = v->n ? d->kids + v->v.at : NULL;
	}
	d->node[0].flags |= F_ROOT;
}

int pd_json_parse(const char *text, size_t len, pd_json **out, char *err, size_t errlen)
{
	struct parser ps;
	struct doc *d;
	size_t root;
	char *pool;
	uint32_t *kids;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.p = (const unsigned char *)text;
	ps.len = len;
	ps.err = err;
	ps.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (len >= UINT32_MAX) {
		fail(&ps, 0, "input of %zu bytes is too large", len);
		goto out;
	}
	ps.pool = malloc(len + 1);
	if (!ps.pool) {
		nomem(&ps);
		goto out;
	}
	if (parse_value(&ps, 0, &root) < 0)
		goto out;
	skip_ws(&ps);
	if (ps.pos < ps.len) {
		unexpected(&ps, "expected the end of the input");
		goto out;
	}
	/* shrink; a failed shrink keeps the larger block */
	d = realloc(ps.doc, sizeof(*d) + ps.nnodes * sizeof(pd_json));
	if (d)
		ps.doc = d;
	pool = realloc(ps.pool, ps.npool ? ps.npool : 1);
	if (pool)
		ps.pool = pool;
	kids = ps.nkids ? realloc(ps.kids, ps.nkids * sizeof(*kids)) : NULL;
	if (kids)
		ps.kids = kids;
	ps.doc->pool = ps.pool;
	ps.doc->kids = ps.kids;
	fix_up(ps.doc, ps.nnodes);
	*out = &ps.doc->node[0];
	free(ps.stack);
	return 0;
out:
	free(ps.doc);
	free(ps.pool);
	free(ps.kids);
	free(ps.stack);
	return ps.rv;
}

void pd_json_free(pd_json *v)
{
	struct doc *d;

	if (!v || !(v->flags & F_ROOT))
		return;
	d = (struct doc *)((char *)v - offsetof(struct doc, node));
	free(d->pool);
	free(d->kids);
	free(d);
}

/* ---- reader: access ---- */

int pd_json_type(const pd_json *v)
{
	return v ? v->type : -1;
}

const char *pd_json_type_name(int type)
{
	static const char *const names[] = {"null",   "boolean", "number",
					    "string", "array",   "object"};

	if (type == -1)
		return "missing";
	if (type < 0 || (size_t)type >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[type];
}

static int is_container(const pd_json *v)
{
	return v && (v->type == PD_JSON_ARRAY || v->type == PD_JSON_OBJECT);
}

size_t pd_json_len(const pd_json *v)
{
	return is_container(v) ? v->n : 0;
}

const pd_json *pd_json_at(const pd_json *v, size_t i)
{
	if (!is_container(v) || i >= v->n)
		return NULL;
	return v + v->v.kids[i];
}

const char *pd_json_key(const pd_json *obj, size_t i)
{
	const pd_json *val = pd_json_at(obj, i);

	if (!val || obj->type != PD_JSON_OBJECT)
		return NULL;
	return val[-1].v.s;
}

const pd_json *pd_json_get(const pd_json *obj, const char *key)
{
	const pd_json *val;
	size_t i, n;

	if (!obj || obj->type != PD_JSON_OBJECT || !key)
		return NULL;
	n = strlen(key);
	for (i = 0; i < obj->n; i++) {
		val = obj + obj->v.kids[i];
		if (val[-1].n == n && !memcmp(val[-1].v.s, key, n))
			return val;
	}
	return NULL;
}

const char *pd_json_str(const pd_json *v, size_t *len)
{
	if (!v || v->type != PD_JSON_STRING)
		return NULL;
	if (len)
		*len = v->n;
	return v->v.s;
}

const char *pd_json_cstr(const pd_json *v)
{
	if (!v || v->type != PD_JSON_STRING || (v->flags & F_NUL))
		return NULL;
	return v->v.s;
}

#define EXACT_LIMIT 9007199254740992.0 /* 2^53 */

int pd_json_u64(const pd_json *v, uint64_t *u)
{
	double d;

	if (!v || v->type != PD_JSON_NUMBER)
		return -EINVAL;
	if (v->flags & F_INT) {
		if ((v->flags & F_NEG) && v->v.u)
			return -EINVAL;
		*u = v->v.u;
		return 0;
	}
	d = v->v.d;
	if (!(d >= 0 && d < EXACT_LIMIT) || (double)(uint64_t)d != d)
		return -EINVAL;
	*u = (uint64_t)d;
	return 0;
}

int pd_json_i64(const pd_json *v, int64_t *i)
{
	double d;

	if (!v || v->type != PD_JSON_NUMBER)
		return -EINVAL;
	if (v->flags & F_INT) {
		if (!(v->flags & F_NEG)) {
			if (v->v.u > INT64_MAX)
				return -EINVAL;
			*i = (int64_t)v->v.u;
		} else {
			if (v->v.u > (uint64_t)INT64_MAX + 1)
				return -EINVAL;
			*i = v->v.u ? -(int64_t)(v->v.u - 1) - 1 : 0;
		}
		return 0;
	}
	d = v->v.d;
	if (!(d > -EXACT_LIMIT && d < EXACT_LIMIT) || (double)(int64_t)d != d)
		return -EINVAL;
	*i = (int64_t)d;
	return 0;
}

int pd_json_num(const pd_json *v, double *d)
{
	if (!v || v->type != PD_JSON_NUMBER)
		return -EINVAL;
	if (!(v->flags & F_INT))
		*d = v->v.d;
	else if (v->flags & F_NEG)
		*d = -(double)v->v.u;
	else
		*d = (double)v->v.u;
	return 0;
}

int pd_json_bool(const pd_json *v, int *b)
{
	if (!v || v->type != PD_JSON_BOOL)
		return -EINVAL;
	*b = v->v.b;
	return 0;
}
