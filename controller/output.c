#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "json.h"

struct out_format;

struct pd_output {
	FILE *f;
	const struct out_format *fmt;
	const pd_table *grid;
	const pd_schema *schema;
	int ordered;
	int finished;
	int ioerr;
	int oom;
	uint64_t nrows;
	uint64_t *seen; /* bitmap: rows already recorded */
	/* ordered mode: rows that came before an earlier row, formatted and
	 * prefixed with their length; allocated on the first such row */
	char **pending;
	uint64_t npending;
	uint64_t next; /* first row not yet written (ordered) */
	uint64_t written;
	pd_buf line;
	void (*before)(void *arg);
	void *before_arg;
};

static const char *const fixed_cols[] = {"status", "exit_code", "seconds", "agent"};

/* Our own copy so output.c does not need codec.c linked in. */
static const char *status_name(int st)
{
	static const char *const names[] = {
		[PD_ST_OK] = "ok",
		[PD_ST_FAILED] = "failed",
		[PD_ST_TIMEOUT] = "timeout",
		[PD_ST_LOST] = "lost",
	};

	if (st < 0 || (size_t)st >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[st];
}


static int is_result_col(const char *name, const pd_schema *schema)
{
	size_t i;

	for (i = 0; i < sizeof(fixed_cols) / sizeof(fixed_cols[0]); i++)
		if (!strcmp(name, fixed_cols[i]))
			return 1;
	if (!strcmp(name, "error"))
		return 1;
	if (!schema)
		return !strcmp(name, "stdout");
	for (i = 0; i < schema->n; i++)
		if (!strcmp(name, schema->fields[i].name))
			return 1;
	return 0;
}

int pd_output_check_columns(const pd_table *grid, const pd_schema *schema, char *err,
			    size_t errlen)
{
	size_t i;

	/* a schema field named like a fixed column would give duplicate
	 * columns (and duplicate JSON keys) just the same */
	for (i = 0; schema && i < schema->n; i++) {
		if (is_result_col(schema->fields[i].name, NULL) &&
		    strcmp(schema->fields[i].name, "stdout")) {
			snprintf(err, errlen,
				 "schema field '%s' collides with a result column of the same "
				 "name; rename it in the schema",
				 schema->fields[i].name);
			return -EINVAL;
		}
	}
	for (i = 0; grid && i < grid->ncols; i++) {
		if (is_result_col(grid->header[i], schema)) {
			snprintf(err, errlen,
				 "grid column '%s' collides with a result column of the same "
				 "name; rename it in the grid",
				 grid->header[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- line building; allocation failure is sticky in o->oom ---- */

static void put(pd_output *o, const void *p, size_t n)
{
	if (pd_buf_append(&o->line, p, n) < 0)
		o->oom = 1;
}

static void puts_(pd_output *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(pd_output *o, char c)
{
	put(o, &c, 1);
}

static void put_csv(pd_output *o, const char *s, size_t n)
{
	size_t i, start;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			break;
	if (i == n) {
		put(o, s, n);
		return;
	}
	putc_(o, '"');
	for (i = start = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		/* include the quote in the run, then double it */
		put(o, s + start, i + 1 - start);
		start = i;
	}
	put(o, s + start, n - start);
	putc_(o, '"');
}

static void put_tsv(pd_output *o, const char *s, size_t n)
{
	size_t i, start;
	const char *esc;

	for (i = start = 0; i < n; i++) {
		switch (s[i]) {
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\\':
			esc = "\\\\";
			break;
		default:
			continue;
		}
		put(o, s + start, i - start);
		put(o, esc, 2);
		start = i + 1;
	}
	put(o, s + start, n - start);
}

static void put_json_str(pd_output *o, const char *s, size_t n)
{
	if (pd_json_put_str(&o->line, s, n) < 0)
		o->oom = 1;
}

static void put_json_cstr(pd_output *o, const char *s)
{
	put_json_str(o, s ? s : "", s ? strlen(s) : 0);
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number_ok(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static void put_json_dbl(pd_output *o, const char *v)
{
	char tmp[40];
	char *end;
	double d;
	int prec;

	if (!v || !*v) {
		puts_(o, "null");
		return;
	}
	d = strtod(v, &end);
	if (end == v || *end || !isfinite(d)) {
		puts_(o, "null");
		return;
	}
	if (json_number_ok(v)) {
		puts_(o, v);
		return;
	}
	/* shortest text that reads back as the same double */
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	puts_(o, tmp);
}

static void put_json_int(pd_output *o, const char *v)
{
	char tmp[32];
	char *end;
	long long x;

	if (v && *v && json_number_ok(v)) {
		puts_(o, v);
		return;
	}
	if (!v || !*v) {
		puts_(o, "null");
		return;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (end == v || *end || errno) {
		puts_(o, "null");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%lld", x);
	puts_(o, tmp);
}

static void put_json_lgl(pd_output *o, const char *v)
{
	static const char *const yes[] = {"TRUE", "true", "T", "1"};
	static const char *const no[] = {"FALSE", "false", "F", "0"};
	size_t i;

	for (i = 0; v && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i])) {
			puts_(o, "true");
			return;
		}
		if (!strcmp(v, no[i])) {
			puts_(o, "false");
			return;
		}
	}
	puts_(o, "null");
}

static void put_field(pd_output *o, const char *s, size_t n);
static void put_sep(pd_output *o, int first);

static void format_header(pd_output *o)
{
	size_t i;

	for (i = 0; i < o->grid->ncols; i++) {
		put_sep(o, i == 0);
		put_field(o, o->grid->header[i], strlen(o->grid->header[i]));
	}
	for (i = 0; i < sizeof(fixed_cols) / sizeof(fixed_cols[0]); i++) {
		put_sep(o, o->grid->ncols == 0 && i == 0);
		puts_(o, fixed_cols[i]);
	}
	if (!o->schema) {
		put_sep(o, 0);
		puts_(o, "stdout");
	}
	for (i = 0; o->schema && i < o->schema->n; i++) {
		put_sep(o, 0);
		put_field(o, o->schema->fields[i].name, strlen(o->schema->fields[i].name));
	}
	put_sep(o, 0);
	puts_(o, "error\n");
}

static const char *row_value(const pd_row_result *r, size_t i)
{
	return r->values ? r->values[i] : NULL;
}

static void format_delim(pd_output *o, uint64_t row, const pd_row_result *r)
{
	const char *s;
	char tmp[40];
	size_t i;

	for (i = 0; i < o->grid->ncols; i++) {
		s = pd_table_cell(o->grid, row, i);
		put_sep(o, i == 0);
		put_field(o, s, strlen(s));
	}
	put_sep(o, o->grid->ncols == 0);
	puts_(o, status_name(r->status));
	put_sep(o, 0);
	if (r->exit_code != -1) {
		snprintf(tmp, sizeof(tmp), "%d", r->exit_code);
		puts_(o, tmp);
	}
	put_sep(o, 0);
	if (isfinite(r->seconds)) {
		snprintf(tmp, sizeof(tmp), "%.6f", r->seconds);
		puts_(o, tmp);
	}
	put_sep(o, 0);
	s = r->agent ? r->agent : "";
	put_field(o, s, strlen(s));
	if (!o->schema) {
		put_sep(o, 0);
		put_field(o, r->out ? r->out : "", r->out ? r->out_len : 0);
	}
	for (i = 0; o->schema && i < o->schema->n; i++) {
		s = row_value(r, i);
		put_sep(o, 0);
		if (s)
			put_field(o, s, strlen(s));
	}
	put_sep(o, 0);
	s = r->error ? r->error : "";
	put_field(o, s, strlen(s));
	putc_(o, '\n');
}

static void put_json_key(pd_output *o, const char *key, int first)
{
	if (!first)
		putc_(o, ',');
	put_json_cstr(o, key);
	putc_(o, ':');
}

static void format_json(pd_output *o, uint64_t row, const pd_row_result *r)
{
	const pd_schema_field *fld;
	const char *s;
	char tmp[40];
	size_t i;

	putc_(o, '{');
	for (i = 0; i < o->grid->ncols; i++) {
		put_json_key(o, o->grid->header[i], i == 0);
		put_json_cstr(o, pd_table_cell(o->grid, row, i));
	}
	put_json_key(o, "status", o->grid->ncols == 0);
	put_json_cstr(o, status_name(r->status));
	put_json_key(o, "exit_code", 0);
	if (r->exit_code == -1)
		snprintf(tmp, sizeof(tmp), "null");
	else
		snprintf(tmp, sizeof(tmp), "%d", r->exit_code);
	puts_(o, tmp);
	put_json_key(o, "seconds", 0);
	if (isfinite(r->seconds))
		snprintf(tmp, sizeof(tmp), "%.6f", r->seconds);
	else
		snprintf(tmp, sizeof(tmp), "null");
	puts_(o, tmp);
	put_json_key(o, "agent", 0);
	put_json_cstr(o, r->agent);
	if (!o->schema) {
		put_json_key(o, "stdout", 0);
		put_json_str(o, r->out ? r->out : "", r->out ? r->out_len : 0);
	}
	for (i = 0; o->schema && i < o->schema->n; i++) {
		fld = &o->schema->fields[i];
		s = row_value(r, i);
		put_json_key(o, fld->name, 0);
		switch (fld->type) {
		case PD_T_DBL:
			put_json_dbl(o, s);
			break;
		case PD_T_INT:
			put_json_int(o, s);
			break;
		case PD_T_LGL:
			put_json_lgl(o, s);
			break;
		default:
			if (s)
				put_json_cstr(o, s);
			else
				puts_(o, "null");
			break;
		}
	}
	put_json_key(o, "error", 0);
	put_json_cstr(o, r->error);
	puts_(o, "}\n");
}

static int emit(pd_output *o, const void *p, size_t n)
{
	if (o->before)
		o->before(o->before_arg);
	if (fwrite(p, 1, n, o->f) != n) {
		o->ioerr = 1;
		return -EIO;
	}
	o->written++;
	return 0;
}

/* Writes a buffered row and releases it. */
static int emit_pending(pd_output *o, uint64_t row)
{
	char *p = o->pending[row];
	size_t n;
	int rv;

	memcpy(&n, p, sizeof(n));
	rv = emit(o, p + sizeof(n), n);
	free(p);
	o->pending[row] = NULL;
	o->npending--;
	return rv;
}

/* ---- the formats: one entry each ---- */

/* How one output format writes the table. header: the line(s) before the
 * first row, or NULL for none; row: one row into o->line (the caller
 * writes it and keeps the order); field and sep: how a delimited format
 * writes one value and what goes between two (NULL/0 for others). A new
 * format is its functions and one line in formats[] (and its enum value
 * in output.h). */
typedef struct out_format {
	const char *name; /* as --format and the session record spell it */
	void (*header)(pd_output *o);
	void (*row)(pd_output *o, uint64_t row, const pd_row_result *r);
	void (*field)(pd_output *o, const char *s, size_t n);
	char sep;
} out_format;

static const out_format formats[] = {
	[PD_FMT_CSV] = {"csv", format_header, format_delim, put_csv, ','},
	[PD_FMT_TSV] = {"tsv", format_header, format_delim, put_tsv, '\t'},
	[PD_FMT_JSONL] = {"jsonl", NULL, format_json, NULL, 0},
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

/* A delimited format's field and separator. */
static void put_field(pd_output *o, const char *s, size_t n)
{
	o->fmt->field(o, s, n);
}

static void put_sep(pd_output *o, int first)
{
	if (!first)
		putc_(o, o->fmt->sep);
}

int pd_format_parse(const char *s)
{
	for (size_t i = 0; s && i < NFORMATS; i++)
		if (!strcmp(s, formats[i].name))
			return (int)i;
	return -EINVAL;
}

const char *pd_format_name(int format)
{
	return format >= 0 && (size_t)format < NFORMATS ? formats[format].name : NULL;
}

pd_output *pd_output_new(FILE *f, int format, const pd_table *grid, const pd_schema *schema,
			 int ordered)
{
	pd_output *o;
	uint64_t words;

	if (!pd_format_name(format))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->f = f;
	o->fmt = &formats[format];
	o->grid = grid;
	o->schema = schema;
	o->ordered = ordered;
	o->nrows = grid->nrows;
	words = (o->nrows + 63) / 64;
	o->seen = calloc(words ? words : 1, sizeof(*o->seen));
	if (!o->seen) {
		free(o);
		return NULL;
	}
	if (o->fmt->header) {
		o->fmt->header(o);
		if (o->oom) {
			pd_output_free(o);
			return NULL;
		}
		if (fwrite(o->line.data, 1, o->line.len, f) != o->line.len)
			o->ioerr = 1;
		pd_buf_reset(&o->line);
	}
	return o;
}

int pd_output_row(pd_output *o, uint64_t row, const pd_row_result *r)
{
	uint64_t bit;
	size_t n;
	char *p;
	int rv, rv2;

	if (row >= o->nrows)
		return -EINVAL;
	bit = UINT64_C(1) << (row % 64);
	if (o->seen[row / 64] & bit)
		return -EALREADY;

	pd_buf_reset(&o->line);
	o->oom = 0;
	o->fmt->row(o, row, r);
	if (o->oom)
		return -ENOMEM;

	if (o->ordered && !o->finished && row != o->next) {
		if (!o->pending) {
			o->pending = calloc(o->nrows, sizeof(*o->pending));
			if (!o->pending)
				return -ENOMEM;
		}
		n = o->line.len;
		p = malloc(sizeof(n) + n);
		if (!p)
			return -ENOMEM;
		memcpy(p, &n, sizeof(n));
		memcpy(p + sizeof(n), o->line.data, n);
		o->pending[row] = p;
		o->npending++;
		o->seen[row / 64] |= bit;
		return 0;
	}

	o->seen[row / 64] |= bit;
	rv = emit(o, o->line.data, o->line.len);
	if (!o->ordered || o->finished)
		return rv;
	o->next++;
	while (o->npending && o->next < o->nrows && o->pending[o->next]) {
		rv2 = emit_pending(o, o->next);
		if (!rv)
			rv = rv2;
		o->next++;
	}
	return rv;
}

int pd_output_finish(pd_output *o)
{
	uint64_t i;
	int rv = 0;

	for (i = o->next; o->npending && i < o->nrows; i++)
		if (o->pending[i] && emit_pending(o, i) < 0)
			rv = -EIO;
	free(o->pending);
	o->pending = NULL;
	o->next = o->nrows;
	o->finished = 1;
	if (fflush(o->f) != 0 || ferror(o->f) || o->ioerr)
		rv = -EIO;
	return rv;
}

void pd_output_set_before(pd_output *o, void (*before)(void *arg), void *arg)
{
	o->before = before;
	o->before_arg = arg;
}

FILE *pd_output_file(const pd_output *o)
{
	return o->f;
}

uint64_t pd_output_written(const pd_output *o)
{
	return o->written;
}

void pd_output_free(pd_output *o)
{
	uint64_t i;

	if (!o)
		return;
	for (i = 0; o->pending && o->npending && i < o->nrows; i++) {
		if (o->pending[i]) {
			free(o->pending[i]);
			o->npending--;
		}
	}
	free(o->pending);
	free(o->seen);
	pd_buf_free(&o->line);
	free(o);
}
