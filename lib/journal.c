/* journal.c - journal.h: opening and closing, meta, the writes and the
 * commit. The reads are in journal_read.c; journal_int.h has what both share. */
#include "journal.h"
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "journal_block.h"
#include "log.h"

#define BUSY_MS 5000
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const stmt_sql[ST_MAX_] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_TASK] = "INSERT INTO tasks(first, count, cells) VALUES (?1, ?2, ?3)",
	/* the block that would hold task ?1: blocks never overlap */
	[ST_TASK_AT] = "SELECT first, count FROM tasks WHERE first <= ?1 "
		       "ORDER BY first DESC LIMIT 1",
	[ST_ATTEMPT] = "INSERT INTO attempts(count, data) VALUES (?1, ?2)",
	[ST_RESULT] = "INSERT OR IGNORE INTO results(task, attempt, status, exit_code, seconds, "
		      "agent, out, error, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_JOIN] = "INSERT INTO agents(name, host, pid, mode, slurm_job, slurm_step, slots, "
		    "joined_ms, left_ms, tasks_done, id) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_LEAVE] = "UPDATE agents SET left_ms = ?2, tasks_done = ?3 WHERE id = ?1",
	[ST_EVENT] = "INSERT INTO events(at_ms, kind, text) VALUES (?1, ?2, ?3)",
};

static const char schema_sql[] =
	"BEGIN;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE tasks(first INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
	" cells BLOB NOT NULL);"
	"CREATE TABLE attempts(seq INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
	" data BLOB NOT NULL);"
	"CREATE TABLE results(seq INTEGER PRIMARY KEY, task INTEGER UNIQUE NOT NULL,"
	" attempt INTEGER, status INTEGER, exit_code INTEGER, seconds REAL, agent TEXT,"
	" out BLOB, error TEXT, at_ms INTEGER);"
	"CREATE TABLE agents(id INTEGER PRIMARY KEY, name TEXT, host TEXT, pid INTEGER,"
	" mode TEXT, slurm_job TEXT, slurm_step TEXT, slots INTEGER, joined_ms INTEGER,"
	" left_ms INTEGER, tasks_done INTEGER);"
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, at_ms INTEGER, kind TEXT, text TEXT);"
	"INSERT INTO meta VALUES ('schema_version', '" STR(PD_JOURNAL_VERSION) "');"
	"COMMIT;";

void pd_journal_set_err(pd_journal *j, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(j->err, sizeof(j->err), "journal %s: ", j->path);

	if (n < 0 || (size_t)n >= sizeof(j->err))
		return;
	va_start(ap, fmt);
	vsnprintf(j->err + n, sizeof(j->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

static int map_rc(sqlite3 *db, int rc)
{
	static const int map[][2] = {
		{SQLITE_BUSY, EBUSY}, {SQLITE_LOCKED, EBUSY}, {SQLITE_NOMEM, ENOMEM},
		{SQLITE_READONLY, EACCES}, {SQLITE_PERM, EACCES}, {SQLITE_AUTH, EACCES},
		{SQLITE_FULL, ENOSPC}, {SQLITE_TOOBIG, E2BIG}, {SQLITE_CONSTRAINT, EEXIST},
		{SQLITE_ERROR, EINVAL}, {SQLITE_NOTADB, EINVAL}, {SQLITE_CORRUPT, EINVAL},
		{SQLITE_FORMAT, EINVAL}};
	int sys = db ? sqlite3_system_errno(db) : 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i][0] == (rc & 0xff))
			return -map[i][1];
	/* SQLITE_IOERR, SQLITE_CANTOPEN and the rest: what the system said */
	return sys > 0 ? -sys : -EIO;
}

int pd_journal_fail(pd_journal *j, int rc, const char *what)
{
	const char *msg = j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc);
	int sys = j->db ? sqlite3_system_errno(j->db) : 0;
	char cause[160] = "";

	/* the system's word says which disk trouble it was */
	if (sys > 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ||
			(rc & 0xff) == SQLITE_CANTOPEN))
		snprintf(cause, sizeof(cause), " (%s)", strerror(sys));
	if (what)
		pd_journal_set_err(j, "%s: %s%s", what, msg, cause);
	else
		pd_journal_set_err(j, "%s%s", msg, cause);
	return map_rc(j->db, rc);
}

int pd_journal_rc_retry(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_ERROR:
		return 0;
	default: return 1;
	}
}

#define fail pd_journal_fail
#define stmt pd_journal_stmt

