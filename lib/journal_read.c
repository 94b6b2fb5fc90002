/* journal_read.c - the reads of journal.h: counts, tasks, results, the
 * highest attempts, agents and events. */
#include "journal.h"
#include "journal_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "journal_block.h"

/* Column i as bytes: blob first, then its size (SQLite's order, so the
 * size is that of the bytes returned). */
static const void *col_blob(sqlite3_stmt *s, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(s, i);

	*n = (size_t)sqlite3_column_bytes(s, i);
	return p;
}

int pd_journal_counts(pd_journal *j, pd_jcounts *c)
{
	sqlite3_stmt *s = NULL;
	int rv;

	memset(c, 0, sizeof(*c));
	if ((rv = pd_journal_flush_tasks(j)) < 0)
		return rv;
	/* one statement, so one snapshot */
	rv = pd_journal_prep(j,
		  "SELECT (SELECT coalesce(sum(count), 0) FROM tasks), count(*), sum(status = 0),"
		  " sum(status = 1), sum(status = 2), sum(status = 3) FROM results",
		  &s);
	if (rv == 0 && pd_journal_next_row(j, s, &rv, "counting")) {
		c->tasks = (uint64_t)sqlite3_column_int64(s, 0);
		c->results = (uint64_t)sqlite3_column_int64(s, 1);
		c->ok = (uint64_t)sqlite3_column_int64(s, 2);
		c->failed = (uint64_t)sqlite3_column_int64(s, 3);
		c->timeout = (uint64_t)sqlite3_column_int64(s, 4);
		c->lost = (uint64_t)sqlite3_column_int64(s, 5);
	}
	sqlite3_finalize(s);
	return rv;
}

/* The first id and count of a block row, checked: 0 or -EINVAL. */
static int block_row(sqlite3_stmt *s, uint32_t max, uint64_t *first, size_t *count)
{
	int64_t f = sqlite3_column_int64(s, 0), n = sqlite3_column_int64(s, 1);

	*first = f < 0 ? 0 : (uint64_t)f;
	*count = n < 1 || n > max ? 0 : (size_t)n;
	return f < 0 || !*count || (uint64_t)f > (uint64_t)INT64_MAX - (*count - 1) ? -EINVAL : 0;
}

int pd_journal_tasks(pd_journal *j, int (*cb)(void *arg, uint64_t id, char **cells, size_t n),
		     void *arg)
{
	sqlite3_stmt *s = NULL;
	pd_buf b = {0};
	pd_jbtask *t;
	const void *blob;
	size_t n, len;
	uint64_t first;
	int rv;

	if ((rv = pd_journal_flush_tasks(j)) < 0)
		return rv;
	rv = pd_journal_prep(j, "SELECT first, count, cells FROM tasks ORDER BY first", &s);
	while (rv == 0 && pd_journal_next_row(j, s, &rv, "reading tasks")) {
		rv = block_row(s, PD_JBLOCK_TASKS, &first, &n);
		blob = col_blob(s, 2, &len);
		if (rv == 0)
			rv = pd_jblock_tasks_decode(&b, blob, len, n, &t);
		if (rv < 0) {
			pd_journal_set_err(j, "task block %lld (%lld tasks): %s",
				sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
				rv == -ENOMEM ? "out of memory" : "does not decode");
			break;
		}
		for (size_t i = 0; rv == 0 && i < n; i++)
			rv = cb(arg, first + i, t[i].cells, t[i].n);
	}
	sqlite3_finalize(s);
	pd_buf_free(&b);
	return rv;
}

