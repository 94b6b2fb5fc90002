/* json.h - a small, strict, bounded JSON reader (pd_json_*) and writer
 * (pd_jw_*). Pure logic: no I/O, no globals, no locale changes.
 *
 * The reader takes RFC 8259 JSON from untrusted peers and never reads past
 * `len`, never recurses deeper than PD_JSON_MAX_DEPTH and rejects, with
 * "at byte N: what" (N counts from 0):
 *   - anything after the value but whitespace (space, TAB, LF, CR),
 *   - NUL or any raw byte below 0x20 inside a string, any byte outside
 *     strings that the grammar does not allow (NUL, a byte order mark),
 *   - bytes that are not well-formed UTF-8 inside strings,
 *   - unknown escapes, \u escapes that are lone surrogates (a high one not
 *     followed by a low one, or a low one on its own),
 *   - duplicate keys in one object (compared after decoding escapes),
 *   - numbers off the grammar (01, 1., .5, +1, -, 0x1, NaN, Infinity),
 *     longer than PD_JSON_MAX_NUMBER characters, or out of double range
 *     (1e999); tiny ones (1e-999) read as 0,
 *   - nesting deeper than PD_JSON_MAX_DEPTH arrays/objects,
 *   - input of 4 GiB or more.
 * \u0000 is allowed: decoded strings may hold NUL bytes (their length says
 * how many bytes there are). The root may be any value.
 * Memory: about 13 bytes per input byte at worst ("[0,0,0,...]"), all
 * freed at once by pd_json_free.
 *
 * Numbers use strtod/snprintf and so assume the "C" LC_NUMERIC locale
 * (parade never calls setlocale).
 */
#ifndef PD_JSON_H
#define PD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PD_JSON_MAX_DEPTH 64
#define PD_JSON_MAX_NUMBER 512

/* ---- reader ---- */

/* A parsed value. A whole document is one allocation owned by its root;
 * every value reached from it is borrowed and lives until pd_json_free. */
typedef struct pd_json pd_json;

enum pd_json_type {
	PD_JSON_NULL = 0,
	PD_JSON_BOOL,
	PD_JSON_NUMBER,
	PD_JSON_STRING,
	PD_JSON_ARRAY,
	PD_JSON_OBJECT,
};

/* Parses text[0, len) (need not be NUL-terminated; text may be NULL when
 * len is 0). On success *out is the root (free it with pd_json_free) and
 * returns 0. On failure *out is NULL and returns -EINVAL (malformed, err
 * says "at byte N: ...") or -ENOMEM. err may be NULL; it is always
 * NUL-terminated when errlen > 0. */
int pd_json_parse(const char *text, size_t len, pd_json **out, char *err, size_t errlen);
/* Frees a document given its root; NULL and non-root values are ignored. */
void pd_json_free(pd_json *v);

/* enum pd_json_type, or -1 for NULL. */
int pd_json_type(const pd_json *v);
/* "null", "boolean", "number", "string", "array", "object" ("missing" for
 * -1, "?" otherwise), for error messages. */
const char *pd_json_type_name(int type);

/* Members of an array or object; 0 for other values and NULL. */
size_t pd_json_len(const pd_json *v);
/* Element i of an array, value of member i of an object (in document
 * order); NULL when out of range or not a container. */
const pd_json *pd_json_at(const pd_json *v, size_t i);
/* Key of member i of an object, NUL-terminated (may hold inner NULs); NULL
 * when out of range or not an object. */
const char *pd_json_key(const pd_json *obj, size_t i);
/* Value of the member named key (a C string); NULL when missing, when obj
 * is not an object, or obj is NULL. */
const pd_json *pd_json_get(const pd_json *obj, const char *key);

/* The decoded bytes of a string, NUL-terminated, with their count in *len
 * (len may be NULL); NULL if v is not a string. */
const char *pd_json_str(const pd_json *v, size_t *len);
/* Like pd_json_str, but NULL also when the string holds a NUL byte: for
 * values used as C strings (names, argv words). */