int pd_journal_stmt(pd_journal *j, int which, sqlite3_stmt **out)
{
	int rc;

	if (!j->st[which]) {
		rc = sqlite3_prepare_v3(j->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
					&j->st[which], NULL);
		if (rc != SQLITE_OK)
			return fail(j, rc, NULL);
	}
	*out = j->st[which];
	return 0;
}

/* Steps a statement that returns no rows, then resets it. */
static int run(pd_journal *j, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s), rv = 0;

	if (rc != SQLITE_DONE)
		rv = fail(j, rc, what);
	sqlite3_reset(s);
	return rv;
}

static int check_id(pd_journal *j, uint64_t id)
{
	if (id <= INT64_MAX)
		return 0;
	pd_journal_set_err(j, "task id %" PRIu64 " is too large", id);
	return -EOVERFLOW;
}

int pd_journal_prep(pd_journal *j, const char *sql, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(j->db, sql, -1, s, NULL);

	return rc == SQLITE_OK ? 0 : fail(j, rc, NULL);
}

/* 1 while s has a row; then 0 with *rv 0 (done) or -errno. */
int pd_journal_next_row(pd_journal *j, sqlite3_stmt *s, int *rv, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	*rv = rc == SQLITE_DONE ? 0 : fail(j, rc, what);
	return 0;
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static size_t buffered(const pd_journal *j)
{
	return pd_jblock_count(&j->tblock) + pd_jblock_count(&j->ablock);
}

static int check_write(pd_journal *j)
{
	if (!j->readonly)
		return 0;
	pd_journal_set_err(j, "opened read-only");
	return -EBADF;
}

static void rollback(pd_journal *j)
{
	if (!sqlite3_get_autocommit(j->db))
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
}

/* 1 if writes may run in SQLite's open transaction (begun here if none is
 * open), 0 if they are only kept for the next commit (broken). */
static int wstart(pd_journal *j)
{
	sqlite3_stmt *b;

	if (j->broken)
		return 0;
	if (sqlite3_get_autocommit(j->db)) {
		/* SQLite rolled back ours on its own (an I/O error): the kept
		 * writes go in again at the commit */
		if (j->pending || stmt(j, ST_BEGIN, &b) < 0 || run(j, b, "begin") < 0) {
			j->broken = 1;
			return 0;
		}
	}
	return 1;
}

/* Runs the record just kept (pd_jredo_end) in the open transaction, or
 * only keeps it while the transaction is broken. 1 kept and run (changes()
 * tells the rest), 0 kept for the commit, -errno a write that would never
 * work (not kept; j's error says why). A write that failed for a reason
 * that may pass (a full disk) breaks the transaction: SQLite's is rolled
 * back and the commit writes every kept write again. */
static int write_kept(pd_journal *j)
{
	uint32_t w = pd_jredo_last_weight(j);
	int live = wstart(j), rv, rc;

	j->pending += w;
	if (!live)
		return 0;
	rv = pd_jredo_exec_last(j, &rc);
	if (rv == 0)
		return 1;
	if (!pd_journal_rc_retry(rc)) {
		j->pending -= w;
		pd_jredo_drop_last(j);
		return rv;
	}
	pd_err("%s; kept for a retry", j->err);
	rollback(j);
	j->broken = 1;
	return 0;
}

/* Writes the block in b (n entries) with statement which, binding first
 * as ?1 when it is a task block. On success the entries count as pending
 * (kept until the commit) and b is empty; on failure b is kept. */
static int flush_block(pd_journal *j, int which, pd_buf *b)
{
	uint32_t n = pd_jblock_count(b);
	int rv;

	if (!n)
		return 0;
	if ((rv = check_write(j)) < 0)
		return rv;
	pd_jredo_begin(j, which, n);
	if (which == ST_TASK)
		pd_jredo_int(j, (int64_t)j->tfirst);
	pd_jredo_int(j, n);
	pd_jredo_blob(j, b->data, b->len);
	if ((rv = pd_jredo_end(j)) < 0 || (rv = write_kept(j)) < 0)
		return rv;
	pd_buf_reset(b);
	return 0;
}

int pd_journal_flush_tasks(pd_journal *j)
{
	return flush_block(j, ST_TASK, &j->tblock);
}

int pd_journal_flush_attempts(pd_journal *j)
{
	return flush_block(j, ST_ATTEMPT, &j->ablock);
}

/* 1 if task id is recorded (buffered, pending or committed), 0 if not. */
static int task_recorded(pd_journal *j, uint64_t id)
{
	uint32_t n = pd_jblock_count(&j->tblock);
	sqlite3_stmt *s;
	int rv, rc;

	if (n && id >= j->tfirst && id - j->tfirst < n)
		return 1;
	rv = stmt(j, ST_TASK_AT, &s);
	if (rv < 0)
		return rv;
	bind_u64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) /* first <= id: is id below its end? */
		rv = id - (uint64_t)sqlite3_column_int64(s, 0) <
		     (uint64_t)sqlite3_column_int64(s, 1);
	else if (rc != SQLITE_DONE)
		rv = fail(j, rc, "tasks");
	sqlite3_reset(s);
	return rv;
}

