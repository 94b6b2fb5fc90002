/* test_json.c - the strict JSON reader and the writer. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Parses exactly n bytes from a heap copy, so that a read past the end
 * trips the address sanitizer. */
static int parse_n(const char *text, size_t n, pd_json **v, char *err, size_t errlen)
{
	char *copy = malloc(n ? n : 1);
	int rv;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, text, n);
	rv = pd_json_parse(copy, n, v, err, errlen);
	free(copy);
	return rv;
}

static pd_json *parse_ok(const char *text)
{
	char err[200];
	pd_json *v = NULL;

	if (parse_n(text, strlen(text), &v, err, sizeof(err)) != 0)
		fprintf(stderr, "\nunexpected error for %s: %s\n", text, err);
	CU_ASSERT_PTR_NOT_NULL(v);
	return v;
}

/* Expects -EINVAL and an error message equal to want. */
static void bad_n(const char *text, size_t n, const char *want)
{
	char err[200];
	pd_json *v = (pd_json *)1;

	CU_ASSERT_EQUAL(parse_n(text, n, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(v);
	if (strcmp(err, want)) {
		fprintf(stderr, "\ninput %.*s\n want: %s\n  got: %s\n", (int)n, text, want, err);
		CU_FAIL("error message");
	}
}

static void bad(const char *text, const char *want)
{
	bad_n(text, strlen(text), want);
}

static void test_scalars(void)
{
	pd_json *v;
	uint64_t u;
	int64_t i;
	double d;
	int b;

	v = parse_ok(" 42 ");
	CU_ASSERT_EQUAL(pd_json_type(v), PD_JSON_NUMBER);
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), 0);
	CU_ASSERT_EQUAL(u, 42);
	CU_ASSERT_EQUAL(pd_json_bool(v, &b), -EINVAL);
	CU_ASSERT_PTR_NULL(pd_json_str(v, NULL));
	pd_json_free(v);

	v = parse_ok("18446744073709551615");
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), 0);
	CU_ASSERT_EQUAL(u, UINT64_MAX);
	CU_ASSERT_EQUAL(pd_json_i64(v, &i), -EINVAL);
	pd_json_free(v);

	v = parse_ok("18446744073709551616"); /* a number, but no u64 */
	u = 7;
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	CU_ASSERT_EQUAL(u, 7);
	CU_ASSERT_EQUAL(pd_json_num(v, &d), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 18446744073709551616.0, 1e4);
	pd_json_free(v);

	v = parse_ok("-9223372036854775808");
	CU_ASSERT_EQUAL(pd_json_i64(v, &i), 0);
	CU_ASSERT_EQUAL(i, INT64_MIN);
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	pd_json_free(v);
	v = parse_ok("-9223372036854775809");
	CU_ASSERT_EQUAL(pd_json_i64(v, &i), -EINVAL);
	pd_json_free(v);
	v = parse_ok("-0");
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), 0);
	CU_ASSERT_EQUAL(u, 0);
	pd_json_free(v);

	/* integral doubles count as integers (R's jsonlite writes 1e+05) */
	v = parse_ok("1e+05");
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), 0);
	CU_ASSERT_EQUAL(u, 100000);
	pd_json_free(v);
	v = parse_ok("-3.0");
	CU_ASSERT_EQUAL(pd_json_i64(v, &i), 0);
	CU_ASSERT_EQUAL(i, -3);
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	pd_json_free(v);
	v = parse_ok("2.5");
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	CU_ASSERT_EQUAL(pd_json_i64(v, &i), -EINVAL);
	CU_ASSERT_EQUAL(pd_json_num(v, &d), 0);
	CU_ASSERT_EQUAL(d, 2.5);
	pd_json_free(v);
	v = parse_ok("1e300"); /* integral but beyond 2^53 */
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	pd_json_free(v);
	v = parse_ok("1e-999"); /* underflow reads as 0 */
	CU_ASSERT_EQUAL(pd_json_num(v, &d), 0);
	CU_ASSERT_EQUAL(d, 0.0);
	pd_json_free(v);
	v = parse_ok("-12.5E-1");
	CU_ASSERT_EQUAL(pd_json_num(v, &d), 0);
	CU_ASSERT_EQUAL(d, -1.25);
	pd_json_free(v);

	v = parse_ok("true");
	CU_ASSERT_EQUAL(pd_json_bool(v, &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(pd_json_u64(v, &u), -EINVAL);
	pd_json_free(v);
	v = parse_ok("\tfalse\r\n");
	CU_ASSERT_EQUAL(pd_json_bool(v, &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	pd_json_free(v);
	v = parse_ok("null");
	CU_ASSERT_EQUAL(pd_json_type(v), PD_JSON_NULL);
	pd_json_free(v);

	CU_ASSERT_EQUAL(pd_json_type(NULL), -1);
	CU_ASSERT_STRING_EQUAL(pd_json_type_name(-1), "missing");
	CU_ASSERT_STRING_EQUAL(pd_json_type_name(PD_JSON_OBJECT), "object");
	CU_ASSERT_STRING_EQUAL(pd_json_type_name(PD_JSON_BOOL), "boolean");
	CU_ASSERT_STRING_EQUAL(pd_json_type_name(99), "?");
	CU_ASSERT_EQUAL(pd_json_u64(NULL, &u), -EINVAL);
	CU_ASSERT_EQUAL(pd_json_num(NULL, &d), -EINVAL);
	CU_ASSERT_EQUAL(pd_json_bool(NULL, &b), -EINVAL);
	pd_json_free(NULL);
}

static void test_strings(void)
{
	pd_json *v;
	const char *s;
	size_t n;

	v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	s = pd_json_str(v, &n);
	CU_ASSERT_EQUAL(n, 12);
	CU_ASSERT_EQUAL(memcmp(s, "a\"b\\c/d\b\f\n\r\t", 13), 0);
	pd_json_free(v);

	/* \u escapes of each UTF-8 length, a surrogate pair, raw UTF-8 */
	v = parse_ok("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	s = pd_json_str(v, &n);
	CU_ASSERT_EQUAL(n, 1 + 2 + 3 + 4 + 1 + 2 + 3 + 4);
	CU_ASSERT_STRING_EQUAL(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
				  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CU_ASSERT_PTR_EQUAL(pd_json_cstr(v), s);
	pd_json_free(v);

	/* \u0000 is kept; the length tells, pd_json_cstr refuses */
	v = parse_ok("\"a\\u0000b\"");
	s = pd_json_str(v, &n);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(memcmp(s, "a\0b", 4), 0);
	CU_ASSERT_PTR_NULL(pd_json_cstr(v));
	pd_json_free(v);

	v = parse_ok("\"\"");
	s = pd_json_str(v, &n);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	CU_ASSERT_PTR_NULL(pd_json_cstr(NULL));
	pd_json_free(v);
}

static void test_containers(void)
{
	pd_json *v;
	const pd_json *a, *o;
	uint64_t u;
	size_t i;

	v = parse_ok("{\"op\":\"submit\",\"tasks\":[{\"argv\":[\"sleep\",\"1\"]},{\"argv\":[]}],"
		     "\"e\":{},\"n\":[[[]]],\"a\\u0000\":1,\"a\":2}");
	CU_ASSERT_EQUAL(pd_json_type(v), PD_JSON_OBJECT);
	CU_ASSERT_EQUAL(pd_json_len(v), 6);
	CU_ASSERT_STRING_EQUAL(pd_json_key(v, 0), "op");
	CU_ASSERT_STRING_EQUAL(pd_json_key(v, 5), "a");
	CU_ASSERT_PTR_NULL(pd_json_key(v, 6));
	CU_ASSERT_STRING_EQUAL(pd_json_cstr(pd_json_get(v, "op")), "submit");
	CU_ASSERT_PTR_EQUAL(pd_json_get(v, "op"), pd_json_at(v, 0));
	/* "a\0" and "a" are different keys; a C-string lookup finds "a" */
	CU_ASSERT_EQUAL(pd_json_u64(pd_json_get(v, "a"), &u), 0);
	CU_ASSERT_EQUAL(u, 2);
	CU_ASSERT_PTR_NULL(pd_json_get(v, "missing"));
	CU_ASSERT_PTR_NULL(pd_json_get(NULL, "op"));
	CU_ASSERT_PTR_NULL(pd_json_get(v, NULL));

	a = pd_json_get(v, "tasks");
	CU_ASSERT_EQUAL(pd_json_type(a), PD_JSON_ARRAY);
	CU_ASSERT_EQUAL(pd_json_len(a), 2);
	CU_ASSERT_PTR_NULL(pd_json_get(a, "argv")); /* not an object */
	CU_ASSERT_PTR_NULL(pd_json_key(a, 0));
	CU_ASSERT_PTR_NULL(pd_json_at(a, 2));
	o = pd_json_get(pd_json_at(a, 0), "argv");
	CU_ASSERT_EQUAL(pd_json_len(o), 2);
	CU_ASSERT_STRING_EQUAL(pd_json_cstr(pd_json_at(o, 1)), "1");
	CU_ASSERT_EQUAL(pd_json_len(pd_json_get(pd_json_at(a, 1), "argv")), 0);
	CU_ASSERT_PTR_NULL(pd_json_at(pd_json_get(pd_json_at(a, 1), "argv"), 0));
	CU_ASSERT_EQUAL(pd_json_len(pd_json_get(v, "e")), 0);
	o = pd_json_get(v, "n");
	for (i = 0; i < 2; i++)
		o = pd_json_at(o, 0);
	CU_ASSERT_EQUAL(pd_json_type(o), PD_JSON_ARRAY);
	CU_ASSERT_EQUAL(pd_json_len(o), 0);
	CU_ASSERT_EQUAL(pd_json_len(pd_json_get(v, "op")), 0);
	CU_ASSERT_EQUAL(pd_json_len(NULL), 0);
	/* freeing a member is ignored; the root frees everything */
	pd_json_free((pd_json *)a);
	pd_json_free(v);
}

static void test_syntax_errors(void)
{
	bad("", "at byte 0: unexpected end of input, expected a value");
	bad("  \n", "at byte 3: unexpected end of input, expected a value");
	bad("{", "at byte 1: unexpected end of input, expected a string key");
	bad("[", "at byte 1: unexpected end of input, expected a value");
	bad("[1", "at byte 2: unexpected end of input, expected ',' or ']'");
	bad("[1,]", "at byte 3: unexpected ']', expected a value");
	bad("[1 2]", "at byte 3: unexpected '2', expected ',' or ']'");
	bad("[1}", "at byte 2: unexpected '}', expected ',' or ']'");
	bad("{\"a\" 1}", "at byte 5: unexpected '1', expected ':' after the key");
	bad("{\"a\":1,}", "at byte 7: unexpected '}', expected a string key");
	bad("{1:2}", "at byte 1: unexpected '1', expected a string key");
	bad("{'a':2}", "at byte 1: unexpected ''', expected a string key");
	bad("{\"a\":}", "at byte 5: unexpected '}', expected a value");
	bad("tru", "at byte 0: unexpected 't', expected a value");
	bad("nul", "at byte 0: unexpected 'n', expected a value");
	bad("True", "at byte 0: unexpected 'T', expected a value");
	bad("truex", "at byte 4: unexpected 'x', expected the end of the input");
	bad("{}{}", "at byte 2: unexpected '{', expected the end of the input");
	bad("{} x", "at byte 3: unexpected 'x', expected the end of the input");
	bad("\xef\xbb\xbf{}", "at byte 0: unexpected byte 0xef, expected a value");
	bad("\f1", "at byte 0: unexpected byte 0x0c, expected a value");
	bad_n("\0", 1, "at byte 0: unexpected byte 0x00, expected a value");
	bad_n("1\0", 2, "at byte 1: unexpected byte 0x00, expected the end of the input");
	bad_n("{\"a\":1}\0", 8, "at byte 7: unexpected byte 0x00, expected the end of the input");
}

static void test_number_errors(void)
{
	char big[700];

	bad("01", "at byte 0: leading zero in a number");
	bad("-01", "at byte 0: leading zero in a number");
	bad("1.", "at byte 2: unexpected end of input, expected a digit after '.'");
	bad("1.e5", "at byte 2: unexpected 'e', expected a digit after '.'");
	bad(".5", "at byte 0: unexpected '.', expected a value");
	bad("+1", "at byte 0: unexpected '+', expected a value");
	bad("-", "at byte 1: unexpected end of input, expected a digit");
	bad("-a", "at byte 1: unexpected 'a', expected a digit");
	bad("1e", "at byte 2: unexpected end of input, expected a digit in the exponent");
	bad("1e+", "at byte 3: unexpected end of input, expected a digit in the exponent");
	bad("0x1", "at byte 1: unexpected 'x', expected the end of the input");
	bad("NaN", "at byte 0: unexpected 'N', expected a value");
	bad("-Infinity", "at byte 1: unexpected 'I', expected a digit");
	bad("[1e999]", "at byte 1: number out of range");
	bad("-1e999", "at byte 0: number out of range");
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bad(big, "at byte 0: number longer than 512 characters");
	/* 512 characters are fine */
	big[PD_JSON_MAX_NUMBER] = '\0';
	big[0] = '0';
	big[1] = '.';
	pd_json_free(parse_ok(big));
}

static void test_string_errors(void)
{
	bad("\"abc", "at byte 0: unterminated string");
	bad("[\"a\\", "at byte 1: unterminated string");
	bad("\"\\x\"", "at byte 1: invalid escape \\x");
	bad("\"\\'\"", "at byte 1: invalid escape \\'");
	bad_n("\"\\\0\"", 4, "at byte 1: invalid escape \\?");
	bad("\"\\u12\"", "at byte 1: \\u must be followed by four hex digits");
	bad("\"\\u12", "at byte 1: \\u must be followed by four hex digits");
	bad("\"\\u12g4\"", "at byte 1: \\u must be followed by four hex digits");
	bad("\"x\\ud800\"", "at byte 2: lone high surrogate \\ud800 (no low surrogate follows)");
	bad("\"\\uD800\\u0041\"", "at byte 1: lone high surrogate \\ud800 (no low surrogate "
			       "follows)");
	bad("\"\\ud800\\ud800\"", "at byte 1: lone high surrogate \\ud800 (no low surrogate "
			       "follows)");
	bad("\"\\udc00\"", "at byte 1: lone low surrogate \\udc00");
	bad("\"a\x01\"", "at byte 2: raw control byte 0x01 in a string (escape it)");
	bad("\"a\nb\"", "at byte 2: raw control byte 0x0a in a string (escape it)");
	bad_n("\"a\0b\"", 5, "at byte 2: raw control byte 0x00 in a string (escape it)");
	bad("\"\xff\"", "at byte 1: invalid UTF-8 byte 0xff in a string");
	bad("\"\x80\"", "at byte 1: invalid UTF-8 byte 0x80 in a string");
	bad("\"\xc0\xaf\"", "at byte 1: invalid UTF-8 byte 0xc0 in a string");   /* overlong */
	bad("\"\xe0\x80\xaf\"", "at byte 1: invalid UTF-8 byte 0xe0 in a string"); /* overlong */
	bad("\"\xed\xa0\x80\"", "at byte 1: invalid UTF-8 byte 0xed in a string"); /* surrogate */
	bad("\"\xf4\x90\x80\x80\"", "at byte 1: invalid UTF-8 byte 0xf4 in a string");
	bad("\"ab\xe2\x82\"", "at byte 3: invalid UTF-8 byte 0xe2 in a string");
	bad_n("\"\xe2\x82", 3, "at byte 1: invalid UTF-8 byte 0xe2 in a string");
}

static void test_duplicates(void)
{
	char text[600];
	size_t n, i;
	pd_json *v;

	bad("{\"a\":1,\"b\":2,\"a\":3}", "at byte 13: duplicate key \"a\"");
	bad("{\"a\":1,\"\\u0061\":2}", "at byte 7: duplicate key \"a\"");
	bad("{\"x\":{\"a\":1,\"a\":1}}", "at byte 12: duplicate key \"a\"");
	bad("{\"\\n\":1,\"\\n\":1}", "at byte 8: duplicate key \"?\"");
	/* a large object goes through the sorting path */
	n = (size_t)snprintf(text, sizeof(text), "{");
	for (i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%zu\":%zu,", i, i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k5\":0}");
	bad(text, "at byte 161: duplicate key \"k5\"");
	CU_ASSERT_EQUAL(text[163], '5');
	text[163] = '9'; /* "k9" again */
	bad(text, "at byte 161: duplicate key \"k9\"");
	text[163] = 'x';
	v = parse_ok(text);
	CU_ASSERT_EQUAL(pd_json_len(v), 21);
	CU_ASSERT_PTR_EQUAL(pd_json_get(v, "kx"), pd_json_at(v, 20));
	pd_json_free(v);
	/* a long key is shortened in the message */
	bad("{\"0123456789012345678901234567890123456789xyz\":1,"
	    "\"0123456789012345678901234567890123456789xyz\":2}",
	    "at byte 49: duplicate key \"0123456789012345678901234567890123456789...\"");
}

static void test_depth(void)
{
	char text[300];
	char *deep;
	pd_json *v;
	const pd_json *p;
	size_t i, n = 1000000;

	for (i = 0; i < PD_JSON_MAX_DEPTH; i++) {
		text[i] = '[';
		text[2 * PD_JSON_MAX_DEPTH - 1 - i] = ']';
	}
	text[2 * PD_JSON_MAX_DEPTH] = '\0';
	v = parse_ok(text);
	for (p = v, i = 1; i < PD_JSON_MAX_DEPTH; i++)
		p = pd_json_at(p, 0);
	CU_ASSERT_EQUAL(pd_json_type(p), PD_JSON_ARRAY);
	CU_ASSERT_EQUAL(pd_json_len(p), 0);
	pd_json_free(v);
	memmove(text + 1, text, strlen(text) + 1);
	text[0] = '{';
	bad(text, "at byte 1: unexpected '[', expected a string key");
	text[0] = '[';
	bad(text, "at byte 64: nesting deeper than 64 levels");
	/* a million brackets fail at once, without deep recursion */
	deep = malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
	for (i = 0; i < n; i++)
		deep[i] = i % 2 ? '[' : '{';
	deep[0] = '[';
	bad_n(deep, 1, "at byte 1: unexpected end of input, expected a value");
	memset(deep, '[', n);
	bad_n(deep, n, "at byte 64: nesting deeper than 64 levels");
	free(deep);
}

static void test_err_buffer(void)
{
	char err[8];
	pd_json *v;

	CU_ASSERT_EQUAL(pd_json_parse("[", 1, &v, NULL, 0), -EINVAL);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_EQUAL(pd_json_parse("[", 1, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "at byte");
	CU_ASSERT_EQUAL(pd_json_parse(NULL, 0, &v, err, 1), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "");
	strcpy(err, "junk");
	CU_ASSERT_EQUAL(pd_json_parse("7", 1, &v, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	pd_json_free(v);
}

/* ---- robustness: prefixes, mutations, random bytes ---- */

static const char sample[] = "{\"op\":\"submit\",\"tasks\":[{\"argv\":[\"a\\u00e9\\ud83d\\ude00\","
			     "\"\\n\"]},{\"x\":-1.5e-3,\"y\":[true,false,null,0,18446744073709551615]}"
			     "],\"limit\":1000}";

static void check_any(const char *text, size_t n)
{
	char err[200];
	pd_json *v;
	int rv;

	err[0] = 'x';
	rv = parse_n(text, n, &v, err, sizeof(err));
	if (rv == 0) {
		CU_ASSERT_PTR_NOT_NULL(v);
		pd_json_free(v);
		return;
	}
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_EQUAL(strncmp(err, "at byte ", 8), 0);
}

static void test_truncated_and_mutated(void)
{
	static const char subst[] = {'\0', '"', '\\', '{', '}', '[', ']', ',', ':', '1', 'u',
				     'e', '-', ' ', (char)0x80, (char)0xff, (char)0xed};
	size_t n = strlen(sample), i, j;
	char buf[sizeof(sample)];
	char err[200];
	pd_json *v;

	pd_json_free(parse_ok(sample));
	for (i = 0; i < n; i++) {
		/* every proper prefix of an object is malformed */
		CU_ASSERT_EQUAL(parse_n(sample, i, &v, err, sizeof(err)), -EINVAL);
		CU_ASSERT_EQUAL(strncmp(err, "at byte ", 8), 0);
		for (j = 0; j < sizeof(subst); j++) {
			memcpy(buf, sample, n);
			buf[i] = subst[j];
			check_any(buf, n);
		}
	}
}

static void test_random(void)
{
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefEe.+-truefalsnl \t\n\x80\xc3"
				       "\xa9\xed\xf0\x9f";
	uint64_t x = 88172645463325252ULL;
	char buf[64];
	size_t i, j, n;

	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % sizeof(buf);
		for (j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		if (n && i % 3 == 0)
			buf[0] = '[';
		check_any(buf, n);
	}
}

static void test_large(void)
{
	pd_buf b = {0};
	pd_jw w;
	pd_json *v;
	const pd_json *e;
	char key[32];
	uint64_t u, sum = 0;
	size_t i, n = 200000;

	pd_jw_init(&w, &b);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "nums");
	pd_jw_arr_begin(&w);
	for (i = 0; i < n; i++)
		pd_jw_u64(&w, i);
	pd_jw_arr_end(&w);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		pd_jw_key(&w, key);
		pd_jw_str(&w, key);
	}
	pd_jw_obj_end(&w);
	CU_ASSERT_EQUAL_FATAL(pd_jw_error(&w), 0);
	CU_ASSERT_EQUAL_FATAL(pd_json_parse((char *)b.data, b.len, &v, NULL, 0), 0);
	e = pd_json_get(v, "nums");
	CU_ASSERT_EQUAL(pd_json_len(e), n);
	for (i = 0; i < n; i++)
		if (pd_json_u64(pd_json_at(e, i), &u) == 0)
			sum += u;
	CU_ASSERT_EQUAL(sum, (uint64_t)n * (n - 1) / 2);
	CU_ASSERT_STRING_EQUAL(pd_json_cstr(pd_json_get(v, "key4999")), "key4999");
	CU_ASSERT_EQUAL(pd_json_len(v), 5001);
	pd_json_free(v);
	pd_buf_free(&b);
}

/* ---- writer ---- */

#define ASSERT_BUF(b, want)                                                                        \
	do {                                                                                       \
		CU_ASSERT_EQUAL((b)->len, sizeof(want) - 1);                                       \
		if ((b)->len != sizeof(want) - 1 || memcmp((b)->data, want, (b)->len)) {           \
			fprintf(stderr, "\n want: %s\n  got: %.*s\n", want, (int)(b)->len,         \
				(char *)(b)->data);                                                \
			CU_FAIL("buffer contents");                                                \
		}                                                                                  \
	} while (0)

static void put_str(pd_buf *b, const char *s, size_t n)
{
	pd_buf_reset(b);
	CU_ASSERT_EQUAL(pd_json_put_str(b, s, n), 0);
}

static void test_escape(void)
{
	pd_buf b = {0};

	put_str(&b, "plain", 5);
	ASSERT_BUF(&b, "\"plain\"");
	put_str(&b, NULL, 0);
	ASSERT_BUF(&b, "\"\"");
	put_str(&b, "q\"b\\s/", 6);
	ASSERT_BUF(&b, "\"q\\\"b\\\\s/\"");
	put_str(&b, "\n\r\t\b\f\x01\x1f\x7f", 8);
	ASSERT_BUF(&b, "\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
	put_str(&b, "a\0b", 3);
	ASSERT_BUF(&b, "\"a\\u0000b\"");
	put_str(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	ASSERT_BUF(&b, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* one U+FFFD per maximal ill-formed subpart */
	put_str(&b, "a\xffz", 3);
	ASSERT_BUF(&b, "\"a\\ufffdz\"");
	put_str(&b, "\xe2\x82z", 3);
	ASSERT_BUF(&b, "\"\\ufffdz\"");
	put_str(&b, "\xe2\x82", 2);
	ASSERT_BUF(&b, "\"\\ufffd\"");
	put_str(&b, "\xf0\x80\x80", 3);
	ASSERT_BUF(&b, "\"\\ufffd\\ufffd\\ufffd\"");
	put_str(&b, "\xed\xa0\x80", 3);
	ASSERT_BUF(&b, "\"\\ufffd\\ufffd\\ufffd\"");
	put_str(&b, "\xc0\xaf", 2);
	ASSERT_BUF(&b, "\"\\ufffd\\ufffd\"");
	put_str(&b, "\xf4\x8f\xbf\xbf\xf4\x90", 6);
	ASSERT_BUF(&b, "\"\xf4\x8f\xbf\xbf\\ufffd\\ufffd\"");
	/* appends after existing bytes */
	CU_ASSERT_EQUAL(pd_json_put_str(&b, "x", 1), 0);
	ASSERT_BUF(&b, "\"\xf4\x8f\xbf\xbf\\ufffd\\ufffd\"\"x\"");
	pd_buf_free(&b);
}

static void test_utf8_valid(void)
{
	CU_ASSERT_EQUAL(pd_json_utf8_valid("", 0), 1);
	CU_ASSERT_EQUAL(pd_json_utf8_valid("plain", 5), 1);
	CU_ASSERT_EQUAL(pd_json_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82", 14), 1);
	CU_ASSERT_EQUAL(pd_json_utf8_valid("a\0b", 3), 1);
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\x87", 1), 0);          /* lone continuation */
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\xc3", 1), 0);          /* cut short */
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\xc0\xaf", 2), 0);      /* overlong */
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\xed\xa0\x80", 3), 0);  /* surrogate */
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* over U+10FFFF */
	CU_ASSERT_EQUAL(pd_json_utf8_valid("\xc3\xa9", 1), 0);      /* n counts */
}

static void test_writer(void)
{
	pd_buf b = {0};
	pd_jw w;

	pd_buf_append(&b, "> ", 2);
	pd_jw_init(&w, &b);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, 1);
	pd_jw_key(&w, "na\"me");
	pd_jw_str(&w, "s-1\n");
	pd_jw_key(&w, "list");
	pd_jw_arr_begin(&w);
	pd_jw_u64(&w, UINT64_MAX);
	pd_jw_i64(&w, INT64_MIN);
	pd_jw_dbl(&w, 0.1);
	pd_jw_dbl(&w, 1.0 / 3);
	pd_jw_dbl(&w, NAN);
	pd_jw_dbl(&w, -INFINITY);
	pd_jw_dbl(&w, -0.0);
	pd_jw_dbl(&w, 1e300);
	pd_jw_null(&w);
	pd_jw_str(&w, NULL);
	pd_jw_strn(&w, "a\0b", 3);
	pd_jw_bool(&w, 0);
	pd_jw_arr_begin(&w);
	pd_jw_arr_end(&w);
	pd_jw_obj_begin(&w);
	pd_jw_obj_end(&w);
	pd_jw_raw(&w, "{\"r\":1}", 7);
	pd_jw_arr_end(&w);
	pd_jw_key(&w, "");
	pd_jw_i64(&w, 5);
	pd_jw_obj_end(&w);
	CU_ASSERT_EQUAL(pd_jw_error(&w), 0);
	ASSERT_BUF(&b, "> {\"ok\":true,\"na\\\"me\":\"s-1\\n\",\"list\":[18446744073709551615,"
		       "-9223372036854775808,0.1,0.3333333333333333,null,null,-0,1e+300,null,"
		       "null,\"a\\u0000b\",false,[],{},{\"r\":1}],\"\":5}");

	/* a bare scalar is a complete document too */
	pd_buf_reset(&b);
	pd_jw_init(&w, &b);
	pd_jw_str(&w, "x");
	CU_ASSERT_EQUAL(pd_jw_error(&w), 0);
	ASSERT_BUF(&b, "\"x\"");
	pd_buf_free(&b);
}

/* Runs steps 0..n-1 of a misuse scenario and expects -EINVAL and no
 * output after the faulty step. */
static void misuse(int scenario)
{
	pd_buf b = {0};
	size_t before;
	pd_jw w;
	int i;

	pd_jw_init(&w, &b);
	switch (scenario) {
	case 0: /* key in an array */
		pd_jw_arr_begin(&w);
		before = b.len;
		pd_jw_key(&w, "k");
		break;
	case 1: /* value without key */
		pd_jw_obj_begin(&w);
		before = b.len;
		pd_jw_u64(&w, 1);
		break;
	case 2: /* two keys in a row */
		pd_jw_obj_begin(&w);
		pd_jw_key(&w, "a");
		before = b.len;
		pd_jw_key(&w, "b");
		break;
	case 3: /* mismatched end */
		pd_jw_obj_begin(&w);
		before = b.len;
		pd_jw_arr_end(&w);
		break;
	case 4: /* end with a key pending */
		pd_jw_obj_begin(&w);
		pd_jw_key(&w, "a");
		before = b.len;
		pd_jw_obj_end(&w);
		break;
	case 5: /* second top-level value */
		pd_jw_null(&w);
		before = b.len;
		pd_jw_null(&w);
		break;
	case 6: /* end at top level */
		before = b.len;
		pd_jw_arr_end(&w);
		break;
	case 7: /* key at top level, NULL key */
		before = b.len;
		pd_jw_key(&w, "a");
		break;
	case 8:
		pd_jw_obj_begin(&w);
		before = b.len;
		pd_jw_key(&w, NULL);
		break;
	default: /* too deep */
		for (i = 0; i < PD_JW_MAX_DEPTH; i++)
			pd_jw_arr_begin(&w);
		before = b.len;
		pd_jw_arr_begin(&w);
		break;
	}
	CU_ASSERT_EQUAL(pd_jw_error(&w), -EINVAL);
	/* later calls write nothing and the first error stays */
	pd_jw_str(&w, "more");
	pd_jw_arr_end(&w);
	CU_ASSERT_EQUAL(b.len, before);
	CU_ASSERT_EQUAL(pd_jw_error(&w), -EINVAL);
	pd_buf_free(&b);
}

static void test_writer_misuse(void)
{
	pd_buf b = {0};
	pd_jw w;
	int i;

	for (i = 0; i <= 9; i++)
		misuse(i);
	/* nothing written, or left open */
	pd_jw_init(&w, &b);
	CU_ASSERT_EQUAL(pd_jw_error(&w), -EINVAL);
	pd_jw_arr_begin(&w);
	CU_ASSERT_EQUAL(pd_jw_error(&w), -EINVAL);
	pd_jw_arr_end(&w);
	CU_ASSERT_EQUAL(pd_jw_error(&w), 0);
	/* the full depth is fine */
	pd_buf_reset(&b);
	pd_jw_init(&w, &b);
	for (i = 0; i < PD_JW_MAX_DEPTH; i++) {
		pd_jw_obj_begin(&w);
		pd_jw_key(&w, "k");
	}
	pd_jw_u64(&w, 1);
	for (i = 0; i < PD_JW_MAX_DEPTH; i++)
		pd_jw_obj_end(&w);
	CU_ASSERT_EQUAL(pd_jw_error(&w), 0);
	pd_buf_free(&b);
}

/* Writes strings of every byte pair and reads them back: the writer's
 * output always parses, and valid UTF-8 survives unchanged. */
static void test_round_trip(void)
{
	pd_buf b = {0};
	char s[3], err[200];
	const char *got;
	pd_json *v;
	size_t n;
	pd_jw w;
	int i, j;

	for (i = 0; i < 256; i++) {
		for (j = 0; j < 256; j += 3) {
			s[0] = (char)i;
			s[1] = (char)j;
			s[2] = 'z';
			pd_buf_reset(&b);
			pd_jw_init(&w, &b);
			pd_jw_arr_begin(&w);
			pd_jw_strn(&w, s, 3);
			pd_jw_dbl(&w, (double)i / (j + 1));
			pd_jw_arr_end(&w);
			CU_ASSERT_EQUAL_FATAL(pd_jw_error(&w), 0);
			if (pd_json_parse((char *)b.data, b.len, &v, err, sizeof(err))) {
				fprintf(stderr, "\n%s: %.*s\n", err, (int)b.len, (char *)b.data);
				CU_FAIL("writer output does not parse");
				continue;
			}
			got = pd_json_str(pd_json_at(v, 0), &n);
			if (i < 0x80 && j < 0x80) {
				CU_ASSERT(n == 3 && !memcmp(got, s, 3));
			}
			{
				double d = -1;

				pd_json_num(pd_json_at(v, 1), &d);
				CU_ASSERT_EQUAL(d, (double)i / (j + 1));
			}
			pd_json_free(v);
		}
	}
	pd_buf_free(&b);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("json", NULL, NULL);
	CU_add_test(s, "scalars", test_scalars);
	CU_add_test(s, "strings", test_strings);
	CU_add_test(s, "containers", test_containers);
	CU_add_test(s, "syntax errors", test_syntax_errors);
	CU_add_test(s, "number errors", test_number_errors);
	CU_add_test(s, "string errors", test_string_errors);
	CU_add_test(s, "duplicate keys", test_duplicates);
	CU_add_test(s, "depth limit", test_depth);
	CU_add_test(s, "error buffer", test_err_buffer);
	CU_add_test(s, "truncated and mutated input", test_truncated_and_mutated);
	CU_add_test(s, "random input", test_random);
	CU_add_test(s, "large documents", test_large);
	CU_add_test(s, "string escaping", test_escape);
	CU_add_test(s, "writer", test_writer);
	CU_add_test(s, "writer misuse", test_writer_misuse);
	CU_add_test(s, "round trip", test_round_trip);
	CU_add_test(s, "utf8 valid", test_utf8_valid);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
