/* fuzz_json.c - the JSON reader (pd_json_parse) and the string escaper
 * (pd_json_put_str), both on the whole input.
 *
 * Checks on a parsed document: every accessor agrees with the tree
 * (pd_json_len/at/key/get, numbers readable as doubles); writing it back
 * with the pd_jw writer gives a document that parses, and writing that
 * again gives the same bytes (the writer's output is a fixed point: keys,
 * strings with any escape or NUL, integers over the full 64-bit range and
 * doubles all survive). On an error the message is "at byte N: ..." with
 * N inside the input. The escaper's output of any bytes is one JSON string
 * that parses; for ASCII input it decodes to the same bytes, and the
 * decoded string (well-formed UTF-8) escaped again decodes to itself. */
#include "json.h"
#include "buf.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if two keys of obj are equal as C strings ("a" and "a\u0000b"): the
 * writer, which takes keys as C strings, cannot write such an object. */
static int keys_clash(const pd_json *obj)
{
	size_t n = pd_json_len(obj);
	const char **k;
	int clash = 0;

	if (n < 2)
		return 0;
	k = malloc(n * sizeof(*k));
	FUZZ_CHECK(k != NULL, "malloc");
	for (size_t i = 0; i < n; i++)
		k[i] = pd_json_key(obj, i);
	qsort(k, n, sizeof(*k), by_str);
	for (size_t i = 1; i < n; i++)
		clash |= !strcmp(k[i - 1], k[i]);
	free(k);
	return clash;
}

/* Writes v with w; 1 when it cannot be written (see keys_clash), else 0. */
static int write_value(pd_jw *w, const pd_json *v, unsigned depth)
{
	const char *s;
	size_t n;
	uint64_t u;
	int64_t i;
	double d;
	int b;

	FUZZ_CHECK(depth <= PD_JSON_MAX_DEPTH + 1, "depth is bounded");
	switch (pd_json_type(v)) {
	case PD_JSON_NULL:
		pd_jw_null(w);
		break;
	case PD_JSON_BOOL:
		FUZZ_CHECK(pd_json_bool(v, &b) == 0 && (b == 0 || b == 1), "booleans read");
		pd_jw_bool(w, b);
		break;
	case PD_JSON_NUMBER:
		FUZZ_CHECK(pd_json_num(v, &d) == 0, "every number reads as a double");
		if (pd_json_u64(v, &u) == 0)
			pd_jw_u64(w, u);
		else if (pd_json_i64(v, &i) == 0)
			pd_jw_i64(w, i);
		else
			pd_jw_dbl(w, d);
		break;
	case PD_JSON_STRING:
		s = pd_json_str(v, &n);
		FUZZ_CHECK(s && s[n] == 0, "strings are NUL-terminated after their length");
		FUZZ_CHECK((pd_json_cstr(v) != NULL) == (strlen(s) == n), "cstr iff no inner NUL");
		pd_jw_strn(w, s, n);
		break;
	case PD_JSON_ARRAY:
		pd_jw_arr_begin(w);
		for (size_t k = 0; k < pd_json_len(v); k++) {
			FUZZ_CHECK(pd_json_at(v, k), "array elements exist");
			FUZZ_CHECK(!pd_json_key(v, k), "arrays have no keys");
			if (write_value(w, pd_json_at(v, k), depth + 1))
				return 1;
		}
		FUZZ_CHECK(!pd_json_at(v, pd_json_len(v)), "nothing past the end");
		pd_jw_arr_end(w);
		break;
	case PD_JSON_OBJECT:
		if (keys_clash(v))
			return 1;
		pd_jw_obj_begin(w);
		for (size_t k = 0; k < pd_json_len(v); k++) {
			const char *key = pd_json_key(v, k);
			const pd_json *m = pd_json_get(v, key);
			FUZZ_CHECK(key && pd_json_at(v, k), "members exist");
			/* get finds the member by its whole name; a key with an
			 * inner NUL is longer than its C string and not found */
			FUZZ_CHECK(!m || m == pd_json_at(v, k),
				   "get finds the member named key");
			/* pd_jw_key takes a C string: write keys with inner NULs
			 * as the C string, the reparse then sees that */
			pd_jw_key(w, key);
			if (write_value(w, pd_json_at(v, k), depth + 1))
				return 1;
		}
		pd_jw_obj_end(w);
		break;
	default:
		FUZZ_CHECK(0, "a value has a known type");
	}
	return 0;
}

/* Parses text and writes it back into out; 0, 1 when it cannot be
 * written, or the parse error. */
static int rewrite(const char *text, size_t len, pd_buf *out, pd_json **doc)
{
	char err[128];
	pd_jw w;
	int rv = pd_json_parse(text, len, doc, err, sizeof(err));

	if (rv < 0) {
		unsigned long at;
		FUZZ_CHECK(rv == -EINVAL && !*doc, "bad JSON is -EINVAL with no document");
		FUZZ_CHECK(sscanf(err, "at byte %lu: ", &at) == 1 && at <= len,
			   "an error names a byte of the input");
		return rv;
	}
	pd_jw_init(&w, out);
	if (write_value(&w, *doc, 0))
		return 1;
	FUZZ_CHECK(pd_jw_error(&w) == 0, "the writer takes a parsed document");
	return 0;
}

static void check_escaper(const uint8_t *data, size_t size)
{
	pd_buf b = {0}, b2 = {0};
	pd_json *v = NULL, *v2 = NULL;
	const char *s, *s2;
	size_t n, n2;
	int ascii = 1;

	for (size_t i = 0; i < size; i++)
		ascii &= data[i] < 0x80;
	FUZZ_CHECK(pd_json_put_str(&b, (const char *)data, size) == 0, "escape");
	FUZZ_CHECK(pd_json_parse((const char *)pd_buf_head(&b), pd_buf_size(&b), &v, NULL, 0) == 0,
		   "an escaped string parses");
	s = pd_json_str(v, &n);
	FUZZ_CHECK(s != NULL, "an escaped string is a string");
	if (ascii)
		FUZZ_CHECK(n == size && !memcmp(s, data, n), "ASCII escapes round trip");
	/* s is well-formed UTF-8 (ill-formed parts became U+FFFD): it must
	 * come back exactly */
	FUZZ_CHECK(pd_json_put_str(&b2, s, n) == 0, "escape again");
	FUZZ_CHECK(pd_json_parse((const char *)pd_buf_head(&b2), pd_buf_size(&b2), &v2, NULL, 0) ==
			   0,
		   "an escaped string parses");
	s2 = pd_json_str(v2, &n2);
	FUZZ_CHECK(s2 && n2 == n && !memcmp(s, s2, n), "well-formed UTF-8 round trips exactly");
	pd_json_free(v);
	pd_json_free(v2);
	pd_buf_free(&b);
	pd_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pd_buf one = {0}, two = {0};
	pd_json *doc = NULL, *doc2 = NULL;

	if (rewrite((const char *)data, size, &one, &doc) == 0) {
		FUZZ_CHECK(rewrite((const char *)pd_buf_head(&one), pd_buf_size(&one), &two,
				   &doc2) == 0,
			   "written JSON parses and can be written");
		FUZZ_CHECK(pd_buf_size(&one) == pd_buf_size(&two) &&
				   !memcmp(pd_buf_head(&one), pd_buf_head(&two), pd_buf_size(&one)),
			   "writing what was written gives the same bytes");
	}
	pd_json_free(doc);
	pd_json_free(doc2);
	pd_buf_free(&one);
	pd_buf_free(&two);
	check_escaper(data, size);
	return 0;
}