/* A writer's task_end (one past the end of the last block) and
 * next_agent. */
static int read_task_end(pd_journal *j)
{
	sqlite3_stmt *s = NULL;
	int64_t end;
	int rv;

	rv = pd_journal_prep(j, "SELECT (SELECT first + count FROM tasks ORDER BY first DESC "
				"LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM agents)",
			     &s);
	if (rv == 0 && pd_journal_next_row(j, s, &rv, "tasks")) {
		end = sqlite3_column_int64(s, 0);
		j->task_end = end > 0 ? (uint64_t)end : 0;
		j->next_agent = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rv;
}

static int check_version(pd_journal *j)
{
	char *v = NULL;
	int rv = pd_journal_meta_get(j, "schema_version", &v);

	/* SQLITE_ERROR here is "no such table" */
	if (rv == -ENOENT || (rv == -EINVAL && sqlite3_errcode(j->db) == SQLITE_ERROR)) {
		pd_journal_set_err(j, "not a parade journal (%s)",
			rv == -ENOENT ? "no schema_version" : sqlite3_errmsg(j->db));
		rv = -EINVAL;
	} else if (rv == 0 && strcmp(v, STR(PD_JOURNAL_VERSION)) != 0) {
		pd_journal_set_err(j, "schema version '%.32s' is not supported "
				      "(this parade reads version %d)",
				   v, PD_JOURNAL_VERSION);
		rv = -EPROTONOSUPPORT;
	}
	free(v);
	return rv;
}

static int copy_mode(void *arg, int n, char **vals, char **names)
{
	(void)names;
	snprintf(arg, 16, "%s", n > 0 && vals[0] ? vals[0] : "");
	return 0;
}

static int writer_setup(pd_journal *j)
{
	char mode[16] = "";
	int rc;

	rc = sqlite3_exec(j->db, "PRAGMA journal_mode=WAL", copy_mode, mode, NULL);
	if (rc != SQLITE_OK)
		return fail(j, rc, NULL);
	if (strcmp(mode, "wal") != 0) {
		pd_journal_set_err(j, "cannot use WAL mode (journal mode is '%s')", mode);
		return -ENOTSUP;
	}
	/* NORMAL: no fsync per commit; a commit survives a process crash.
	 * The WAL is checkpointed every 1 MiB and cut back to 1 MiB: a WAL of
	 * SQLite's default 4 MiB fills a small disk before its checkpoint,
	 * which then cannot grow the database, and nothing moves again */
	rc = sqlite3_exec(j->db,
			  "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"
			  "PRAGMA wal_autocheckpoint=256; PRAGMA journal_size_limit=1048576;",
			  NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(j, rc, NULL);
}

static void unlink_files(const char *path, int main_too)
{
	static const char *const sfx[] = {"-wal", "-shm", "-journal"};
	char p[4096];

	if (main_too)
		unlink(path);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, sfx[i]) < sizeof(p))
			unlink(p);
}

static void free_handle(pd_journal *j)
{
	for (int i = 0; i < ST_MAX_; i++)
		sqlite3_finalize(j->st[i]);
	if (j->db && sqlite3_close(j->db) != SQLITE_OK) {
		pd_err("journal %s: close: %s", j->path, sqlite3_errmsg(j->db));
		sqlite3_close_v2(j->db);
	}
	pd_buf_free(&j->tblock);
	pd_buf_free(&j->ablock);
	pd_buf_free(&j->redo);
	free(j->path);
	free(j);
}

/* Builds the schema in PATH.new-PID and links it into place: readers never
 * see a half-made journal and an existing file is never touched. */
