/* journal.h - the durable record of a session: SESSION/journal.db.
 *
 * One SQLite file in WAL mode. One controller writes it; any number of
 * other processes (`parade collect`, `parade status`) read it at the same
 * time; a restarted controller (`parade resume`) reloads it. This module
 * (journal.c, journal_read.c) is the only one that knows SQLite.
 *
 * Durability: the writer runs with synchronous=NORMAL. A commit survives a
 * crash of the process (kill -9, abort, OOM killer) but the last commits
 * may be lost if the machine itself goes down (power, kernel panic); the
 * file is never left corrupt either way. Writes that were not committed
 * are always lost with the process, and readers never see them.
 *
 * Batching: every write call joins one open transaction that the first
 * write begins; nothing is visible to readers (or safe) until
 * pd_journal_commit(). The caller commits every few ms or thousand rows.
 *
 * A full disk loses nothing: the handle keeps a copy of every write until
 * a commit makes it durable. A write or commit that fails for a reason
 * that may pass (no space, an I/O error, a lock held too long, memory)
 * rolls SQLite's transaction back; from then on writes are only kept (in
 * memory) and every later pd_journal_commit() writes all of them again
 * in their order, until one succeeds. A commit that finds no space first
 * lets SQLite checkpoint its WAL (so that it can start over from its
 * beginning) and tries once more. While writes are only kept, the writer's
 * own reads see what was committed.
 * Tasks and hand-outs are many to a row: the handle fills a block in
 * memory and writes it into the open transaction when the next entry does
 * not fit, at a commit (so a commit makes every earlier write durable, as
 * for any other write) and before its own reads of that table.
 *
 * Schema (version 2; meta 'schema_version' = '2'):
 *   meta(key TEXT PRIMARY KEY, value TEXT)
 *   tasks(first INTEGER PRIMARY KEY, count INTEGER, cells BLOB)
 *       a block of count (1-512) tasks with the ids first .. first+count-1;
 *       blocks never overlap. cells: u32 count, then per task u32 ncells,
 *       ncells x u32 length and the bytes of every cell in order (integers
 *       little endian, no NULs, no terminators)
 *   attempts(seq INTEGER PRIMARY KEY, count INTEGER, data BLOB)
 *       a block of count (1-1024) hand-outs of a task to an agent, in call
 *       order. data: u32 count, then per hand-out u64 task, u32 attempt,
 *       u64 at_ms, u32 length and the bytes of the agent's name
 *       (journal_block.h has both formats and their limits)
 *   results(seq INTEGER PRIMARY KEY, task INTEGER UNIQUE NOT NULL, attempt,
 *           status, exit_code, seconds REAL, agent TEXT, out BLOB,
 *           error TEXT, at_ms)
 *       seq grows in commit order (a reader's cursor); one result per task
 *   agents(id INTEGER PRIMARY KEY, name, host, pid, mode, slurm_job,
 *          slurm_step, slots, joined_ms, left_ms NULL, tasks_done)
 *       one row per agent connection; left_ms NULL while connected
 *   events(seq INTEGER PRIMARY KEY, at_ms, kind TEXT, text TEXT)
 * Times are milliseconds since the epoch; status is enum pd_status (codec.h).
 *
 * Errors: 0 or a negative errno. Besides the ones named below:
 *   -EINVAL  the file is not a parade journal (not SQLite, corrupt, no
 *            schema, a block of tasks or hand-outs that does not decode)
 *   -EBUSY   another process held a lock longer than 5 s
 *   -EBADF   a write call on a read-only handle
 *   -ENOSPC, -EACCES, -ENOMEM, -EIO as the system said
 * After a failure pd_journal_error() has one line naming the file, e.g.
 * "journal /x/journal.db: file is not a database".
 *
 * A handle is used by one thread at a time. Never use a handle in a child
 * after fork(); open a new one there. */
#ifndef PD_JOURNAL_H
#define PD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define PD_JOURNAL_VERSION 2
#define PD_JOURNAL_MAX_CELLS 65536u    /* cells per task */
#define PD_JOURNAL_MAX_BLOB (64u << 20) /* bytes of one task's cells, one out, one agent */

typedef struct pd_journal pd_journal;