const char *pd_json_cstr(const pd_json *v);

/* Numeric accessors: 0 and the value, or -EINVAL (not a number, NULL, or
 * the value does not fit) leaving *out alone. An integer literal is exact
 * over the full 64-bit range; other numbers count as integers when their
 * double value is integral and below 2^53 (so 1e+05 and 3.0 are integers,
 * which matters for clients such as R's jsonlite). */
int pd_json_u64(const pd_json *v, uint64_t *u);
int pd_json_i64(const pd_json *v, int64_t *i);
/* Any number, as the nearest double. */
int pd_json_num(const pd_json *v, double *d);
/* true/false as 1/0. */
int pd_json_bool(const pd_json *v, int *b);

/* ---- writer ---- */

/* Appends n bytes as one JSON string, quotes included: '"' and '\\' are
 * escaped, \n \r \t \b \f use their short forms, other bytes below 0x20
 * become \u00xx, DEL and valid UTF-8 pass through, and each maximal
 * ill-formed UTF-8 subpart becomes \ufffd (U+FFFD). s may be NULL when n is
 * 0. 0 or -ENOMEM (b then holds a partial string). This is the project's
 * one JSON string escaper. */
int pd_json_put_str(pd_buf *b, const char *s, size_t n);
/* 1 if s[0, n) is well-formed UTF-8 by the rules the reader and the
 * escaper use (no overlongs, surrogates or code points over U+10FFFF), so
 * the escaper keeps it exactly; else 0. For names that must stay distinct
 * as JSON keys (a grid's column names). */
int pd_json_utf8_valid(const char *s, size_t n);

#define PD_JW_MAX_DEPTH 64

/* A streaming writer into a pd_buf: it places commas and colons itself.
 * Callers allocate it (usually on the stack) and set it up with pd_jw_init;
 * the fields are private. Calls never fail on the spot: the first error
 * (-ENOMEM, or -EINVAL for misuse: a key outside an object, a value where a
 * key is due, a mismatched end, nesting over PD_JW_MAX_DEPTH, a second
 * top-level value) is remembered, later calls do nothing, and pd_jw_error
 * reports it at the end. */
typedef struct pd_jw {
	pd_buf *out;        /* borrowed */
	int err;            /* first error, sticky */
	unsigned depth;     /* open containers */
	int want_value;     /* a key was written, its value is due */
	int done;           /* the top-level value is complete */
	uint64_t is_obj;    /* bit d: container at depth d+1 is an object */
	uint64_t has_items; /* bit d: it has a member already */
} pd_jw;

/* Starts writing at the end of out (borrowed; existing bytes are kept). */
void pd_jw_init(pd_jw *w, pd_buf *out);
void pd_jw_obj_begin(pd_jw *w);
void pd_jw_obj_end(pd_jw *w);
void pd_jw_arr_begin(pd_jw *w);
void pd_jw_arr_end(pd_jw *w);
/* An object key (a C string; escaped like any string). */
void pd_jw_key(pd_jw *w, const char *key);
/* A string value; pd_jw_str(w, NULL) writes null. */
void pd_jw_str(pd_jw *w, const char *s);
void pd_jw_strn(pd_jw *w, const char *s, size_t n);
void pd_jw_u64(pd_jw *w, uint64_t v);
void pd_jw_i64(pd_jw *w, int64_t v);
/* The shortest of %.15g/%.16g/%.17g that reads back as v; NaN and the
 * infinities become null. */
void pd_jw_dbl(pd_jw *w, double v);
void pd_jw_bool(pd_jw *w, int v);
void pd_jw_null(pd_jw *w);
/* n bytes the caller vouches are one complete JSON value (e.g. a stored
 * result object), written as the next value. */
void pd_jw_raw(pd_jw *w, const char *json, size_t n);
/* 0 when one complete value was written; the first error; or -EINVAL when
 * no value was written or a container is still open. */
int pd_jw_error(const pd_jw *w);

#endif
