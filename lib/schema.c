#include "schema.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
	[PD_T_DBL] = "dbl",
	[PD_T_INT] = "int",
	[PD_T_CHR] = "chr",
	[PD_T_LGL] = "lgl",
};

const char *pd_type_name(int type)
{
	if (type < 0 || (size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[type];
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Narrows [*p, *p + *n) to its non-space middle. */
static void trim(const char **p, size_t *n)
{
	while (*n && is_space(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_space((*p)[*n - 1]))
		(*n)--;
}

static int is_alpha_(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int valid_name(const char *s, size_t n)
{
	size_t i;

	if (!n || !is_alpha_(s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alpha_(s[i]) && !is_digit(s[i]) && s[i] != '.')
			return 0;
	return 1;
}

static int lookup_type(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strlen(type_names[i]) == n && !memcmp(type_names[i], s, n))
			return (int)i;
	return -1;
}

/* Validates and appends one "name:type" token (untrimmed) as field k. */
static int parse_field(pd_schema *s, size_t k, const char *tok, size_t toklen, char *err,
		       size_t errlen)
{
	const char *colon, *name, *type;
	size_t nlen, tlen, i;
	int t;

	trim(&tok, &toklen);
	if (!toklen) {
		pd_seterr(err, errlen, "schema field %zu: empty field", k);
		return -EINVAL;
	}
	colon = memchr(tok, ':', toklen);
	if (!colon) {
		pd_seterr(err, errlen, "schema field %zu '%.*s': missing type (use name:type)", k,
		       (int)toklen, tok);
		return -EINVAL;
	}
	name = tok;
	nlen = (size_t)(colon - tok);
	type = colon + 1;
	tlen = toklen - nlen - 1;
	trim(&name, &nlen);
	trim(&type, &tlen);
	if (!nlen) {
		pd_seterr(err, errlen, "schema field %zu: empty name", k);
		return -EINVAL;
	}
	if (!valid_name(name, nlen)) {
		pd_seterr(err, errlen,
		       "schema field %zu '%.*s': bad name '%.*s' "
		       "(use letters, digits, '_' and '.', not starting with a digit or '.')",
		       k, (int)toklen, tok, (int)nlen, name);
		return -EINVAL;
	}
	if (!tlen) {
		pd_seterr(err, errlen,
		       "schema field %zu '%.*s': missing type (use dbl, int, chr, lgl)", k,
		       (int)toklen, tok);
		return -EINVAL;
	}
	t = lookup_type(type, tlen);
	if (t < 0) {
		pd_seterr(err, errlen,
		       "schema field %zu '%.*s': unknown type '%.*s' (use dbl, int, chr, lgl)", k,
		       (int)toklen, tok, (int)tlen, type);
		return -EINVAL;
	}
	for (i = 0; i < s->n; i++) {
		if (strlen(s->fields[i].name) == nlen && !memcmp(s->fields[i].name, name, nlen)) {
			pd_seterr(err, errlen, "schema: duplicate field '%.*s'", (int)nlen, name);
			return -EINVAL;
		}
	}
	s->fields[s->n].name = strndup(name, nlen);
	if (!s->fields[s->n].name) {
		pd_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->fields[s->n].type = t;
	s->n++;
	return 0;
}

int pd_schema_parse(const char *spec, pd_schema **out, char *err, size_t errlen)
{
	const char *p, *comma, *end;
	size_t cap = 1, k, len;
	pd_schema *s;
	int rv;

	*out = NULL;
	if (!spec)
		spec = "";
	len = strlen(spec);
	p = spec;
	trim(&p, &len);
	if (!len) {
		pd_seterr(err, errlen, "schema: empty (expected name:type,...)");
		return -EINVAL;
	}
	for (end = spec; (end = strchr(end, ',')); end++)
		cap++;

	s = calloc(1, sizeof(*s));
	if (s)
		s->fields = calloc(cap, sizeof(*s->fields));
	if (!s || !s->fields) {
		free(s);
		pd_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p = spec;
	end = spec + strlen(spec);
	for (k = 1;; k++) {
		comma = memchr(p, ',', (size_t)(end - p));
		rv = parse_field(s, k, p, (size_t)((comma ? comma : end) - p), err, errlen);
		if (rv < 0) {
			pd_schema_free(s);
			return rv;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = s;
	return 0;
}

void pd_schema_free(pd_schema *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->fields[i].name);
	free(s->fields);
	free(s);
}

static int valid_dbl(const char *v)
{
	char *end;

	if (!strcmp(v, "NA") || !strcmp(v, "NaN") || !strcmp(v, "Inf") || !strcmp(v, "-Inf"))
		return 1;
	/* out-of-range values are still strtod syntax (they read as Inf or 0) */
	strtod(v, &end);
	return end != v && !*end;
}

/* 1 valid, 0 not an integer, -1 outside int64. */
static int valid_int(const char *v)
{
	const char *q = v;
	if (!strcmp(v, "NA"))
		return 1;
	if (*q == '+' || *q == '-')
		q++;
	if (!*q)
		return 0;
	for (; *q; q++)
		if (!is_digit(*q))
			return 0;
	errno = 0;
	strtoll(v, NULL, 10);
	if (errno == ERANGE)
		return -1;
	return 1;
}

static const char *norm_lgl(const char *v)
{
	static const char *const yes[] = {"TRUE", "true", "T", "1"};
	static const char *const no[] = {"FALSE", "false", "F", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i]))
			return "TRUE";
		if (!strcmp(v, no[i]))
			return "FALSE";
	}
	if (!strcmp(v, "NA"))
		return "NA";
	return NULL;
}

struct span {
	const char *p;
	size_t n;
	int found;
};

static void free_values(char **values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(values[i]);
		values[i] = NULL;
	}
}

/* Makes the canonical copy of one value; -EINVAL with err set if bad. */
static int convert(const pd_schema_field *f, const struct span *sp, char **val, char *err,
		   size_t errlen)
{
	const char *lgl;
	char *v;
	int ok;

	v = strndup(sp->p, sp->n);
	if (!v) {
		pd_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (strlen(v) != sp->n) {
		pd_seterr(err, errlen, "field '%s': value contains a NUL byte", f->name);
		free(v);
		return -EINVAL;
	}
	switch (f->type) {
	case PD_T_DBL:
		ok = valid_dbl(v);
		break;
	case PD_T_INT:
		ok = valid_int(v);
		if (ok < 0) {
			pd_seterr(err, errlen, "field '%s': '%s' is not an int (outside int64 range)",
			       f->name, v);
			free(v);
			return -EINVAL;
		}
		break;
	case PD_T_LGL:
		lgl = norm_lgl(v);
		ok = lgl != NULL;
		if (ok) {
			free(v);
			v = strdup(lgl);
			if (!v) {
				pd_seterr(err, errlen, "out of memory");
				return -ENOMEM;
			}
		}
		break;
	default:
		ok = 1;
		break;
	}
	if (!ok) {
		pd_seterr(err, errlen, "field '%s': '%s' is not %s %s", f->name, v,
		       f->type == PD_T_INT ? "an" : "a", pd_type_name(f->type));
		free(v);
		return -EINVAL;
	}
	*val = v;
	return 0;
}

int pd_schema_extract(const pd_schema *s, const char *out, size_t len, char **values, char *err,
		      size_t errlen)
{
	const char *p = out, *end = out + len, *nl, *eq, *key, *val;
	size_t klen, vlen, i, n = s->n;
	struct span *spans;
	int rv = 0;

	for (i = 0; i < n; i++)
		values[i] = NULL;
	if (!n)
		return 0;
	spans = calloc(n, sizeof(*spans));
	if (!spans) {
		pd_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (out && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			key = p;
			klen = (size_t)(eq - p);
			val = eq + 1;
			vlen = (size_t)(nl - val);
			/* trimming also drops the CR of a CRLF ending */
			trim(&key, &klen);
			trim(&val, &vlen);
			for (i = 0; i < n; i++) {
				if (strlen(s->fields[i].name) == klen &&
				    !memcmp(s->fields[i].name, key, klen)) {
					spans[i].p = val;
					spans[i].n = vlen;
					spans[i].found = 1;
					break;
				}
			}
		}
		p = nl + 1;
	}
	for (i = 0; i < n; i++) {
		if (!spans[i].found) {
			pd_seterr(err, errlen, "field '%s' missing", s->fields[i].name);
			rv = -EINVAL;
			break;
		}
		rv = convert(&s->fields[i], &spans[i], &values[i], err, errlen);
		if (rv < 0)
			break;
	}
	free(spans);
	if (rv < 0)
		free_values(values, n);
	return rv;
}