enum { PD_J_CREATE = 1, PD_J_READONLY = 2 };

/* Opens the journal at path.
 *   PD_J_CREATE: a new file (0600) with the schema, built as PATH.new-PID
 *     and hard-linked into place (readers never see a half-made journal);
 *     -EEXIST if path exists.
 *   0: an existing journal, for writing (a resumed controller).
 *   PD_J_READONLY: an existing journal, for reading only.
 * A missing file is -ENOENT; a schema_version other than
 * PD_JOURNAL_VERSION is -EPROTONOSUPPORT. On success *out is an owned handle (pd_journal_close);
 * on failure *out is NULL and err gets one line naming the path and the
 * reason (SQLite's message where it has one). A failed CREATE removes
 * what it created. */
int pd_journal_open(const char *path, int flags, pd_journal **out, char *err, size_t errlen);
/* Commits what is pending (logging a failure), then frees the handle.
 * NULL is a no-op. */
void pd_journal_close(pd_journal *j);
/* The last error of j as one line ("" if none); owned by j, valid until
 * the next call on j. */
const char *pd_journal_error(const pd_journal *j);

/* Sets meta key to value (both copied); joins the open transaction.
 * 'schema_version' cannot be set (-EINVAL). The controller records
 * session, created, state, and (controller/session_record.h, their one
 * writer and reader) record (the session record, a JSON object), columns
 * (a JSON array), and for older parade versions mode, stdin, schema,
 * format and argv. */
int pd_journal_meta_set(pd_journal *j, const char *key, const char *value);
/* *value gets a malloc'd copy (the caller frees it). -ENOENT if the key is
 * not set; *value is NULL on any error. */
int pd_journal_meta_get(pd_journal *j, const char *key, char **value);

/* ---- writes: each joins the open transaction (begun on demand), or is
 * kept for the next commit while the disk refuses writes (see the top): a
 * write call fails only for reasons of its own (too big, a bad id, a
 * duplicate, memory), never for the disk; pd_journal_commit() says that.
 * ---- */

/* Records task id (<= INT64_MAX, else -EOVERFLOW) with its input cells
 * (borrowed C strings; ncells <= PD_JOURNAL_MAX_CELLS and their bytes
 * <= PD_JOURNAL_MAX_BLOB, else -E2BIG). -EEXIST if the id is recorded.
 * Ids are cheapest in ascending order: one below the highest recorded
 * costs a look-up. */
int pd_journal_task(pd_journal *j, uint64_t id, const char *const *cells, size_t ncells);
/* Records the hand-out of attempt `attempt` of task to agent (borrowed,
 * may be NULL; at most PD_JOURNAL_MAX_BLOB bytes, else -E2BIG). The same
 * (task, attempt) again changes nothing that is read back (returns 0). */
int pd_journal_attempt(pd_journal *j, uint64_t task, uint32_t attempt, const char *agent,
		       uint64_t at_ms);

/* A result. Strings are borrowed; on write agent and error may be NULL
 * and out may be NULL when out_len is 0 (out may hold any bytes; out_len
 * <= PD_JOURNAL_MAX_BLOB). seq is ignored on write. When read back every
 * string is non-NULL ("" if absent), out is NUL-terminated after out_len
 * bytes, and all pointers are valid only during the callback. */
typedef struct pd_jresult {
	uint64_t seq;
	uint64_t task;
	uint32_t attempt;
	int status; /* enum pd_status */
	int exit_code;
	double seconds;
	const char *agent;
	const char *out;
	size_t out_len;
	const char *error;
	uint64_t at_ms;
} pd_jresult;

/* Records the result of r->task: 1 recorded (kept until committed), 0 the
 * task already has a result (committed or pending; nothing is changed), or
 * -errno (-E2BIG: out_len over PD_JOURNAL_MAX_BLOB, with an error naming
 * the limit). While writes are only kept, a duplicate is not seen until
 * the commit (1, and the commit keeps the first result). */
int pd_journal_result(pd_journal *j, const pd_jresult *r);

/* An agent connection. Strings are borrowed (NULL allowed on write, ""
 * when read back; valid only during the callback). left_ms 0 means still
 * connected (stored as NULL). */
