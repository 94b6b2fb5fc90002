/* test_journal_block.c - the blobs that hold the journal's tasks and
 * attempts: round trips, the limits of a block, and hostile blobs. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal_block.h"

static const char *const cells_a[] = {"", "x,y", "Grüße € 😀", "line\nbreak", ""};
static const char *const cells_b[] = {"solo"};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A block of three tasks: cells_a, none, cells_b. */
static void three_tasks(pd_buf *b)
{
	pd_buf_reset(b);
	CU_ASSERT_EQUAL(pd_jblock_task_add(b, cells_a, 5), 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(b, NULL, 0), 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(b, cells_b, 1), 0);
}

/* A block of three hand-outs, the second without an agent. */
static void three_attempts(pd_buf *b)
{
	pd_buf_reset(b);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(b, 7, 1, 1000, "host-1"), 0);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(b, 8, 2, 1001, NULL), 0);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(b, INT64_MAX, UINT32_MAX, UINT64_MAX, "é"), 0);
}

static void test_tasks_roundtrip(void)
{
	pd_buf b = {0}, out = {0};
	pd_jbtask *t = NULL;
	size_t size;

	CU_ASSERT_EQUAL(pd_jblock_count(&b), 0);
	three_tasks(&b);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), 3);
	CU_ASSERT_EQUAL(pd_jblock_task_size(cells_b, 1, &size), 0);
	CU_ASSERT_EQUAL(size, 4 + 4 + 4);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, b.data, b.len, 3, &t), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(t[0].n, 5);
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_STRING_EQUAL(t[0].cells[i], cells_a[i]);
	CU_ASSERT_PTR_NULL(t[0].cells[5]);
	CU_ASSERT_EQUAL(t[1].n, 0);
	CU_ASSERT_PTR_NULL(t[1].cells[0]);
	CU_ASSERT_EQUAL_FATAL(t[2].n, 1);
	CU_ASSERT_STRING_EQUAL(t[2].cells[0], "solo");
	CU_ASSERT_PTR_NULL(t[2].cells[1]);
	t[2].cells[0][0] = 'S'; /* writable */
	/* the wrong count is not this block */
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, b.data, b.len, 2, &t), -EINVAL);
	CU_ASSERT_PTR_NULL(t);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

static void test_attempts_roundtrip(void)
{
	pd_buf b = {0}, out = {0};
	pd_jbattempt *a = NULL;

	three_attempts(&b);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), 3);
	CU_ASSERT_EQUAL(pd_jblock_attempts_decode(&out, b.data, b.len, 3, &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT(a[0].task == 7 && a[0].attempt == 1 && a[0].at_ms == 1000);
	CU_ASSERT_STRING_EQUAL(a[0].agent, "host-1");
	CU_ASSERT(a[1].task == 8 && a[1].attempt == 2 && a[1].at_ms == 1001);
	CU_ASSERT_STRING_EQUAL(a[1].agent, "");
	CU_ASSERT(a[2].task == INT64_MAX && a[2].attempt == UINT32_MAX && a[2].at_ms == UINT64_MAX);
	CU_ASSERT_STRING_EQUAL(a[2].agent, "é");
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(&b, (uint64_t)INT64_MAX + 1, 1, 1, "x"), -EOVERFLOW);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), 3);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

