/* json_write.c - the JSON writer of json.h: the one string escaper
 * (pd_json_put_str) and pd_jw, which places commas and colons itself. */
#include "json.h"
#include "json_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_ESCAPES 7 /* pd_json_short_esc pairs the writer uses */

/* ---- writer ---- */

int pd_json_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, seq, bad;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		seq = pd_json_utf8_seq(s + i, n - i, &bad);
		if (!seq)
			return 0;
		i += seq;
	}
	return 1;
}

int pd_json_put_str(pd_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, skip, replen, bad, k;
	char esc[7] = "\\u00";
	const char *rep;
	int rv;

	rv = pd_buf_append(b, "\"", 1);
	while (i < n) {
		if (s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\') {
			i++;
			continue;
		}
		skip = 1;
		rep = esc;
		replen = 6;
		if (s[i] >= 0x80) {
			skip = pd_json_utf8_seq(s + i, n - i, &bad);
			if (skip) {
				i += skip;
				continue;
			}
			skip = bad;
			rep = "\\ufffd";
		} else {
			for (k = 0; k < WRITER_ESCAPES; k++)
				if ((unsigned char)pd_json_short_esc[2 * k + 1] == s[i])
					break;
			if (k < WRITER_ESCAPES) {
				esc[1] = pd_json_short_esc[2 * k];
				replen = 2;
			} else {
				esc[1] = 'u';
				esc[4] = hex[s[i] >> 4];
				esc[5] = hex[s[i] & 0xf];
			}
		}
		rv |= pd_buf_append(b, s + run, i - run);
		rv |= pd_buf_append(b, rep, replen);
		i += skip;
		run = i;
	}
	rv |= pd_buf_append(b, s + run, n - run);
	rv |= pd_buf_append(b, "\"", 1);
	return rv ? -ENOMEM : 0;
}

static void jw_fail(pd_jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void jw_put(pd_jw *w, const char *p, size_t n)
{
	if (!w->err && pd_buf_append(w->out, p, n) < 0)
		jw_fail(w, -ENOMEM);
}

static uint64_t top_bit(const pd_jw *w)
{
	return UINT64_C(1) << (w->depth - 1);
}

/* Checks that a value may come now and writes its separator: 0 or -1. */
static int jw_value(pd_jw *w)
{
	uint64_t bit;

	if (w->err)
		return -1;
	if (w->depth == 0) {
		if (w->done)
			jw_fail(w, -EINVAL);
		return w->err ? -1 : 0;
	}
	bit = top_bit(w);
	if (w->is_obj & bit) {
		if (!w->want_value)
			jw_fail(w, -EINVAL);
		w->want_value = 0;
	} else {
		if (w->has_items & bit)
			jw_put(w, ",", 1);
		w->has_items |= bit;
	}
	return w->err ? -1 : 0;
}

static void jw_scalar(pd_jw *w, const char *text, size_t n)
{
	if (jw_value(w) < 0)
		return;
	jw_put(w, text, n);
	if (w->depth == 0)
		w->done = 1;
}

static void jw_open(pd_jw *w, int obj)
{
	uint64_t bit;

	if (jw_value(w) < 0)
		return;
	if (w->depth >= PD_JW_MAX_DEPTH) {
		jw_fail(w, -EINVAL);
		return;
	}
	bit = UINT64_C(1) << w->depth++;
	if (obj)
		w->is_obj |= bit;
	else
		w->is_obj &= ~bit;
	w->has_items &= ~bit;
	jw_put(w, obj ? "{" : "[", 1);
}

static void jw_close(pd_jw *w, int obj)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->want_value || !(w->is_obj & top_bit(w)) != !obj) {
		jw_fail(w, -EINVAL);
		return;
	}
	w->depth--;
	jw_put(w, obj ? "}" : "]", 1);
	if (w->depth == 0)
		w->done = 1;
}

void pd_jw_init(pd_jw *w, pd_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

void pd_jw_obj_begin(pd_jw *w)
{
	jw_open(w, 1);
}

void pd_jw_obj_end(pd_jw *w)
{
	jw_close(w, 1);
}

void pd_jw_arr_begin(pd_jw *w)
{
	jw_open(w, 0);
}

void pd_jw_arr_end(pd_jw *w)
{
	jw_close(w, 0);
}

void pd_jw_key(pd_jw *w, const char *key)
{
	uint64_t bit;

	if (w->err)
		return;
	if (!key || w->depth == 0 || !(w->is_obj & top_bit(w)) || w->want_value) {
		jw_fail(w, -EINVAL);
		return;
	}
	bit = top_bit(w);
	if (w->has_items & bit)
		jw_put(w, ",", 1);
	w->has_items |= bit;
	if (!w->err && pd_json_put_str(w->out, key, strlen(key)) < 0)
		jw_fail(w, -ENOMEM);
	jw_put(w, ":", 1);
	w->want_value = 1;
}

void pd_jw_strn(pd_jw *w, const char *s, size_t n)
{
	if (jw_value(w) < 0)
		return;
	if (pd_json_put_str(w->out, s, n) < 0)
		jw_fail(w, -ENOMEM);
	if (w->depth == 0)
		w->done = 1;
}

void pd_jw_str(pd_jw *w, const char *s)
{
	if (s)
		pd_jw_strn(w, s, strlen(s));
	else
		pd_jw_null(w);
}

void pd_jw_u64(pd_jw *w, uint64_t v)
{
	char tmp[24];

	jw_scalar(w, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v));
}

void pd_jw_i64(pd_jw *w, int64_t v)
{
	char tmp[24];

	jw_scalar(w, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v));
}

void pd_jw_dbl(pd_jw *w, double v)
{
	char tmp[32];
	int prec, n = 0;

	if (!isfinite(v)) {
		pd_jw_null(w);
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	jw_scalar(w, tmp, (size_t)n);
}

void pd_jw_bool(pd_jw *w, int v)
{
	if (v)
		jw_scalar(w, "true", 4);
	else
		jw_scalar(w, "false", 5);
}

void pd_jw_null(pd_jw *w)
{
	jw_scalar(w, "null", 4);
}

void pd_jw_raw(pd_jw *w, const char *json, size_t n)
{
	jw_scalar(w, json, n);
}

int pd_jw_error(const pd_jw *w)
{
	if (w->err)
		return w->err;
	return w->done ? 0 : -EINVAL;
}