int pd_journal_results(pd_journal *j, int by_task, uint64_t since_seq, size_t limit,
		       int (*cb)(void *arg, const pd_jresult *r), void *arg)
{
#define RESULTS_SQL                                                                                \
	"SELECT seq, task, attempt, status, exit_code, seconds, agent, out, error, at_ms"          \
	" FROM results WHERE seq > ?1 ORDER BY "
	static const char *const sql[2] = {RESULTS_SQL "seq LIMIT ?2", RESULTS_SQL "task LIMIT ?2"};
	sqlite3_stmt *s = NULL;
	pd_jresult r;
	int rv;

	rv = pd_journal_prep(j, sql[by_task != 0], &s);
	if (rv < 0)
		return rv;
	bind_u64(s, 1, since_seq > INT64_MAX ? INT64_MAX : since_seq);
	sqlite3_bind_int64(s, 2, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
	while (rv == 0 && pd_journal_next_row(j, s, &rv, "reading results")) {
		r.seq = (uint64_t)sqlite3_column_int64(s, 0);
		r.task = (uint64_t)sqlite3_column_int64(s, 1);
		r.attempt = (uint32_t)sqlite3_column_int64(s, 2);
		r.status = sqlite3_column_int(s, 3);
		r.exit_code = sqlite3_column_int(s, 4);
		r.seconds = sqlite3_column_double(s, 5);
		r.agent = col_str(s, 6);
		r.out = col_str(s, 7); /* text access NUL-terminates a blob */
		r.out_len = (size_t)sqlite3_column_bytes(s, 7);
		r.error = col_str(s, 8);
		r.at_ms = (uint64_t)sqlite3_column_int64(s, 9);
		if (r.out_len > PD_JOURNAL_MAX_BLOB) {
			pd_journal_set_err(j, "task %" PRIu64 ": output of %zu bytes is too large",
				r.task, r.out_len);
			rv = -EINVAL;
			break;
		}
		rv = cb(arg, &r);
	}
	sqlite3_finalize(s);
	return rv;
}

int pd_journal_attempts_max(pd_journal *j, int (*cb)(void *arg, uint64_t task, uint32_t attempt),
			    void *arg)
{
	sqlite3_stmt *s = NULL;
	pd_buf b = {0};
	pd_jbattempt *a;
	pd_jblock_max m = {0};
	const void *blob;
	size_t count, len;
	uint64_t seq;
	int rv;

	if ((rv = pd_journal_flush_attempts(j)) < 0)
		return rv;
	rv = pd_journal_prep(j, "SELECT seq, count, data FROM attempts ORDER BY seq", &s);
	while (rv == 0 && pd_journal_next_row(j, s, &rv, "reading attempts")) {
		rv = block_row(s, PD_JBLOCK_ATTEMPTS, &seq, &count);
		blob = col_blob(s, 2, &len);
		if (rv == 0)
			rv = pd_jblock_attempts_decode(&b, blob, len, count, &a);
		if (rv == 0)
			rv = pd_jblock_max_add(&m, a, count);
		if (rv < 0)
			pd_journal_set_err(j, "attempt block %lld (%lld attempts): %s",
				sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
				rv == -ENOMEM ? "out of memory" : "does not decode");
	}
	sqlite3_finalize(s);
	pd_buf_free(&b);
	if (rv == 0)
		pd_jblock_max_finish(&m);
	for (size_t i = 0; rv == 0 && i < m.n; i++)
		rv = cb(arg, m.v[i].task, m.v[i].attempt);
	pd_jblock_max_free(&m);
	return rv;
}

int pd_journal_agents(pd_journal *j, int (*cb)(void *arg, const pd_jagent *a), void *arg)
{
	sqlite3_stmt *s = NULL;
	pd_jagent a;
	int rv;

	rv = pd_journal_prep(j,
		  "SELECT name, host, pid, mode, slurm_job, slurm_step, slots, joined_ms,"
		  " left_ms, tasks_done FROM agents ORDER BY id",
		  &s);
	while (rv == 0 && pd_journal_next_row(j, s, &rv, "reading agents")) {
		a.name = col_str(s, 0);
		a.host = col_str(s, 1);
		a.pid = (uint32_t)sqlite3_column_int64(s, 2);
		a.mode = col_str(s, 3);
		a.slurm_job = col_str(s, 4);
		a.slurm_step = col_str(s, 5);
		a.slots = (uint32_t)sqlite3_column_int64(s, 6);
		a.joined_ms = (uint64_t)sqlite3_column_int64(s, 7);
		a.left_ms = (uint64_t)sqlite3_column_int64(s, 8);
		a.tasks_done = (uint64_t)sqlite3_column_int64(s, 9);
		rv = cb(arg, &a);
	}
	sqlite3_finalize(s);
	return rv;
}

int pd_journal_events(pd_journal *j, uint64_t since_seq,
		      int (*cb)(void *arg, uint64_t seq, uint64_t at_ms, const char *kind,
				const char *text),
		      void *arg)
{
	sqlite3_stmt *s = NULL;
	int rv;

	rv = pd_journal_prep(j, "SELECT seq, at_ms, kind, text FROM events WHERE seq > ?1"
			     " ORDER BY seq", &s);
	if (rv < 0)
		return rv;
	bind_u64(s, 1, since_seq > INT64_MAX ? INT64_MAX : since_seq);
	while (rv == 0 && pd_journal_next_row(j, s, &rv, "reading events"))
		rv = cb(arg, (uint64_t)sqlite3_column_int64(s, 0),
			(uint64_t)sqlite3_column_int64(s, 1), col_str(s, 2), col_str(s, 3));
	sqlite3_finalize(s);
	return rv;
}
