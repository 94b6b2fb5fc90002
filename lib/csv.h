/* csv.h - RFC 4180 CSV and TSV reading (pure, no I/O beyond the buffer).
 *
 * CSV: fields separated by ',', records by LF or CRLF; a field that starts
 * with '"' is quoted and may hold separators, CR, LF and "" (one quote).
 * TSV: fields separated by TAB, records by LF or CRLF, no quoting.
 * The first record is the header. Every record must have as many fields as
 * the header (ragged rows are errors). A final record without a newline is
 * accepted; a trailing empty line is not a record. Bytes are kept exactly
 * (UTF-8 passes through; NUL bytes are an error). Column names must be
 * well-formed UTF-8: they become JSON keys, where ill-formed bytes would
 * all read as U+FFFD and two names could clash.
 */
#ifndef PD_CSV_H
#define PD_CSV_H

#include <stddef.h>
#include <stdint.h>

enum pd_csv_format { PD_CSV = 0, PD_TSV = 1 };

typedef struct pd_table {
	size_t ncols;
	size_t nrows;   /* data rows, header excluded */
	char **header;  /* ncols names */
	char **cells;   /* nrows * ncols, row-major, each NUL-terminated */
	size_t *lines;  /* nrows: 1-based line where each row starts */
} pd_table;

/* Parses text[0, len). On success *out is an owned table (pd_table_free).
 * On error returns -EINVAL (or -ENOMEM), *out is NULL and err gets one line
 * naming the line (1-based) and the reason, e.g.
 * "line 7: 3 fields, header has 4" or "line 2: unterminated quoted field",
 * "line 1: empty header", "line 3: duplicate column 'x'",
 * "line 1: column 2 name is not valid UTF-8" (header). */
int pd_table_parse(const char *text, size_t len, int format, pd_table **out, char *err,
		   size_t errlen);
/* Reads a whole file and parses it; errors are prefixed with the path
 * ("grid.csv: line 7: ..."). */
int pd_table_load(const char *path, int format, pd_table **out, char *err, size_t errlen);
/* An empty table with these column names (copied). NULL when out of
 * memory. */
pd_table *pd_table_new(const char *const *header, size_t ncols);
/* Appends a row of ncols cells (copied); its line number is 0. 0 or
 * -ENOMEM. Works on parsed tables too. */
int pd_table_append(pd_table *t, const char *const *cells);
/* Keeps the first nrows rows of t and frees the rest (no-op when t has
 * nrows or fewer). The only way to shorten a table: never set t->nrows. */
void pd_table_truncate(pd_table *t, size_t nrows);
/* Renames a column of a table made by pd_table_new. 0, -EINVAL (a parsed
 * table, or col out of range) or -ENOMEM. */
int pd_table_rename(pd_table *t, size_t col, const char *name);
/* Index of a column or -1. */
long pd_table_col(const pd_table *t, const char *name);
static inline const char *pd_table_cell(const pd_table *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}
void pd_table_free(pd_table *t);

/* Guesses the format from a file name: ".tsv" or ".tab" -> PD_TSV, else CSV. */
int pd_csv_format_for(const char *path);

#endif
