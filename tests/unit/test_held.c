/* test_held.c - held.h: who held which attempt of a task, once its agent
 * is gone (the controller takes a late result only from that agent). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdint.h>

#include "held.h"

static void test_put_get(void)
{
	pd_held *h = pd_held_new();
	uint64_t a = pd_held_digest("node1:100"), b = pd_held_digest("node1:101");

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT(a != 0 && b != 0 && a != b);
	CU_ASSERT_EQUAL(pd_held_digest("node1:100"), a);
	CU_ASSERT(pd_held_digest("") != 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 5, 1), 0); /* empty */
	CU_ASSERT_EQUAL(pd_held_put(h, 5, 1, a), 0);
	CU_ASSERT_EQUAL(pd_held_put(h, 5, 2, b), 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 5, 1), a);
	CU_ASSERT_EQUAL(pd_held_get(h, 5, 2), b);
	CU_ASSERT_EQUAL(pd_held_get(h, 5, 3), 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 6, 1), 0);
	/* the same (task, attempt) again: the last note counts */
	CU_ASSERT_EQUAL(pd_held_put(h, 5, 1, b), 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 5, 1), b);
	pd_held_free(h);
	pd_held_free(NULL);
}

/* many notes: every one is found after the table grew, none invented;
 * past PD_HELD_MAX a new note is refused and the old ones stay */
static void test_many(void)
{
	pd_held *h = pd_held_new();
	uint64_t i;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (i = 0; i < PD_HELD_MAX; i++)
		if (pd_held_put(h, i * 7919u, (uint32_t)(i % 5) + 1, i + 1) != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pd_held_put(h, 1, 99, 1), -ENOSPC);
	/* a note already there may still be replaced */
	CU_ASSERT_EQUAL(pd_held_put(h, 0, 1, 42), 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 0, 1), 42);
	for (i = 1; i < PD_HELD_MAX; i++)
		if (pd_held_get(h, i * 7919u, (uint32_t)(i % 5) + 1) != i + 1 ||
		    pd_held_get(h, i * 7919u, (uint32_t)(i % 5) + 2) != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	pd_held_free(h);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("held", NULL, NULL);
	CU_add_test(s, "notes and digests", test_put_get);
	CU_add_test(s, "many notes and the limit", test_many);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