static void test_limits(void)
{
	pd_buf b = {0}, out = {0};
	const char **many;
	char *big;
	size_t len, size;
	pd_jbtask *t;
	pd_jbattempt *a;

	/* by count */
	for (unsigned i = 0; i < PD_JBLOCK_TASKS; i++)
		CU_ASSERT_EQUAL(pd_jblock_task_add(&b, cells_b, 1), 0);
	len = b.len;
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, cells_b, 1), -ENOSPC);
	CU_ASSERT_EQUAL(b.len, len);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), PD_JBLOCK_TASKS);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, b.data, b.len, PD_JBLOCK_TASKS, &t), 0);
	pd_buf_reset(&b);
	for (unsigned i = 0; i < PD_JBLOCK_ATTEMPTS; i++)
		CU_ASSERT_EQUAL(pd_jblock_attempt_add(&b, i, 1, 5, "a"), 0);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(&b, 0, 1, 5, "a"), -ENOSPC);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), PD_JBLOCK_ATTEMPTS);
	CU_ASSERT_EQUAL(pd_jblock_attempts_decode(&out, b.data, b.len, PD_JBLOCK_ATTEMPTS, &a), 0);
	/* by bytes: a large entry starts a block, and only a block */
	big = malloc(PD_JBLOCK_SOFT + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'b', PD_JBLOCK_SOFT);
	big[PD_JBLOCK_SOFT] = 0;
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, cells_b, 1), 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, (const char *const *)&big, 1), -ENOSPC);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), 1);
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, (const char *const *)&big, 1), 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, cells_b, 1), -ENOSPC);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, b.data, b.len, 1, &t), 0);
	CU_ASSERT_EQUAL(strlen(t[0].cells[0]), PD_JBLOCK_SOFT);
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(&b, 1, 1, 1, big), 0);
	CU_ASSERT_EQUAL(pd_jblock_attempt_add(&b, 1, 2, 1, "a"), -ENOSPC);
	free(big);
	/* what a task may not be */
	many = calloc(PD_JOURNAL_MAX_CELLS + 1, sizeof(*many));
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	for (size_t i = 0; i <= PD_JOURNAL_MAX_CELLS; i++)
		many[i] = "";
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_jblock_task_size(many, PD_JOURNAL_MAX_CELLS + 1, &size), -E2BIG);
	CU_ASSERT_EQUAL(size, 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, many, PD_JOURNAL_MAX_CELLS + 1), -E2BIG);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, many, PD_JOURNAL_MAX_CELLS), 0);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, b.data, b.len, 1, &t), 0);
	CU_ASSERT_EQUAL(t[0].n, PD_JOURNAL_MAX_CELLS);
	many[3] = NULL;
	CU_ASSERT_EQUAL(pd_jblock_task_add(&b, many, 5), -EINVAL);
	CU_ASSERT_EQUAL(pd_jblock_count(&b), 1);
	free(many);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

/* Every prefix of a valid blob, and the blob with a byte more. */
static void truncations(const pd_buf *b, size_t count, int tasks)
{
	pd_buf out = {0};
	uint8_t *p = malloc(b->len + 1);
	pd_jbtask *t;
	pd_jbattempt *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memcpy(p, b->data, b->len);
	p[b->len] = 0;
	for (size_t n = 0; n <= b->len + 1; n++) {
		/* an exact copy of n bytes, so a read past it is caught by ASan */
		uint8_t *q = malloc(n ? n : 1);
		int rv;

		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		memcpy(q, p, n);
		rv = tasks ? pd_jblock_tasks_decode(&out, q, n, count, &t)
			   : pd_jblock_attempts_decode(&out, q, n, count, &a);
		CU_ASSERT_EQUAL(rv, n == b->len ? 0 : -EINVAL);
		free(q);
	}
	free(p);
	pd_buf_free(&out);
}

static int tdec(pd_buf *out, const pd_buf *b, size_t count)
{
	pd_jbtask *t = (pd_jbtask *)b;
	int rv = pd_jblock_tasks_decode(out, b->data, b->len, count, &t);

	CU_ASSERT(rv == 0 ? t != NULL : t == NULL);
	return rv;
}

static int adec(pd_buf *out, const pd_buf *b, size_t count)
{
	pd_jbattempt *a = (pd_jbattempt *)b;
	int rv = pd_jblock_attempts_decode(out, b->data, b->len, count, &a);

	CU_ASSERT(rv == 0 ? a != NULL : a == NULL);
	return rv;
}

