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

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("taskq", NULL, NULL);
	CU_add_test(s, "FIFO across growth and wrap", test_fifo);
	CU_add_test(s, "take by id, clear", test_take_clear);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
