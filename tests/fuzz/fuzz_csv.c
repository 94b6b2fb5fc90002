/* fuzz_csv.c - CSV and TSV grids (pd_table_parse). data[0] & 1 picks TSV,
 * the rest is the file.
 *
 * Checks on a parsed table: its shape and line numbers; every header name
 * non-empty, well-formed UTF-8, unique and found by pd_table_col; no cell holds a NUL; writing
 * the table back (CSV: every field quoted; TSV: CRLF after each record and
 * one more LF, the form that keeps a trailing CR and a last empty row) and
 * parsing that gives the same cells; pd_table_append of a row copy works on
 * a parsed table. On an error the message names a line. */
#include "csv.h"
#include "buf.h"
#include "fuzz.h"
#include "json.h"

#include <errno.h>
#include <string.h>

static void put(pd_buf *b, const char *s)
{
	FUZZ_CHECK(pd_buf_append(b, s, strlen(s)) == 0, "append");
}

static void write_table(pd_buf *b, const pd_table *t, int format)
{
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = r ? pd_table_cell(t, r - 1, c) : t->header[c];
			if (c)
				put(b, format == PD_TSV ? "\t" : ",");
			if (format == PD_TSV) {
				put(b, v);
				continue;
			}
			put(b, "\"");
			for (const char *q = v; *q; q++)
				put(b, *q == '"' ? "\"\"" : (char[]){*q, 0});
			put(b, "\"");
		}
		put(b, format == PD_TSV ? "\r\n" : "\n");
	}
	if (format == PD_TSV)
		put(b, "\n");
}

static void same_table(const pd_table *a, const pd_table *b)
{
	FUZZ_CHECK(a->ncols == b->ncols && a->nrows == b->nrows, "round trip keeps the shape");
	for (size_t c = 0; c < a->ncols; c++)
		FUZZ_CHECK(!strcmp(a->header[c], b->header[c]), "round trip keeps the header");
	for (size_t i = 0; i < a->nrows * a->ncols; i++)
		FUZZ_CHECK(!strcmp(a->cells[i], b->cells[i]), "round trip keeps every cell");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pd_table *t = NULL, *t2 = NULL;
	pd_buf b = {0};
	char err[256];
	int format, rv;

	if (size < 1)
		return 0;
	format = (data[0] & 1) ? PD_TSV : PD_CSV;
	err[0] = 0;
	rv = pd_table_parse((const char *)data + 1, size - 1, format, &t, err, sizeof(err));
	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL && !t, "a bad grid is -EINVAL with no table");
		FUZZ_CHECK(!strncmp(err, "line ", 5) || !strcmp(err, "empty input (no header)"),
			   "an error names its line");
		return 0;
	}
	FUZZ_CHECK(t && t->ncols >= 1, "a table has columns");
	for (size_t c = 0; c < t->ncols; c++) {
		FUZZ_CHECK(t->header[c][0], "no empty column name");
		FUZZ_CHECK(pd_json_utf8_valid(t->header[c], strlen(t->header[c])),
			   "column names are UTF-8");
		FUZZ_CHECK(pd_table_col(t, t->header[c]) == (long)c, "names are unique and found");
	}
	for (size_t r = 0; r < t->nrows; r++) {
		FUZZ_CHECK(t->lines[r] >= 2 && (r == 0 || t->lines[r] > t->lines[r - 1]),
			   "row lines grow from 2");
		for (size_t c = 0; c < t->ncols; c++)
			FUZZ_CHECK(strlen(pd_table_cell(t, r, c)) < size, "cells are in the input");
	}
	write_table(&b, t, format);
	rv = pd_table_parse((const char *)pd_buf_head(&b), pd_buf_size(&b), format, &t2, err,
			    sizeof(err));
	if (rv < 0)
		fprintf(stderr, "re-parse: %s\n", err);
	FUZZ_CHECK(rv == 0, "a written table parses");
	same_table(t, t2);
	if (t->nrows) {
		const char **row = malloc(t->ncols * sizeof(*row));
		FUZZ_CHECK(row != NULL, "malloc");
		for (size_t c = 0; c < t->ncols; c++)
			row[c] = pd_table_cell(t, 0, c);
		FUZZ_CHECK(pd_table_append(t2, row) == 0, "append to a parsed table");
		FUZZ_CHECK(t2->nrows == t->nrows + 1, "append adds a row");
		for (size_t c = 0; c < t->ncols; c++)
			FUZZ_CHECK(!strcmp(pd_table_cell(t2, t->nrows, c), row[c]),
				   "an appended row is a copy");
		free(row);
	}
	pd_table_free(t);
	pd_table_free(t2);
	pd_buf_free(&b);
	return 0;
}
