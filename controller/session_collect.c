/* session_collect.c - `parade collect NAME`: the result table of a
 * session from its journal. What the table looks like (columns, schema,
 * format) is read from the session record (session_record.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "commands.h"
#include "csv.h"
#include "journal.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "output.h"
#include "schema.h"
#include "session.h"
#include "session_int.h"
#include "session_record.h"

/* What a table of the session looks like: its columns and tasks, its
 * schema and format, as the session record (session_record.h) says. */
typedef struct shape {
	pd_table *grid;		/* the tasks, with the recorded column names */
	pd_schema *schema;	/* NULL: raw stdout */
	int format;		/* enum pd_format */
} shape;

static void shape_free(shape *sh)
{
	pd_table_free(sh->grid);
	pd_schema_free(sh->schema);
	memset(sh, 0, sizeof(*sh));
}

/* 0 or -errno (reported). */
static int shape_read(const char *name, pd_journal *j, shape *sh)
{
	char err[1024];
	pd_record rec;
	int rv;

	memset(sh, 0, sizeof(*sh));
	rv = pd_record_read(name, j, PD_REC_SHAPE, &rec);
	if (rv == 0) {
		sh->format = rec.o.format;
		if (rec.o.schema && *rec.o.schema &&
		    pd_schema_parse(rec.o.schema, &sh->schema, err, sizeof(err)) < 0) {
			pd_err("session %s: the journal's schema: %s", name, err);
			rv = -EPROTO;
		}
	}
	pd_record_free(&rec);
	if (rv == 0 && (rv = pd_record_grid(j, &sh->grid, err, sizeof(err))) < 0)
		pd_err("session %s: %s", name, err);
	if (rv < 0)
		shape_free(sh);
	return rv;
}

/* ---- collect ---- */

typedef struct collector {
	pd_output *out;
	const pd_schema *schema;
	int contiguous;		/* stop at the first task without a result */
	uint64_t next_task;
	uint64_t rows;
	int failed;
} collector;

static int collect_row(void *arg, const pd_jresult *jr)
{
	collector *co = arg;
	pd_row row;
	int rv;

	if (co->contiguous && jr->task != co->next_task)
		return 1; /* a gap: what follows is not final yet */
	co->next_task = jr->task + 1;
	pd_row_build(&row, co->schema, jr, 0);
	row.r.status = jr->status; /* as recorded: run judged it against the schema */
	rv = pd_output_row(co->out, jr->task, &row.r);
	pd_row_free(&row);
	if (rv == -EIO) {
		co->failed = 1;
		return 1;
	}
	co->rows++;
	return 0;
}

static const char collect_usage[] =
	"usage: parade collect NAME [--wait] [--format csv|tsv|jsonl] [-o FILE] [--unordered]\n"
	"\n"
	"Writes the session's result table from its journal: while the session\n"
	"runs, the rows finished so far (in grid order: the complete prefix; with\n"
	"--unordered: every finished row, in the order they were recorded); after\n"
	"it ended, every finished row. --wait first waits for the session to end\n"
	"(exit status 2, naming the error, if its journal cannot be written).\n";

int pd_collect_main(int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
					   {"format", required_argument, 0, 'f'},
					   {"output", required_argument, 0, 'o'},
					   {"unordered", no_argument, 0, 'u'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	int c, wait = 0, format = -1, unordered = 0, rv = 2, live;
	const char *output = NULL, *name;
	char dir[4096], err[1024];
	pd_journal *j = NULL;
	shape sh;
	collector co;
	FILE *f = stdout;

	memset(&sh, 0, sizeof(sh));
	memset(&co, 0, sizeof(co));
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'w': wait = 1; break;
		case 'f':
			if ((format = pd_format_parse(optarg)) < 0) {
				fprintf(stderr, "parade collect: --format '%s': use csv, tsv or jsonl\n", optarg);
				return 2;
			}
			break;
		case 'o': output = optarg; break;
		case 'u': unordered = 1; break;
		case 'h': fputs(collect_usage, stdout); return 0;
		default: fputs(collect_usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(collect_usage, stderr);
		return 2;
	}
	name = argv[optind]; /* the caller's argv: optind is not read again */
	if (pd_session_find(name, dir, sizeof(dir), err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return 2;
	}
	if (wait && (rv = ses_wait(name, dir, sizeof(dir))) != 0)
		return rv;
	rv = 2;
	live = pd_lock_held(dir, NULL, 0) == 1;
	if (!live) /* it may have ended since it was found */
		ses_refind(name, dir, sizeof(dir));
	if (ses_journal_open(name, dir, PD_J_READONLY, &j) < 0)
		return 2;
	if (shape_read(name, j, &sh) < 0)
		goto out;
	if (format < 0)
		format = sh.format;
	if (output && !(f = fopen(output, "we"))) {
		pd_err("cannot write %s: %s", output, strerror(errno));
		f = stdout;
		goto out;
	}
	co.schema = sh.schema;
	co.contiguous = live && !unordered;
	co.out = pd_output_new(f, format, sh.grid, sh.schema, 0);
	if (!co.out) {
		pd_err("out of memory");
		goto out;
	}
	if (pd_journal_results(j, !unordered, 0, 0, collect_row, &co) < 0 && !co.failed) {
		pd_err("session %s: cannot read the results: %s", name, pd_journal_error(j));
		goto out;
	}
	if (co.failed || pd_output_finish(co.out) < 0) {
		pd_err("cannot write the result table: %s", strerror(errno));
		goto out;
	}
	if (!live && co.rows < sh.grid->nrows)
		pd_warn("session %s: %llu of %zu tasks have no result (the session ended before they "
			"ran)",
			name, (unsigned long long)(sh.grid->nrows - co.rows), sh.grid->nrows);
	rv = 0;
out:
	if (co.out)
		pd_output_free(co.out);
	if (f != stdout && fclose(f) != 0 && rv == 0) {
		pd_err("cannot write %s: %s", output, strerror(errno));
		rv = 2;
	}
	shape_free(&sh);
	pd_journal_close(j);
	return rv;
}

