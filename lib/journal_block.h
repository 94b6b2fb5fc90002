/* journal_block.h - tasks and attempts packed many to a blob, as the
 * journal stores them (pure: no I/O, no SQLite).
 *
 * A block is built in a pd_buf, in data[0, len) (never consumed), and is
 * one SQLite row of the journal. All integers are little endian.
 *   task block:    u32 count, then per task in id order:
 *                    u32 ncells, ncells x u32 length, the bytes of every
 *                    cell in order (no NULs, no terminators)
 *   attempt block: u32 count, then per hand-out in call order:
 *                    u64 task, u32 attempt, u64 at_ms, u32 agent length,
 *                    the agent's bytes (no NULs; a NULL agent is "")
 * The ids of a task block are implicit (the row says the first one).
 *
 * A block holds at most PD_JBLOCK_TASKS tasks or PD_JBLOCK_ATTEMPTS
 * attempts and grows past PD_JBLOCK_SOFT bytes only with its first entry,
 * so no block is larger than PD_JBLOCK_MAX. The decoders check every
 * length against the blob and these limits: a hostile blob is -EINVAL,
 * never a read past its end or a huge allocation. */
#ifndef PD_JOURNAL_BLOCK_H
#define PD_JOURNAL_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "journal.h"

#define PD_JBLOCK_TASKS 512u
#define PD_JBLOCK_ATTEMPTS 1024u
#define PD_JBLOCK_SOFT (1u << 20)
#define PD_JBLOCK_MAX (PD_JOURNAL_MAX_BLOB + 64u)

/* Entries in the block b holds; 0 for an empty b. */
uint32_t pd_jblock_count(const pd_buf *b);

/* The bytes one task adds to a block in *size (0 on error). -E2BIG: more
 * than PD_JOURNAL_MAX_CELLS cells or more than PD_JOURNAL_MAX_BLOB bytes
 * with their lengths; -EINVAL: a NULL cell (cells may be NULL if n is 0). */
int pd_jblock_task_size(const char *const *cells, size_t n, size_t *size);
/* Appends a task's cells (borrowed) to the block in b; an empty b starts
 * one. -ENOSPC when the block is full (write it, reset b, add again),
 * else as pd_jblock_task_size, or -ENOMEM. On error b is unchanged. */
int pd_jblock_task_add(pd_buf *b, const char *const *cells, size_t n);
/* Appends a hand-out (task <= INT64_MAX, else -EOVERFLOW; agent borrowed,
 * may be NULL, at most PD_JOURNAL_MAX_BLOB bytes, else -E2BIG). -ENOSPC
 * and -ENOMEM as for a task; on error b is unchanged. */
int pd_jblock_attempt_add(pd_buf *b, uint64_t task, uint32_t attempt, uint64_t at_ms,
			  const char *agent);

/* One decoded task: cells[0, n), cells[n] NULL, NUL-terminated and
 * writable. */
typedef struct pd_jbtask {
	char **cells;
	size_t n;
} pd_jbtask;

/* One decoded hand-out; agent is NUL-terminated ("" when there was none). */
typedef struct pd_jbattempt {
	uint64_t task;
	uint64_t at_ms;
	uint32_t attempt;
	const char *agent;
} pd_jbattempt;

/* Decodes a task block of blob[0, len) that must hold exactly `count`
 * tasks (1 <= count <= PD_JBLOCK_TASKS). *tasks gets an array of count
 * tasks that lives in out (reset first; valid until out changes). -EINVAL
 * unless the blob is exact, -ENOMEM; *tasks is NULL on error. */
int pd_jblock_tasks_decode(pd_buf *out, const void *blob, size_t len, size_t count,
			   pd_jbtask **tasks);
/* The same for an attempt block (1 <= count <= PD_JBLOCK_ATTEMPTS; every
 * task <= INT64_MAX). */
int pd_jblock_attempts_decode(pd_buf *out, const void *blob, size_t len, size_t count,
			      pd_jbattempt **attempts);

/* The highest attempt of every task, gathered from hand-outs in any
 * order. Zero-initialise; after pd_jblock_max_finish v[0, n) holds one
 * entry per task in task order. It holds at most about twice as many
 * entries as there are tasks. */
typedef struct pd_jblock_max {
	struct pd_jblock_max_entry {
		uint64_t task;
		uint32_t attempt;
	} *v;
	size_t n, cap;
} pd_jblock_max;

/* Adds count hand-outs. 0 or -ENOMEM (m stays valid to free). */
int pd_jblock_max_add(pd_jblock_max *m, const pd_jbattempt *a, size_t count);
/* Sorts by task and keeps the highest attempt of each. */
void pd_jblock_max_finish(pd_jblock_max *m);
/* Frees m; it is zero again. */
void pd_jblock_max_free(pd_jblock_max *m);

#endif