typedef struct pd_jagent {
	const char *name, *host, *mode, *slurm_job, *slurm_step;
	uint32_t pid, slots;
	uint64_t joined_ms, left_ms;
	uint64_t tasks_done;
} pd_jagent;

/* Records a new connection; *row gets its id for pd_journal_agent_leave. */
int pd_journal_agent_join(pd_journal *j, const pd_jagent *a, int64_t *row);
/* Marks connection row as gone. -ENOENT if there is no such row. */
int pd_journal_agent_leave(pd_journal *j, int64_t row, uint64_t left_ms, uint64_t tasks_done);
/* Records an event line: kind ("start", "resume", "warning"...) and text
 * are borrowed, text may be NULL. */
int pd_journal_event(pd_journal *j, uint64_t at_ms, const char *kind, const char *text);

/* Write calls since the last commit, buffered ones included (0 for a
 * read-only handle). */
size_t pd_journal_pending(const pd_journal *j);
/* Writes the buffered blocks and commits the open transaction (after
 * writing every kept write again if an earlier write or commit failed);
 * nothing pending is a no-op. 0, or -errno (-ENOSPC, -EIO, -EBUSY, ...;
 * logged, with how many writes are kept for the next try; j's error names
 * the file and SQLite's message). Nothing is lost by a failed commit. */
int pd_journal_commit(pd_journal *j);

/* Writes a copy of what j has committed to path (a new file 0600 in
 * rollback-journal mode, not WAL, so readers on other hosts of a network
 * file system may open it): built as PATH.copy-PID, synced, and renamed
 * over path, so a reader sees the old copy or the new one, whole. Pending
 * writes are committed first (pd_journal_commit; its failure is the
 * copy's), so the copy holds everything written through j. stamp (may be NULL; start it at -1) remembers what the last
 * copy held: when nothing was written through j since, no copy is made
 * and the call returns 1. 0, 1, or -errno with err naming the file and
 * SQLite's word. */
int pd_journal_copy(pd_journal *j, const char *path, long long *stamp, char *err, size_t errlen);

/* ---- reads: on any handle. A read-only handle sees what was committed
 * when the call began; the writer also sees its own pending writes (a read
 * of tasks, counts or attempts first writes the buffered block into the
 * open transaction, so it may fail as a write does).
 * Callbacks may call other reads on j but not writes; a non-zero return
 * stops the walk and is returned as is. ---- */

typedef struct pd_jcounts {
	uint64_t tasks, results, ok, failed, timeout, lost;
} pd_jcounts;

/* Counts tasks and results (by status) in one consistent snapshot. */
int pd_journal_counts(pd_journal *j, pd_jcounts *c);
/* Calls cb for every task in id order; cells[0, n) (cells[n] is NULL) are
 * valid only during the call and may be modified in place. A block that
 * does not decode is -EINVAL with an error naming it ("task block 512
 * (512 tasks): does not decode"); no task of it reaches cb. */
int pd_journal_tasks(pd_journal *j, int (*cb)(void *arg, uint64_t id, char **cells, size_t n),
		     void *arg);
/* Calls cb for results with seq > since_seq, at most limit of them (0: no
 * limit): by_task 0 in seq order (a cursor: pass the last seq seen),
 * by_task 1 in task order. */
int pd_journal_results(pd_journal *j, int by_task, uint64_t since_seq, size_t limit,
		       int (*cb)(void *arg, const pd_jresult *r), void *arg);
/* Calls cb with the highest attempt of every task that has one, in task
 * order. A block that does not decode is -EINVAL naming it ("attempt
 * block 7 (1024 attempts): ...") before cb is called at all. */
int pd_journal_attempts_max(pd_journal *j, int (*cb)(void *arg, uint64_t task, uint32_t attempt),
			    void *arg);
/* Calls cb for every agent connection in the order they joined. */
int pd_journal_agents(pd_journal *j, int (*cb)(void *arg, const pd_jagent *a), void *arg);
/* Calls cb for events with seq > since_seq in seq order (kind and text
 * non-NULL, valid only during the call). */
int pd_journal_events(pd_journal *j, uint64_t since_seq,
		      int (*cb)(void *arg, uint64_t seq, uint64_t at_ms, const char *kind,
				const char *text),
		      void *arg);

#endif