static int create_file(pd_journal *j)
{
	char tmp[4200];
	int fd, rc, rv;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new-%ld", j->path, (long)getpid()) >=
	    sizeof(tmp)) {
		pd_journal_set_err(j, "path too long");
		return -ENAMETOOLONG;
	}
	unlink_files(tmp, 1);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		pd_journal_set_err(j, "%s: %s", tmp, strerror(-rv));
		return rv;
	}
	close(fd);
	rc = sqlite3_open_v2(tmp, &j->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(j->db, schema_sql, NULL, NULL, NULL);
	rv = rc == SQLITE_OK ? 0 : fail(j, rc, "creating the schema");
	sqlite3_close(j->db);
	j->db = NULL;
	if (rv == 0 && link(tmp, j->path) < 0) {
		rv = -errno;
		pd_journal_set_err(j, "%s", rv == -EEXIST ? "already exists" : strerror(-rv));
	}
	unlink_files(tmp, 1);
	return rv;
}

int pd_journal_open(const char *path, int flags, pd_journal **out, char *err, size_t errlen)
{
	pd_journal *j = NULL;
	int rv = -ENOMEM, rc, created = 0;
	struct stat st;

	*out = NULL;
	if (err && errlen)
		snprintf(err, errlen, "journal %s: out of memory", path ? path : "(null)");
	if (!path || (flags & ~(PD_J_CREATE | PD_J_READONLY)) ||
	    flags == (PD_J_CREATE | PD_J_READONLY)) {
		if (err && errlen)
			snprintf(err, errlen, "journal %s: bad open flags", path ? path : "(null)");
		return -EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path)))
		goto out;
	j->readonly = (flags & PD_J_READONLY) != 0;
	if (flags & PD_J_CREATE) {
		rv = create_file(j);
		if (rv < 0)
			goto out;
		created = 1;
	}
	/* a link is never followed: whoever planted it chose its target */
	if (lstat(path, &st) < 0) {
		rv = -errno;
		pd_journal_set_err(j, "%s", strerror(-rv));
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		rv = -ELOOP;
		pd_journal_set_err(j, "is a symbolic link; a journal is never opened through one");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rv = -EINVAL;
		pd_journal_set_err(j, "not a regular file");
		goto out;
	}
	rc = sqlite3_open_v2(path, &j->db,
			     (j->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
				     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		rv = fail(j, rc, "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(j->db, BUSY_MS);
	/* check first: never switch a foreign database to WAL */
	rv = check_version(j);
	if (rv == 0 && !j->readonly)
		rv = writer_setup(j);
	if (rv == 0 && !j->readonly)
		rv = read_task_end(j);
out:
	if (rv < 0) {
		if (j && j->path && err && errlen)
			snprintf(err, errlen, "%s", j->err);
		if (j && j->path)
			free_handle(j);
		else
			free(j);
		if (created)
			unlink_files(path, 1);
		return rv;
	}
	*out = j;
	return 0;
}

void pd_journal_close(pd_journal *j)
{
	if (!j)
		return;
	if (!j->readonly &&
	    (pd_journal_pending(j) || j->broken || !sqlite3_get_autocommit(j->db)))
		pd_journal_commit(j);
	free_handle(j);
}

const char *pd_journal_error(const pd_journal *j)
{
	return j->err;
}

int pd_journal_meta_set(pd_journal *j, const char *key, const char *value)
{
	int rv;

	if (!key || !value || strcmp(key, "schema_version") == 0) {
		pd_journal_set_err(j, "meta key '%s' cannot be set", key ? key : "(null)");
		return -EINVAL;
	}
	if ((rv = check_write(j)) < 0)
		return rv;
	pd_jredo_begin(j, ST_META_SET, 1);
	pd_jredo_text(j, key);
	pd_jredo_text(j, value);
	if ((rv = pd_jredo_end(j)) == 0 && (rv = write_kept(j)) > 0)
		rv = 0;
	return rv;
}

int pd_journal_meta_get(pd_journal *j, const char *key, char **value)
{
	sqlite3_stmt *s;
	int rv, rc;

	*value = NULL;
	if (!key) {
		pd_journal_set_err(j, "no meta key given");
		return -EINVAL;
	}
	rv = stmt(j, ST_META_GET, &s);
	if (rv < 0)
		return rv;
	bind_str(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*value = strdup(col_str(s, 0));
		rv = *value ? 0 : -ENOMEM;
	} else if (rc == SQLITE_DONE) {
		pd_journal_set_err(j, "no meta key '%s'", key);
		rv = -ENOENT;
	} else {
		rv = fail(j, rc, "meta");
	}
	sqlite3_reset(s);
	return rv;
}

/* Tasks and attempts are buffered in blocks (journal_block.h); a block
 * joins the open transaction when the next entry does not fit, at a commit
 * and before a read of its table. */
int pd_journal_task(pd_journal *j, uint64_t id, const char *const *cells, size_t ncells)
{
	uint32_t n;
	size_t size;
	int rv;

	if ((rv = check_write(j)) < 0 || (rv = check_id(j, id)) < 0)
		return rv;
	rv = pd_jblock_task_size(cells, ncells, &size);
	if (rv < 0) {
		pd_journal_set_err(j, "task %" PRIu64 ": cannot encode its cells", id);
		return rv;
	}
	/* ids come in order: only one below task_end can be a duplicate */
	if (id < j->task_end && (rv = task_recorded(j, id)) != 0) {
		if (rv > 0)
			pd_journal_set_err(j, "task %" PRIu64 " is recorded already", id);
		return rv > 0 ? -EEXIST : rv;
	}
	n = pd_jblock_count(&j->tblock);
	if (n && id - j->tfirst != n && (rv = pd_journal_flush_tasks(j)) < 0)
		return rv;
	rv = pd_jblock_task_add(&j->tblock, cells, ncells);
	if (rv == -ENOSPC && (rv = pd_journal_flush_tasks(j)) == 0)
		rv = pd_jblock_task_add(&j->tblock, cells, ncells);
	if (rv == -ENOMEM)
		pd_journal_set_err(j, "out of memory");
	if (rv < 0)
		return rv;
	if (pd_jblock_count(&j->tblock) == 1)
		j->tfirst = id;
	if (id >= j->task_end)
		j->task_end = id + 1;
	return 0;
}

int pd_journal_attempt(pd_journal *j, uint64_t task, uint32_t attempt, const char *agent,
		       uint64_t at_ms)
{
	int rv;

	if ((rv = check_write(j)) < 0 || (rv = check_id(j, task)) < 0)
		return rv;
	rv = pd_jblock_attempt_add(&j->ablock, task, attempt, at_ms, agent);
	if (rv == -ENOSPC && (rv = pd_journal_flush_attempts(j)) == 0)
		rv = pd_jblock_attempt_add(&j->ablock, task, attempt, at_ms, agent);
	if (rv == -ENOMEM || rv == -E2BIG)
		pd_journal_set_err(j, "task %" PRIu64 ": %s", task,
			rv == -ENOMEM ? "out of memory" : "agent name too long");
	return rv;
}

int pd_journal_result(pd_journal *j, const pd_jresult *r)
{
	int rv;

	if (r->out_len > PD_JOURNAL_MAX_BLOB || (!r->out && r->out_len)) {
		pd_journal_set_err(j, "task %" PRIu64 ": stdout of %zu bytes is more than the "
				      "journal keeps of one result (%u bytes)",
				   r->task, r->out_len, PD_JOURNAL_MAX_BLOB);
		return r->out ? -E2BIG : -EINVAL;
	}
	if ((rv = check_write(j)) < 0 || (rv = check_id(j, r->task)) < 0)
		return rv;
	pd_jredo_begin(j, ST_RESULT, 1);
	pd_jredo_int(j, (int64_t)r->task);
	pd_jredo_int(j, r->attempt);
	pd_jredo_int(j, r->status);
	pd_jredo_int(j, r->exit_code);
	pd_jredo_dbl(j, r->seconds);
	pd_jredo_text(j, r->agent);
	pd_jredo_blob(j, r->out, r->out_len);
	pd_jredo_text(j, r->error);
	pd_jredo_int(j, (int64_t)r->at_ms);
	if ((rv = pd_jredo_end(j)) < 0 || (rv = write_kept(j)) < 0)
		return rv;
	if (rv == 1 && sqlite3_changes(j->db) == 0) {
		/* it has its result already: nothing to keep */
		j->pending--;
		pd_jredo_drop_last(j);
		return 0;
	}
	return 1;
}

int pd_journal_agent_join(pd_journal *j, const pd_jagent *a, int64_t *row)
{
	int rv;

	*row = 0;
	if ((rv = check_write(j)) < 0)
		return rv;
	/* the id is chosen here, so that a write kept and written again gets
	 * the same one */
	pd_jredo_begin(j, ST_JOIN, 1);
	pd_jredo_text(j, a->name);
	pd_jredo_text(j, a->host);
	pd_jredo_int(j, a->pid);
	pd_jredo_text(j, a->mode);
	pd_jredo_text(j, a->slurm_job);
	pd_jredo_text(j, a->slurm_step);
	pd_jredo_int(j, a->slots);
	pd_jredo_int(j, (int64_t)a->joined_ms);
	if (a->left_ms)
		pd_jredo_int(j, (int64_t)a->left_ms);
	else
		pd_jredo_null(j);
	pd_jredo_int(j, (int64_t)a->tasks_done);
	pd_jredo_int(j, j->next_agent);
	if ((rv = pd_jredo_end(j)) < 0 || (rv = write_kept(j)) < 0)
		return rv;
	*row = j->next_agent++;
	return 0;
}

int pd_journal_agent_leave(pd_journal *j, int64_t row, uint64_t left_ms, uint64_t tasks_done)
{
	int rv;

	if ((rv = check_write(j)) < 0)
		return rv;
	if (row <= 0 || row >= j->next_agent) {
		pd_journal_set_err(j, "no agent row %" PRId64, row);
		return -ENOENT;
	}
	pd_jredo_begin(j, ST_LEAVE, 1);
	pd_jredo_int(j, row);
	pd_jredo_int(j, (int64_t)left_ms);
	pd_jredo_int(j, (int64_t)tasks_done);
	if ((rv = pd_jredo_end(j)) < 0 || (rv = write_kept(j)) < 0)
		return rv;
	if (rv == 1 && sqlite3_changes(j->db) == 0) {
		j->pending--;
		pd_jredo_drop_last(j);
		pd_journal_set_err(j, "no agent row %" PRId64, row);
		return -ENOENT;
	}
	return 0;
}

int pd_journal_event(pd_journal *j, uint64_t at_ms, const char *kind, const char *text)
{
	int rv;

	if ((rv = check_write(j)) < 0)
		return rv;
	pd_jredo_begin(j, ST_EVENT, 1);
	pd_jredo_int(j, (int64_t)at_ms);
	pd_jredo_text(j, kind ? kind : "");
	pd_jredo_text(j, text);
	if ((rv = pd_jredo_end(j)) < 0 || (rv = write_kept(j)) < 0)
		return rv;
	return 0;
}

size_t pd_journal_pending(const pd_journal *j)
{
	return j->pending + buffered(j);
}

/* One try: the kept writes again if the transaction broke, the buffered
 * blocks, COMMIT. On failure SQLite's transaction is rolled back and every
 * write stays kept (broken). */
static int commit_once(pd_journal *j)
{
	sqlite3_stmt *s;
	int rv = 0;

	if (!j->broken && sqlite3_get_autocommit(j->db) && j->pending)
		j->broken = 1; /* SQLite rolled ours back on its own */
	if (j->broken) {
		rollback(j);
		if ((rv = stmt(j, ST_BEGIN, &s)) < 0 || (rv = run(j, s, "begin")) < 0 ||
		    (rv = pd_jredo_replay(j)) < 0)
			goto fail;
		j->broken = 0;
	}
	if ((rv = pd_journal_flush_tasks(j)) < 0 || (rv = pd_journal_flush_attempts(j)) < 0)
		goto fail;
	if (j->broken) { /* a block's write failed: it was kept */
		rv = map_rc(j->db, sqlite3_errcode(j->db));
		goto fail;
	}
	if (sqlite3_get_autocommit(j->db))
		return 0; /* nothing was pending */
	if ((rv = stmt(j, ST_COMMIT, &s)) < 0 || (rv = run(j, s, "commit")) < 0)
		goto fail;
	j->pending = 0;
	pd_jredo_clear(j);
	return 0;
fail:
	rollback(j);
	j->broken = 1;
	return rv < 0 ? rv : -EIO;
}

/* A full disk may be a WAL that only a checkpoint would let start over
 * (the automatic one waits for 1000 pages, more than a small disk holds).
 * 1 if every frame of the WAL went into the database. */
static int checkpoint(pd_journal *j)
{
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);

	return rc == SQLITE_OK && log > 0 && done == log;
}

int pd_journal_commit(pd_journal *j)
{
	int rv;

	if (j->readonly)
		return 0;
	rv = commit_once(j);
	if (rv == -ENOSPC && checkpoint(j))
		rv = commit_once(j);
	/* logged once a failure, not at every retry */
	if (rv < 0 && !j->failing)
		pd_err("%s (%zu writes kept for a retry)", j->err, pd_journal_pending(j));
	j->failing = rv < 0;
	return rv;
}