static void test_hostile_tasks(void)
{
	pd_buf b = {0}, out = {0};
	pd_jbtask *t;
	uint8_t small[8] = {1, 0, 0, 0, 0, 0, 0, 0};

	three_tasks(&b);
	truncations(&b, 3, 1);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, NULL, 0, 1, &t), -EINVAL);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, small, 8, 0, &t), -EINVAL);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, small, 4, 1, &t), -EINVAL);
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, small, 8, 1, &t), 0); /* one task, no cells */
	/* a length above the limit is refused before a byte is read */
	CU_ASSERT_EQUAL(pd_jblock_tasks_decode(&out, small, PD_JBLOCK_MAX + 1, 1, &t), -EINVAL);
	/* huge counts: of the block, of its cells */
	put32(b.data, UINT32_MAX);
	CU_ASSERT_EQUAL(tdec(&out, &b, UINT32_MAX), -EINVAL);
	put32(b.data, PD_JBLOCK_TASKS + 1);
	CU_ASSERT_EQUAL(tdec(&out, &b, PD_JBLOCK_TASKS + 1), -EINVAL);
	put32(b.data, 2);
	CU_ASSERT_EQUAL(tdec(&out, &b, 2), -EINVAL); /* a task left over */
	three_tasks(&b);
	put32(b.data + 4, UINT32_MAX);
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	put32(b.data + 4, PD_JOURNAL_MAX_CELLS + 1);
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	/* a cell length past the end, and one that wraps */
	three_tasks(&b);
	put32(b.data + 8, (uint32_t)b.len);
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	put32(b.data + 8, UINT32_MAX);
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	/* a NUL inside a cell */
	three_tasks(&b);
	b.data[b.len - 2] = 0;
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	/* bytes after the last task */
	three_tasks(&b);
	CU_ASSERT_EQUAL(pd_buf_append(&b, "zz", 2), 0);
	CU_ASSERT_EQUAL(tdec(&out, &b, 3), -EINVAL);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

