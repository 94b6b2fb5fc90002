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

/* Review of issue #11: notes stayed after their task finished, so a long
 * run filled the table (PD_HELD_MAX) and every later late result was only
 * ignored. pd_held_settle drops a finished task's notes and remembers that
 * it had some; the room is free again. */
static void test_settle(void)
{
	pd_held *h = pd_held_new();
	uint64_t a = pd_held_digest("a"), b = pd_held_digest("b");

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(pd_held_settle(h, 3), 0); /* empty table */
	CU_ASSERT_EQUAL(pd_held_settled(h, 3), 0);
	for (uint32_t at = 1; at <= 3; at++)
		CU_ASSERT_EQUAL(pd_held_put(h, 5, at, a), 0);
	CU_ASSERT_EQUAL(pd_held_put(h, 6, 1, b), 0);
	CU_ASSERT_EQUAL(pd_held_count(h), 4);
	CU_ASSERT_EQUAL(pd_held_settle(h, 5), 0);
	CU_ASSERT_EQUAL(pd_held_count(h), 1);
	for (uint32_t at = 1; at <= 3; at++)
		CU_ASSERT_EQUAL(pd_held_get(h, 5, at), 0);
	CU_ASSERT_EQUAL(pd_held_get(h, 6, 1), b);
	CU_ASSERT_EQUAL(pd_held_settled(h, 5), 1);
	CU_ASSERT_EQUAL(pd_held_settled(h, 6), 0);
	/* a task without notes is not remembered */
	CU_ASSERT_EQUAL(pd_held_settle(h, 100000), 0);
	CU_ASSERT_EQUAL(pd_held_settled(h, 100000), 0);
	CU_ASSERT_EQUAL(pd_held_put(h, 100000, 1, a), 0);
	CU_ASSERT_EQUAL(pd_held_settle(h, 100000), 0);
	CU_ASSERT_EQUAL(pd_held_settled(h, 100000), 1);
	pd_held_free(h);
}

/* a full table takes notes again once tasks are settled */
static void test_settle_frees_room(void)
{
	pd_held *h = pd_held_new();
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (uint64_t i = 0; i < PD_HELD_MAX; i++)
		if (pd_held_put(h, i / 2, (uint32_t)(i % 2) + 1, i + 1) != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pd_held_put(h, PD_HELD_MAX, 1, 1), -ENOSPC);
	/* half of the tasks finish: their notes go */
	for (uint64_t t = 0; t < PD_HELD_MAX / 2; t += 2)
		if (pd_held_settle(h, t) != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pd_held_count(h), PD_HELD_MAX / 2);
	for (uint64_t i = 0; i < PD_HELD_MAX / 2; i++)
		if (pd_held_put(h, PD_HELD_MAX + i, 1, 7) != 0)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	/* the others are all still there */
	for (uint64_t i = 0; i < PD_HELD_MAX; i++) {
		uint64_t t = i / 2, want = (t % 2) ? i + 1 : 0;
		if (pd_held_get(h, t, (uint32_t)(i % 2) + 1) != want)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	pd_held_free(h);
}

/* puts and settles at random against a plain array: deletion keeps every
 * other note reachable (the table grows and wraps around meanwhile) */
static void test_settle_random(void)
{
	enum { TASKS = 3000, ATT = 4 };
	static uint64_t model[TASKS][ATT + 1];
	static unsigned char gone[TASKS];
	pd_held *h = pd_held_new();
	uint64_t x = 88172645463325252ull;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int op = 0; op < 200000; op++) {
		uint64_t t, r;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = x % TASKS;
		r = (x >> 20) % 8;
		if (r < 6) {
			uint32_t at = (uint32_t)((x >> 32) % ATT) + 1;
			if (pd_held_put(h, t, at, (x >> 8) | 1) != 0)
				bad++;
			model[t][at] = (x >> 8) | 1;
		} else {
			int had = 0;
			for (int at = 1; at <= ATT; at++) {
				had |= model[t][at] != 0;
				model[t][at] = 0;
			}
			if (pd_held_settle(h, t) != 0)
				bad++;
			gone[t] |= (unsigned char)had;
		}
		if (op % 1000 == 999) {
			size_t n = 0;
			for (int u = 0; u < TASKS; u++) {
				for (int at = 1; at <= ATT; at++) {
					n += model[u][at] != 0;
					if (pd_held_get(h, (uint64_t)u, (uint32_t)at) != model[u][at])
						bad++;
				}
				if (pd_held_settled(h, (uint64_t)u) != gone[u])
					bad++;
			}
			if (pd_held_count(h) != n)
				bad++;
		}
	}
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
	CU_add_test(s, "a settled task's notes go", test_settle);
	CU_add_test(s, "settling frees room in a full table", test_settle_frees_room);
	CU_add_test(s, "random puts and settles", test_settle_random);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
