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
		    "joined_ms, left_ms, tasks_done) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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

/* Records SQLite's complaint about rc (call before any other sqlite3_*
 * call on the handle) and returns the errno for it. */
static int fail(pd_journal *j, int rc, const char *what)
{
	const char *msg = j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc);

	if (what)
		pd_journal_set_err(j, "%s: %s", what, msg);
	else
		pd_journal_set_err(j, "%s", msg);
	return map_rc(j->db, rc);
}

static int stmt(pd_journal *j, int which, sqlite3_stmt **out)
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

/* run() for a write: counts it as pending when it worked. */
static int wrun(pd_journal *j, sqlite3_stmt *s, const char *what)
{
	int rv = run(j, s, what);

	if (rv == 0)
		j->pending++;
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

/* Gets a write statement inside the open transaction, beginning one if
 * none is open. SQLite may have rolled back ours after an I/O error; the
 * pending count then names what was lost. */
static int wprep(pd_journal *j, int which, sqlite3_stmt **s)
{
	sqlite3_stmt *b;
	int rv;

	if (j->readonly) {
		pd_journal_set_err(j, "opened read-only");
		return -EBADF;
	}
	if (sqlite3_get_autocommit(j->db)) {
		if (j->pending)
			pd_err("journal %s: %zu uncommitted writes were rolled back", j->path,
			       j->pending);
		j->pending = 0;
		rv = stmt(j, ST_BEGIN, &b);
		if (rv == 0)
			rv = run(j, b, "begin");
		if (rv < 0)
			return rv;
	}
	return stmt(j, which, s);
}

static size_t buffered(const pd_journal *j)
{
	return pd_jblock_count(&j->tblock) + pd_jblock_count(&j->ablock);
}

/* Writes the block in b (n entries) with statement which, binding first
 * as ?1 when it is a task block, into the open transaction. On success the
 * entries count as pending and b is empty; on failure b is kept for a
 * retry. */
static int flush_block(pd_journal *j, int which, pd_buf *b, const char *what)
{
	uint32_t n = pd_jblock_count(b);
	int task = which == ST_TASK, rv;
	sqlite3_stmt *s;

	if (!n)
		return 0;
	rv = wprep(j, which, &s);
	if (rv < 0)
		return rv;
	if (task)
		bind_u64(s, 1, j->tfirst);
	sqlite3_bind_int64(s, task + 1, n);
	sqlite3_bind_blob(s, task + 2, b->data, (int)b->len, SQLITE_STATIC);
	rv = run(j, s, what);
	if (rv == 0) {
		j->pending += n;
		pd_buf_reset(b);
	}
	return rv;
}

int pd_journal_flush_tasks(pd_journal *j)
{
	return flush_block(j, ST_TASK, &j->tblock, "tasks");
}

int pd_journal_flush_attempts(pd_journal *j)
{
	return flush_block(j, ST_ATTEMPT, &j->ablock, "attempts");
}

static int check_write(pd_journal *j)
{
	if (!j->readonly)
		return 0;
	pd_journal_set_err(j, "opened read-only");
	return -EBADF;
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

/* A writer's task_end: one past the end of the last block. */
static int read_task_end(pd_journal *j)
{
	sqlite3_stmt *s = NULL;
	int64_t end;
	int rv;

	rv = pd_journal_prep(j, "SELECT first + count FROM tasks ORDER BY first DESC LIMIT 1", &s);
	if (rv == 0 && pd_journal_next_row(j, s, &rv, "tasks")) {
		end = sqlite3_column_int64(s, 0);
		j->task_end = end > 0 ? (uint64_t)end : 0;
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
	/* NORMAL: no fsync per commit; a commit survives a process crash */
	rc = sqlite3_exec(j->db,
			  "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"
			  "PRAGMA journal_size_limit=67108864;",
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
	rc = sqlite3_open_v2(tmp, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
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
	if (stat(path, &st) < 0) {
		rv = -errno;
		pd_journal_set_err(j, "%s", strerror(-rv));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rv = -EINVAL;
		pd_journal_set_err(j, "not a regular file");
		goto out;
	}
	rc = sqlite3_open_v2(path, &j->db,
			     (j->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
				     SQLITE_OPEN_NOMUTEX,
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
	if (!j->readonly && (pd_journal_pending(j) || !sqlite3_get_autocommit(j->db)))
		pd_journal_commit(j);
	free_handle(j);
}

const char *pd_journal_error(const pd_journal *j)
{
	return j->err;
}

int pd_journal_meta_set(pd_journal *j, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rv;

	if (!key || !value || strcmp(key, "schema_version") == 0) {
		pd_journal_set_err(j, "meta key '%s' cannot be set", key ? key : "(null)");
		return -EINVAL;
	}
	rv = wprep(j, ST_META_SET, &s);
	if (rv < 0)
		return rv;
	bind_str(s, 1, key);
	bind_str(s, 2, value);
	return wrun(j, s, "meta");
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
	sqlite3_stmt *s;
	int rv;

	if (r->out_len > PD_JOURNAL_MAX_BLOB || (!r->out && r->out_len)) {
		pd_journal_set_err(j, "task %" PRIu64 ": bad output size %zu", r->task, r->out_len);
		return r->out ? -E2BIG : -EINVAL;
	}
	rv = check_id(j, r->task);
	if (rv == 0)
		rv = wprep(j, ST_RESULT, &s);
	if (rv < 0)
		return rv;
	bind_u64(s, 1, r->task);
	bind_u64(s, 2, r->attempt);
	sqlite3_bind_int(s, 3, r->status);
	sqlite3_bind_int(s, 4, r->exit_code);
	sqlite3_bind_double(s, 5, r->seconds);
	bind_str(s, 6, r->agent);
	sqlite3_bind_blob(s, 7, r->out ? r->out : "", (int)r->out_len, SQLITE_STATIC);
	bind_str(s, 8, r->error);
	bind_u64(s, 9, r->at_ms);
	rv = wrun(j, s, "result");
	return rv < 0 ? rv : sqlite3_changes(j->db) > 0;
}

int pd_journal_agent_join(pd_journal *j, const pd_jagent *a, int64_t *row)
{
	sqlite3_stmt *s;
	int rv;

	*row = 0;
	rv = wprep(j, ST_JOIN, &s);
	if (rv < 0)
		return rv;
	bind_str(s, 1, a->name);
	bind_str(s, 2, a->host);
	bind_u64(s, 3, a->pid);
	bind_str(s, 4, a->mode);
	bind_str(s, 5, a->slurm_job);
	bind_str(s, 6, a->slurm_step);
	bind_u64(s, 7, a->slots);
	bind_u64(s, 8, a->joined_ms);
	if (a->left_ms)
		bind_u64(s, 9, a->left_ms);
	else
		sqlite3_bind_null(s, 9);
	bind_u64(s, 10, a->tasks_done);
	rv = wrun(j, s, "agent");
	if (rv == 0)
		*row = sqlite3_last_insert_rowid(j->db);
	return rv;
}

int pd_journal_agent_leave(pd_journal *j, int64_t row, uint64_t left_ms, uint64_t tasks_done)
{
	sqlite3_stmt *s;
	int rv;

	rv = wprep(j, ST_LEAVE, &s);
	if (rv < 0)
		return rv;
	sqlite3_bind_int64(s, 1, row);
	bind_u64(s, 2, left_ms);
	bind_u64(s, 3, tasks_done);
	rv = wrun(j, s, "agent");
	if (rv == 0 && sqlite3_changes(j->db) == 0) {
		pd_journal_set_err(j, "no agent row %" PRId64, row);
		rv = -ENOENT;
	}
	return rv;
}

int pd_journal_event(pd_journal *j, uint64_t at_ms, const char *kind, const char *text)
{
	sqlite3_stmt *s;
	int rv;

	rv = wprep(j, ST_EVENT, &s);
	if (rv < 0)
		return rv;
	bind_u64(s, 1, at_ms);
	bind_str(s, 2, kind ? kind : "");
	bind_str(s, 3, text);
	return wrun(j, s, "event");
}

size_t pd_journal_pending(const pd_journal *j)
{
	return j->pending + buffered(j);
}

int pd_journal_commit(pd_journal *j)
{
	sqlite3_stmt *s;
	size_t lost = 0;
	int rv, kept;

	if (j->readonly)
		return 0;
	if (sqlite3_get_autocommit(j->db) && j->pending) {
		pd_journal_set_err(j, "%zu uncommitted writes were rolled back", j->pending);
		pd_err("%s", j->err);
		j->pending = 0;
		return -EIO;
	}
	rv = pd_journal_flush_tasks(j);
	if (rv == 0)
		rv = pd_journal_flush_attempts(j);
	if (rv == 0 && sqlite3_get_autocommit(j->db))
		return 0; /* nothing was pending */
	if (rv == 0)
		rv = stmt(j, ST_COMMIT, &s);
	if (rv == 0)
		rv = run(j, s, "commit");
	if (rv == 0) {
		j->pending = 0;
		return 0;
	}
	/* unwritten blocks stay buffered; the transaction may be gone */
	kept = !sqlite3_get_autocommit(j->db);
	if (!kept) {
		lost = j->pending;
		j->pending = 0;
	}
	pd_err("%s (%zu writes lost, %zu kept for a retry)", j->err, lost, pd_journal_pending(j));
	return -EIO;
}