static void test_hostile_attempts(void)
{
	pd_buf b = {0}, out = {0};

	three_attempts(&b);
	truncations(&b, 3, 0);
	put32(b.data, UINT32_MAX);
	CU_ASSERT_EQUAL(adec(&out, &b, UINT32_MAX), -EINVAL);
	put32(b.data, PD_JBLOCK_ATTEMPTS + 1);
	CU_ASSERT_EQUAL(adec(&out, &b, PD_JBLOCK_ATTEMPTS + 1), -EINVAL);
	put32(b.data, 4);
	CU_ASSERT_EQUAL(adec(&out, &b, 4), -EINVAL); /* one more than there is */
	/* agent lengths past the end */
	three_attempts(&b);
	put32(b.data + 4 + 20, UINT32_MAX);
	CU_ASSERT_EQUAL(adec(&out, &b, 3), -EINVAL);
	three_attempts(&b);
	put32(b.data + 4 + 20, (uint32_t)b.len);
	CU_ASSERT_EQUAL(adec(&out, &b, 3), -EINVAL);
	/* a task id above INT64_MAX */
	three_attempts(&b);
	b.data[4 + 7] = 0x80;
	CU_ASSERT_EQUAL(adec(&out, &b, 3), -EINVAL);
	/* a NUL in an agent */
	three_attempts(&b);
	b.data[4 + 24 + 2] = 0;
	CU_ASSERT_EQUAL(adec(&out, &b, 3), -EINVAL);
	three_attempts(&b);
	CU_ASSERT_EQUAL(pd_buf_append(&b, "z", 1), 0);
	CU_ASSERT_EQUAL(adec(&out, &b, 3), -EINVAL);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

/* Random bytes changed in valid blobs: every result is 0 or -EINVAL, and
 * nothing is read outside the blob (run under ASan). */
static void test_fuzz(void)
{
	pd_buf b = {0}, out = {0};
	uint32_t x = 2463534242u;
	int ok = 0, bad = 0, rv;

	for (int round = 0; round < 20000; round++) {
		int tasks = round & 1;
		uint8_t *q;

		if (tasks)
			three_tasks(&b);
		else
			three_attempts(&b);
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b.data[x % b.len] = (uint8_t)(x >> 8);
		}
		q = malloc(b.len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		memcpy(q, b.data, b.len);
		if (tasks) {
			pd_jbtask *t;
			rv = pd_jblock_tasks_decode(&out, q, b.len, 3, &t);
			for (size_t i = 0; rv == 0 && i < 3; i++)
				for (size_t k = 0; k < t[i].n; k++)
					CU_ASSERT(strlen(t[i].cells[k]) < b.len);
		} else {
			pd_jbattempt *a;
			rv = pd_jblock_attempts_decode(&out, q, b.len, 3, &a);
			for (size_t i = 0; rv == 0 && i < 3; i++)
				CU_ASSERT(strlen(a[i].agent) < b.len);
		}
		CU_ASSERT(rv == 0 || rv == -EINVAL);
		if (rv == 0)
			ok++;
		else
			bad++;
		free(q);
	}
	CU_ASSERT(ok > 0 && bad > 0);
	pd_buf_free(&b);
	pd_buf_free(&out);
}

static void test_max(void)
{
	pd_jblock_max m = {0};
	pd_jbattempt a[4] = {{.task = 9, .attempt = 1}, {.task = 3, .attempt = 2},
			     {.task = 9, .attempt = 4}, {.task = 3, .attempt = 1}};
	pd_jbattempt one;
	size_t i;

	pd_jblock_max_finish(&m); /* empty */
	CU_ASSERT_EQUAL(m.n, 0);
	CU_ASSERT_EQUAL(pd_jblock_max_add(&m, a, 4), 0);
	/* many hand-outs of few tasks (squeezed), then many tasks (grown) */
	for (i = 0; i < 50000; i++) {
		one.task = i % 10;
		one.attempt = (uint32_t)(i % 7);
		CU_ASSERT_EQUAL(pd_jblock_max_add(&m, &one, 1), 0);
	}
	CU_ASSERT(m.cap <= 8192);
	for (i = 100; i < 20100; i++) {
		one.task = i;
		one.attempt = (uint32_t)(i % 5 + 1);
		CU_ASSERT_EQUAL(pd_jblock_max_add(&m, &one, 1), 0);
	}
	pd_jblock_max_finish(&m);
	CU_ASSERT_EQUAL_FATAL(m.n, 10 + 20000);
	for (i = 0; i < 10; i++) {
		CU_ASSERT_EQUAL(m.v[i].task, i);
		CU_ASSERT_EQUAL(m.v[i].attempt, 6); /* i % 7 takes every value */
	}
	for (i = 10; i < m.n; i++) {
		CU_ASSERT_EQUAL(m.v[i].task, i + 90);
		CU_ASSERT_EQUAL(m.v[i].attempt, (uint32_t)((i + 90) % 5 + 1));
	}
	pd_jblock_max_free(&m);
	CU_ASSERT(m.v == NULL && m.n == 0 && m.cap == 0);
	/* the highest wins whatever the order */
	CU_ASSERT_EQUAL(pd_jblock_max_add(&m, a, 4), 0);
	pd_jblock_max_finish(&m);
	CU_ASSERT_EQUAL_FATAL(m.n, 2);
	CU_ASSERT(m.v[0].task == 3 && m.v[0].attempt == 2);
	CU_ASSERT(m.v[1].task == 9 && m.v[1].attempt == 4);
	pd_jblock_max_free(&m);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("journal_block", NULL, NULL);
	CU_add_test(s, "task block round trip", test_tasks_roundtrip);
	CU_add_test(s, "attempt block round trip", test_attempts_roundtrip);
	CU_add_test(s, "limits of a block", test_limits);
	CU_add_test(s, "hostile task blocks", test_hostile_tasks);
	CU_add_test(s, "hostile attempt blocks", test_hostile_attempts);
	CU_add_test(s, "fuzzed blocks", test_fuzz);
	CU_add_test(s, "highest attempts", test_max);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
