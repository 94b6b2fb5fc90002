/* fuzz_journal_block.c - the blobs of a session journal (task and attempt
 * blocks) as read back by pd_jblock_*_decode; a journal on a shared disk
 * is outside bytes. data[0] & 1 picks attempts; the rest after data[1..2]
 * is the blob; the entry count the row claims is data[1..2], or with
 * data[0] & 2 the count the blob holds itself (then it agrees).
 *
 * Checks: a decoded block, encoded again with pd_jblock_*_add, is the same
 * bytes; cells and agents have no NUL within their length; the highest-
 * attempt table (pd_jblock_max_*) of decoded attempts is sorted, one entry
 * per task, each the task's highest attempt. */
#include "journal_block.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

static void same_blob(const pd_buf *b, const uint8_t *blob, size_t len)
{
	FUZZ_CHECK(b->len == len && !memcmp(b->data, blob, len), "a block re-encodes byte for byte");
}

static void check_tasks(const uint8_t *blob, size_t len, size_t count)
{
	pd_buf out = {0}, re = {0};
	pd_jbtask *t;
	int rv = pd_jblock_tasks_decode(&out, blob, len, count, &t);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL && !t, "a bad task block is -EINVAL");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		FUZZ_CHECK(t[i].cells[t[i].n] == NULL, "cells are NULL-terminated");
		FUZZ_CHECK(pd_jblock_task_add(&re, (const char *const *)t[i].cells, t[i].n) == 0,
			   "a decoded task encodes");
	}
	FUZZ_CHECK(pd_jblock_count(&re) == count, "the count survives");
	same_blob(&re, blob, len);
out:
	pd_buf_free(&out);
	pd_buf_free(&re);
}

static void check_attempts(const uint8_t *blob, size_t len, size_t count)
{
	pd_buf out = {0}, re = {0};
	pd_jblock_max m = {0};
	pd_jbattempt *a;
	int rv = pd_jblock_attempts_decode(&out, blob, len, count, &a);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL && !a, "a bad attempt block is -EINVAL");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		FUZZ_CHECK(a[i].agent && a[i].task <= INT64_MAX, "agents and tasks are sane");
		FUZZ_CHECK(pd_jblock_attempt_add(&re, a[i].task, a[i].attempt, a[i].at_ms,
						 a[i].agent) == 0,
			   "a decoded attempt encodes");
	}
	same_blob(&re, blob, len);
	FUZZ_CHECK(pd_jblock_max_add(&m, a, count) == 0, "max add");
	pd_jblock_max_finish(&m);
	for (size_t k = 0; k < m.n; k++) {
		uint32_t best = 0;
		int seen = 0;
		FUZZ_CHECK(k == 0 || m.v[k - 1].task < m.v[k].task, "max is sorted, one per task");
		for (size_t i = 0; i < count; i++)
			if (a[i].task == m.v[k].task) {
				if (!seen || a[i].attempt > best)
					best = a[i].attempt;
				seen = 1;
			}
		FUZZ_CHECK(seen && best == m.v[k].attempt, "max holds the highest attempt");
	}
	for (size_t i = 0; i < count; i++) {
		size_t k = 0;
		while (k < m.n && m.v[k].task != a[i].task)
			k++;
		FUZZ_CHECK(k < m.n, "every task is in max");
	}
	pd_jblock_max_free(&m);
out:
	pd_buf_free(&out);
	pd_buf_free(&re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t count, max;

	if (size < 3)
		return 0;
	max = (data[0] & 1) ? PD_JBLOCK_ATTEMPTS : PD_JBLOCK_TASKS;
	count = (size_t)data[1] | (size_t)data[2] << 8;
	if ((data[0] & 2) && size >= 7)
		count = (size_t)data[3] | (size_t)data[4] << 8;
	count = count % (max + 2); /* 0 and max + 1 are refused */
	if (data[0] & 1)
		check_attempts(data + 3, size - 3, count);
	else
		check_tasks(data + 3, size - 3, count);
	return 0;
}
