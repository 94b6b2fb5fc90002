/* journal_int.h - what journal.c (open, meta, writes, commit),
 * journal_redo.c (the kept writes) and journal_read.c (the reads) share;
 * private to those files. They are
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
	int64_t next_agent; /* the agents row the next join gets (a writer's) */
	/* every write of the open transaction, kept until it commits
	 * (journal_redo.c); broken: SQLite's transaction is gone or failed,
	 * so writes are only kept and the commit writes them all again */
	pd_buf redo;
	size_t redo_start; /* where the last record begins */
	size_t redo_ops;
	int redo_oom;
	int broken;
	int failing; /* the last commit failed (logged once) */
	char err[512];
};

/* Gets prepared statement which (ST_*), prepared on first use. 0 or -errno. */
int pd_journal_stmt(pd_journal *j, int which, sqlite3_stmt **out);
/* Records SQLite's complaint about rc (call before any other sqlite3_*
 * call on the handle) as j's error and returns the errno for it. */
int pd_journal_fail(pd_journal *j, int rc, const char *what);
/* 1 if a write that failed with SQLite's rc may work when tried again (a
 * full disk, an I/O error, a lock, memory); 0 if it would fail again
 * (a constraint, too big, a mismatch). */
int pd_journal_rc_retry(int rc);

/* The kept writes (journal_redo.c). A record is built with begin, its
 * arguments in the order of the statement's ?1, ?2 ..., then end (0 or
 * -ENOMEM, and then nothing is kept). exec_last runs the last record in
 * the open transaction (0 or -errno; *rc SQLite's code); drop_last forgets
 * it; replay runs every record again in order (a record that fails for
 * good is logged and skipped; 0 or the -errno of one that may work
 * later); clear forgets all (after a commit). */
void pd_jredo_begin(pd_journal *j, int which, uint32_t weight);
void pd_jredo_int(pd_journal *j, int64_t v);
void pd_jredo_dbl(pd_journal *j, double v);
void pd_jredo_null(pd_journal *j);
void pd_jredo_text(pd_journal *j, const char *s); /* NULL: null */
void pd_jredo_blob(pd_journal *j, const void *p, size_t n);
int pd_jredo_end(pd_journal *j);
int pd_jredo_exec_last(pd_journal *j, int *rc);
uint32_t pd_jredo_last_weight(const pd_journal *j);
void pd_jredo_drop_last(pd_journal *j);
int pd_jredo_replay(pd_journal *j);
void pd_jredo_clear(pd_journal *j);

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
