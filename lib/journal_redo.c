/* journal_redo.c - the writes of the open transaction, kept (journal_int.h:
 * pd_jredo_*) until a commit makes them durable, so that a transaction
 * SQLite or the disk rolled back can be written again.
 *
 * One write is one record in j->redo: u32 size of the whole record, u8
 * statement (ST_*), u32 weight (write calls it stands for), u8 count of
 * arguments, then each argument: u8 kind and its value (int and double: 8
 * bytes; text and blob: u32 length and the bytes; null: nothing). The
 * arguments bind ?1, ?2, ... in order. Host byte order: records never
 * leave the process. */
#include "journal.h"
#include "journal_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "buf.h"
#include "log.h"

enum { A_NULL, A_INT, A_DBL, A_TEXT, A_BLOB };

#define HEAD (4 + 1 + 4 + 1)

static void put(pd_journal *j, const void *p, size_t n)
{
	if (!j->redo_oom && pd_buf_append(&j->redo, p, n) < 0)
		j->redo_oom = 1;
}

void pd_jredo_begin(pd_journal *j, int which, uint32_t weight)
{
	uint8_t head[HEAD] = {0};

	j->redo_start = j->redo.len;
	j->redo_oom = 0;
	head[4] = (uint8_t)which;
	memcpy(head + 5, &weight, 4);
	put(j, head, sizeof(head));
}

static void arg(pd_journal *j, uint8_t kind, const void *p, size_t n)
{
	if (!j->redo_oom && j->redo.len >= j->redo_start + HEAD)
		j->redo.data[j->redo_start + HEAD - 1]++;
	put(j, &kind, 1);
	put(j, p, n);
}

void pd_jredo_int(pd_journal *j, int64_t v)
{
	arg(j, A_INT, &v, 8);
}

void pd_jredo_dbl(pd_journal *j, double v)
{
	arg(j, A_DBL, &v, 8);
}

void pd_jredo_null(pd_journal *j)
{
	arg(j, A_NULL, NULL, 0);
}

static void bytes(pd_journal *j, uint8_t kind, const void *p, size_t n)
{
	uint32_t len = (uint32_t)n;

	if (n > UINT32_MAX) {
		j->redo_oom = 1;
		return;
	}
	arg(j, kind, &len, 4);
	put(j, p, n);
}

void pd_jredo_text(pd_journal *j, const char *s)
{
	if (s)
		bytes(j, A_TEXT, s, strlen(s));
	else
		pd_jredo_null(j);
}

void pd_jredo_blob(pd_journal *j, const void *p, size_t n)
{
	bytes(j, A_BLOB, n ? p : "", n);
}

int pd_jredo_end(pd_journal *j)
{
	uint32_t size = (uint32_t)(j->redo.len - j->redo_start);

	if (j->redo_oom || j->redo.len - j->redo_start > UINT32_MAX) {
		pd_jredo_drop_last(j);
		pd_journal_set_err(j, "out of memory keeping a write");
		return -ENOMEM;
	}
	memcpy(j->redo.data + j->redo_start, &size, 4);
	j->redo_ops++;
	return 0;
}

void pd_jredo_drop_last(pd_journal *j)
{
	if (j->redo.len > j->redo_start && !j->redo_oom &&
	    j->redo.len - j->redo_start >= HEAD && j->redo_ops > 0)
		j->redo_ops--;
	j->redo.len = j->redo_start;
	j->redo_oom = 0;
}

uint32_t pd_jredo_last_weight(const pd_journal *j)
{
	uint32_t w;

	memcpy(&w, j->redo.data + j->redo_start + 5, 4);
	return w;
}

void pd_jredo_clear(pd_journal *j)
{
	pd_buf_reset(&j->redo);
	j->redo_start = 0;
	j->redo_ops = 0;
	j->redo_oom = 0;
}

/* Binds and steps the record at off; *rc gets SQLite's code. */
static int exec_at(pd_journal *j, size_t off, int *rc)
{
	const uint8_t *p = j->redo.data + off;
	uint8_t which = p[4], n = p[HEAD - 1];
	size_t at = HEAD;
	sqlite3_stmt *s;
	int rv;

	*rc = SQLITE_OK;
	rv = pd_journal_stmt(j, which, &s);
	if (rv < 0)
		return rv;
	for (int i = 1; i <= n; i++) {
		uint8_t kind = p[at++];
		int64_t v;
		double d;
		uint32_t len;

		switch (kind) {
		case A_INT:
			memcpy(&v, p + at, 8);
			at += 8;
			sqlite3_bind_int64(s, i, v);
			break;
		case A_DBL:
			memcpy(&d, p + at, 8);
			at += 8;
			sqlite3_bind_double(s, i, d);
			break;
		case A_TEXT:
		case A_BLOB:
			memcpy(&len, p + at, 4);
			at += 4;
			if (kind == A_TEXT)
				sqlite3_bind_text(s, i, (const char *)p + at, (int)len, SQLITE_STATIC);
			else
				sqlite3_bind_blob(s, i, p + at, (int)len, SQLITE_STATIC);
			at += len;
			break;
		default: sqlite3_bind_null(s, i);
		}
	}
	*rc = sqlite3_step(s);
	rv = *rc == SQLITE_DONE ? 0 : pd_journal_fail(j, *rc, "writing");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rv;
}

int pd_jredo_exec_last(pd_journal *j, int *rc)
{
	return exec_at(j, j->redo_start, rc);
}

int pd_jredo_replay(pd_journal *j)
{
	size_t off = 0;
	uint32_t size;
	int rv, rc;

	while (off < j->redo.len) {
		memcpy(&size, j->redo.data + off, 4);
		rv = exec_at(j, off, &rc);
		if (rv < 0 && pd_journal_rc_retry(rc))
			return rv;
		if (rv < 0) /* it would fail again and again: the rest goes on */
			pd_err("%s (a kept write is dropped)", pd_journal_error(j));
		off += size;
	}
	return 0;
}
