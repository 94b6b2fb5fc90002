/* journal_int.h - what journal.c (open, meta, writes, commit) and
 * journal_read.c (the reads) share; private to those two files. They are
 * the only files of parade allowed to include <sqlite3.h> (a unit test may,
 * to look at a journal from outside). */
#ifndef PD_JOURNAL_INT_H
#define PD_JOURNAL_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "journal.h"

/* statements the writer runs again and again, prepared once */
enum { ST_BEGIN, ST_COMMIT, ST_META_SET, ST_META_GET, ST_TASK, ST_TASK_AT, ST_ATTEMPT, ST_RESULT,
       ST_JOIN, ST_LEAVE, ST_EVENT, ST_MAX_ };

struct pd_journal {
	sqlite3 *db;
	char *path;
	int readonly;
	size_t pending; /* write calls in the open transaction (not the buffered) */
	sqlite3_stmt *st[ST_MAX_];
	/* the blocks being filled, not yet in SQLite (journal_block.h) */
	pd_buf tblock;	   /* tasks [tfirst, tfirst + its count) */
	uint64_t tfirst;
	pd_buf ablock;	   /* hand-outs */
	uint64_t task_end; /* above every task id recorded (a writer's) */
	char err[512];
};

/* Sets j's error (pd_journal_error) to "journal PATH: " and the message. */
void __attribute__((format(printf, 2, 3))) pd_journal_set_err(pd_journal *j, const char *fmt, ...);
/* Prepares sql into *s (NULL on error), which the caller finalizes.
 * 0 or -errno with j's error set. */
int pd_journal_prep(pd_journal *j, const char *sql, sqlite3_stmt **s);
/* 1 while s has a row; then 0 with *rv 0 (done) or -errno (j's error
 * names what). */
int pd_journal_next_row(pd_journal *j, sqlite3_stmt *s, int *rv, const char *what);
/* Writes the buffered block of tasks (of hand-outs) into the open
 * transaction, beginning one if none is open, so SQL sees them; nothing
 * buffered is a no-op. 0 or -errno; on failure the block stays buffered
 * for a retry. */
int pd_journal_flush_tasks(pd_journal *j);
int pd_journal_flush_attempts(pd_journal *j);

/* Column i as text, "" for NULL; valid until s steps or is reset. */
static inline const char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

static inline void bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

#endif
