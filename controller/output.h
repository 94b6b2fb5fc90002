/* output.h - the result table: one row per task, written as CSV, TSV or
 * JSON lines, in grid order or in completion order.
 *
 * Columns: the grid's columns, then status, exit_code, seconds, agent,
 * then either stdout or the schema's fields, then error.
 * CSV: RFC 4180 (fields with ',', '"', CR or LF are quoted, quotes
 * doubled), header line first, LF line ends.
 * TSV: header line first; TAB, LF, CR and backslash inside values are
 * written as \t \n \r \\.
 * JSONL: one object per row; grid values and chr fields as strings, dbl and
 * int fields as numbers (NA, NaN, Inf as null), lgl as true/false/null,
 * exit_code a number or null, seconds a number; bytes that are not valid
 * UTF-8 become U+FFFD. No header.
 * An empty schema value (row failed) is an empty CSV/TSV field, JSON null.
 */
#ifndef PD_OUTPUT_H
#define PD_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "csv.h"
#include "journal.h"
#include "schema.h"

enum pd_format { PD_FMT_CSV = 0, PD_FMT_TSV, PD_FMT_JSONL }; /* output.c's formats[] */

/* One finished task, as the table shows it. All pointers are borrowed for
 * the duration of pd_output_row. */
typedef struct pd_row_result {
	int status;        /* enum pd_status (codec.h) */
	int exit_code;     /* -1: none (signal, lost, not started) */
	double seconds;    /* wall time */
	const char *agent; /* agent name, "" if none */
	const char *out;   /* stdout bytes (when no schema) */
	size_t out_len;
	char *const *values; /* schema values (schema->n of them; NULL entries or
			      * values == NULL mean empty) */
	const char *error; /* "" when none */
} pd_row_result;

/* The one row builder: a result (as the journal keeps it, pd_jresult) made
 * into the row the table shows, for run's table (record.c), collect
 * (session_collect.c) and the control socket's collect op (control_ops.c).
 * row->r is what pd_output_row takes: status, exit code, seconds, agent
 * and error as the result has them (NULL strings as ""), stdout without its
 * final line end (LF or CRLF, as $(...) does; with PD_ROW_RAW the bytes as
 * they are), and with a schema the fields extracted from stdout when the
 * status is ok. A stdout that does not fit the schema makes the row failed
 * and schema_err says why (run turns that into the error column); values
 * are then empty. Out of memory leaves the values empty. Its pointers are
 * borrowed from jr and row: valid while both are; pd_row_free frees the
 * values. */
#define PD_ROW_RAW 1
typedef struct pd_row {
	pd_row_result r;
	char **values;		/* schema->n values (owned), or NULL */
	size_t nvalues;
	char schema_err[512];	/* "" when stdout fits (or no schema) */
} pd_row;

void pd_row_build(pd_row *row, const pd_schema *schema, const pd_jresult *jr, int flags);
void pd_row_free(pd_row *row);

typedef struct pd_output pd_output;

/* The formats are a table in output.c (one entry each: its name, header
 * and row writers); enum pd_format indexes it. */
/* "csv", "tsv", "jsonl" -> its enum pd_format, or -EINVAL. */
int pd_format_parse(const char *s);
/* The format's name, or NULL for none. */
const char *pd_format_name(int format);

/* Fails with -EINVAL and err if a grid column has the name of a result
 * column (status, exit_code, seconds, agent, stdout or a schema field,
 * error), e.g. "grid column 'status' collides with a result column of the
 * same name; rename it in the grid". */
int pd_output_check_columns(const pd_table *grid, const pd_schema *schema, char *err,
			    size_t errlen);

/* f, grid and schema (NULL: a stdout column) are borrowed and must outlive
 * the output. ordered != 0 keeps grid order (rows are buffered until all
 * earlier rows are written); else rows are written as they come.
 * The header (CSV/TSV) is written at once. NULL on allocation failure or
 * for a format that is not one of enum pd_format. */
pd_output *pd_output_new(FILE *f, int format, const pd_table *grid, const pd_schema *schema,
			 int ordered);
/* Records the result of grid row `row` (0-based, < grid->nrows; each row at
 * most once: a second call for the same row is ignored and returns
 * -EALREADY). 0, -EALREADY, -EIO (write failed) or -ENOMEM. */
int pd_output_row(pd_output *o, uint64_t row, const pd_row_result *r);
/* Writes buffered rows still waiting for an earlier row (used when a run
 * is interrupted: finished rows are printed in grid order, gaps skipped),
 * flushes f. 0 or -EIO. */
int pd_output_finish(pd_output *o);
/* Calls before(arg) just before each write of rows to f (NULL: none);
 * for a progress line on the same terminal. arg is borrowed. */
void pd_output_set_before(pd_output *o, void (*before)(void *arg), void *arg);
/* The file rows go to (borrowed). */
FILE *pd_output_file(const pd_output *o);
/* Rows written so far. */
uint64_t pd_output_written(const pd_output *o);
void pd_output_free(pd_output *o);

#endif
