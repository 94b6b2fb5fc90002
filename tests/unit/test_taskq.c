/* test_taskq.c - agent/taskq.h: the agent's FIFO of tasks not started. */
#include <CUnit/Basic.h>
#include <stdlib.h>

#include "taskq.h"

static pd_task_msg *mk(uint64_t id)
{
	pd_task_msg *t = calloc(1, sizeof(*t));

	t->id = id;
	return t;
}

/* order kept across growth and wrap-around */
static void test_fifo(void)
{
	pd_taskq q = {0};
	uint64_t next = 0;

	CU_ASSERT_PTR_NULL(pd_taskq_pop(&q));
	for (uint64_t i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(pd_taskq_push(&q, mk(i)), 0);
	/* take 40 out so the head moves, then push past the capacity */
	for (int i = 0; i < 40; i++) {
		pd_task_msg *t = pd_taskq_pop(&q);
		CU_ASSERT_EQUAL_FATAL(t->id, next++);
		free(t);
	}
	for (uint64_t i = 50; i < 300; i++)
		CU_ASSERT_EQUAL(pd_taskq_push(&q, mk(i)), 0);
	CU_ASSERT_EQUAL(q.len, 260);
	while (q.len) {
		pd_task_msg *t = pd_taskq_pop(&q);
		CU_ASSERT_EQUAL_FATAL(t->id, next++);
		free(t);
	}
	CU_ASSERT_EQUAL(next, 300);
	pd_taskq_free(&q);
}

/* take by id keeps the others in order; clear frees and counts */
static void test_take_clear(void)
{
	pd_taskq q = {0};
	pd_task_msg *t;
	static const uint64_t want[] = {0, 1, 3, 4, 6, 8};

	/* start with the head inside the array so the take wraps */
	for (uint64_t i = 0; i < 60; i++)
		pd_taskq_push(&q, mk(1000 + i));
	for (int i = 0; i < 60; i++)
		free(pd_taskq_pop(&q));
	for (uint64_t i = 0; i < 10; i++)
		pd_taskq_push(&q, mk(i));
	t = pd_taskq_take(&q, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->id, 5);
	free(t);
	free(pd_taskq_take(&q, 2));
	free(pd_taskq_take(&q, 7));
	free(pd_taskq_take(&q, 9));
	CU_ASSERT_PTR_NULL(pd_taskq_take(&q, 5));
	CU_ASSERT_PTR_NULL(pd_taskq_take(&q, 1000));
	CU_ASSERT_EQUAL_FATAL(q.len, 6);
	for (size_t i = 0; i < 6; i++) {
		t = pd_taskq_pop(&q);
		CU_ASSERT_EQUAL(t->id, want[i]);
		free(t);
	}
	for (uint64_t i = 0; i < 5; i++)
		pd_taskq_push(&q, mk(i));
	CU_ASSERT_EQUAL(pd_taskq_clear(&q), 5);
	CU_ASSERT_EQUAL(q.len, 0);
	CU_ASSERT_EQUAL(pd_taskq_clear(&q), 0);
	pd_taskq_push(&q, mk(1));
	pd_taskq_free(&q); /* frees the task too (leak check: sanitizer build) */
	CU_ASSERT_EQUAL(pd_taskq_push(&q, mk(2)), 0); /* usable again */
	pd_taskq_free(&q);
}

/* the set a CANCEL names: sorted once, duplicates dropped */
static void test_idset(void)
{
	uint64_t ids[] = {9, 3, UINT64_MAX, 3, 0, 9, 9, 7};
	static const uint64_t want[] = {0, 3, 7, 9, UINT64_MAX};
	pd_idset s = pd_idset_make(ids, 8), none = pd_idset_make(NULL, 0);

	CU_ASSERT_EQUAL_FATAL(s.n, 5);
	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(s.ids[i], want[i]);
		CU_ASSERT(pd_idset_has(&s, want[i]));
	}
	CU_ASSERT(!pd_idset_has(&s, 1));
	CU_ASSERT(!pd_idset_has(&s, 8));
	CU_ASSERT(!pd_idset_has(&s, UINT64_MAX - 1));
	CU_ASSERT_EQUAL(none.n, 0);
	CU_ASSERT(!pd_idset_has(&none, 0));
	CU_ASSERT(!pd_idset_has(NULL, 0));
}

/* take a set: the named tasks in queue order, the rest untouched and in
 * order; repeated and unknown ids are harmless */
static void test_take_set(void)
{
	pd_taskq q = {0};
	pd_task_msg *out[64];
	uint64_t ids[] = {17, 5, 5, 63, 1000, 0, 17, 40, UINT64_MAX};
	pd_idset s = pd_idset_make(ids, sizeof(ids) / sizeof(ids[0]));
	static const uint64_t taken[] = {40, 63, 0, 5, 17};
	uint64_t next = 30;
	size_t n;

	/* the head inside the array: the queue wraps (30..63, then 0..29) */
	for (uint64_t i = 0; i < 30; i++)
		pd_taskq_push(&q, mk(1000 + i));
	for (int i = 0; i < 30; i++)
		free(pd_taskq_pop(&q));
	for (uint64_t i = 30; i < 64; i++)
		pd_taskq_push(&q, mk(i));
	for (uint64_t i = 0; i < 30; i++)
		pd_taskq_push(&q, mk(i));
	CU_ASSERT_EQUAL_FATAL(q.len, 64);
	n = pd_taskq_take_set(&q, &s, out);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(out[i]->id, taken[i]);
		free(out[i]);
	}
	CU_ASSERT_EQUAL_FATAL(q.len, 59);
	while (q.len) {
		pd_task_msg *t = pd_taskq_pop(&q);
		while (next == 40 || next == 63 || next == 0 || next == 5 || next == 17)
			next = (next + 1) % 64;
		CU_ASSERT_EQUAL(t->id, next);
		next = (next + 1) % 64;
		free(t);
	}
	/* the same set again: nothing left to take; the empty set takes none */
	for (uint64_t i = 0; i < 3; i++)
		pd_taskq_push(&q, mk(i + 100));
	CU_ASSERT_EQUAL(pd_taskq_take_set(&q, &s, out), 0);
	CU_ASSERT_EQUAL(pd_taskq_take_set(&q, NULL, out), 0);
	CU_ASSERT_EQUAL(q.len, 3);
	pd_taskq_free(&q);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("taskq", NULL, NULL);
	CU_add_test(s, "FIFO across growth and wrap", test_fifo);
	CU_add_test(s, "take by id, clear", test_take_clear);
	CU_add_test(s, "id set: sorted, no duplicates", test_idset);
	CU_add_test(s, "take a set in one pass", test_take_set);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
