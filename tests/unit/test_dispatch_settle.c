/* Dispatcher: results taken from outside the normal path (pd_disp_settle)
 * and attempts carried over by a restarted controller (pd_disp_set_attempt).
 * The rule under test: a task is recorded exactly once. */
#include "disp_util.h"
#include "dispatch.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* every task is in exactly one state */
static int balanced(const pd_disp *d)
{
	return pd_disp_queued(d) + pd_disp_outstanding(d) + pd_disp_finished(d) ==
	       pd_disp_total(d);
}

static void test_settle_queued(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t id = 0, i;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	/* front, middle and back of the queue */
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 4), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 9), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 7);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT(balanced(d));
	/* a settled task cannot be given an attempt: it will not run */
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 4, 2), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 100), 0);
	for (i = 0; i < 10; i++) {
		if (i == 0 || i == 4 || i == 9)
			continue;
		CU_ASSERT_EQUAL(next1(d, &id), 1);
		CU_ASSERT_EQUAL(id, i);
	}
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 7);
	CU_ASSERT(balanced(d));
	/* a report for a task settled while queued was never handed out */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 4, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 7);
	/* more tasks after the dead entries: still FIFO, nothing revived */
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 10, 2), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 10);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 11);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	pd_disp_free(d);

	/* settling the whole queue leaves nothing to hand out */
	d = mk(0, 4, 0, 0, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 5), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	for (i = 5; i-- > 0;)
		CU_ASSERT_EQUAL(pd_disp_settle(d, i), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 5);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 5, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 5);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

static void test_settle_outstanding(void)
{
	pd_disp *d = mk(0, 1, 1, 0, 0, 0);
	uint64_t id = 0, got[2] = { 0, 0 };

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0); /* credit 2 */
	CU_ASSERT_EQUAL(next1(d, &got[0]), 1);
	CU_ASSERT_EQUAL(next1(d, &got[1]), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, got[0]), 1);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 8);
	CU_ASSERT(balanced(d));
	/* the agent still runs it: no new credit yet */
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	/* reports that do not match the hand-out change nothing */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, got[0], 2, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, got[0], 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	/* its own report, even a failure, is stale and frees the credit */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, got[0], 1, 1), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 1);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 2);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	/* a duplicate of that report frees nothing more */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, got[0], 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, got[1], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 0);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);

	/* round-robin: the freed credit makes the agent eligible again */
	d = mk(1, 1, 0, 1, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0); /* window 1 */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, id), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, id, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 1);
	pd_disp_free(d);
}

/* the least-loaded pick counts settled tasks the agent still holds */
static void test_settle_load(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t a1 = 0, b1 = 0;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 4), 0);
	CU_ASSERT_EQUAL(next1(d, &a1), 1);
	CU_ASSERT_EQUAL(next1(d, &b1), 2);
	CU_ASSERT_EQUAL(pd_disp_settle(d, a1), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 0);
	/* busy 1:1, tie to the lower id */
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), 2);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, a1, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	pd_disp_free(d);
}

static void test_settle_then_remove(void)
{
	/* crash_limit 1: any live hand-out would be lost on removal */
	pd_disp *d = mk(0, 4, 0, 0, 1, 0);
	uint64_t ids[4], *lost = NULL, id = 0;
	size_t nlost = 0;
	uint32_t a;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 6), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 4), 4); /* 0..3 */
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 2), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, &lost, &nlost), 0);
	CU_ASSERT_EQUAL_FATAL(nlost, 2);
	CU_ASSERT_FATAL(lost != NULL);
	CU_ASSERT_EQUAL(lost[0], 0);
	CU_ASSERT_EQUAL(lost[1], 3);
	free(lost);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 4);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 2);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT(balanced(d));
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 0); /* lost is finished too */
	pd_disp_free(d);

	/* crash_limit 3: only unsettled tasks are requeued */
	d = mk(0, 4, 0, 0, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 6), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 4), 4);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 2), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, &lost, &nlost), 0);
	CU_ASSERT_PTR_NULL(lost);
	CU_ASSERT_EQUAL(nlost, 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 4);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	CU_ASSERT(balanced(d));
	/* the agent back under the same id: its late reports are stale */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	/* requeued in hand-out order, settled ones skipped */
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 4), 3); /* credit 3 */
	CU_ASSERT_EQUAL(ids[0], 1);
	CU_ASSERT_EQUAL(ids[1], 3);
	CU_ASSERT_EQUAL(ids[2], 4);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 2);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 4), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 4, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 5);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

static void test_settle_twice_and_after(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t id = 0;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 4), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_settle(d, UINT64_MAX), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 0);
	/* queued, twice */
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 3);
	/* outstanding, twice, then the agent's report */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 0);
	/* completed, then settled */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 2);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

static void test_set_attempt(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t id = 0;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 2), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 4, 2), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 1), 0); /* unchanged */
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 5), 0);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 4), -EINVAL); /* never lower */
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 7), 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 7);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 4);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 7);
	/* out at an agent: too late to change */
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 9), -EINVAL);
	/* the previous controller's attempts are stale */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 6, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 7, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 9), -EINVAL); /* done */
	/* a restarted controller's typical use: a late report of the old
	 * attempt, then the settle that records it */
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 1, 2), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 2, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 0);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

/* retries and the crash limit count what this dispatcher saw, not the
 * attempt number */
static void test_budgets(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 2, 1);
	uint64_t id = 0, *lost = NULL;
	size_t nlost = 0;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 0, 5), 0);
	CU_ASSERT_EQUAL(pd_disp_set_attempt(d, 1, 9), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	/* task 0 fails once: one retry left despite attempt 5 */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 5, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 6);
	/* the retry waits at the back; settle it there */
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 2);
	/* task 1 is lost once: requeued (attempt 10), not lost */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, &lost, &nlost), 0);
	CU_ASSERT_EQUAL(nlost, 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 10);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 1);
	/* a failure is a retry: a loss is not an own failure */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, 1, 10, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 2);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, 2, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 11);
	/* second loss: the crash limit */
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 2, &lost, &nlost), 0);
	CU_ASSERT_EQUAL_FATAL(nlost, 1);
	CU_ASSERT_EQUAL(lost[0], 1);
	free(lost);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);

	/* a settled task held by an agent never uses up a loss */
	d = mk(0, 1, 0, 0, 2, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 0), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, &lost, &nlost), 0);
	CU_ASSERT_EQUAL(nlost, 0);
	CU_ASSERT_PTR_NULL(lost);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

static void test_chunked(void)
{
	pd_disp *d = mk(0, 4, 0, 0, 0, 0);
	static const uint64_t settle[] = { 1, 2, 5, 6, 7, 9, 14 };
	uint64_t ids[8];
	uint32_t a;
	size_t i, n;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 16), 0);
	for (i = 0; i < sizeof(settle) / sizeof(settle[0]); i++)
		CU_ASSERT_EQUAL(pd_disp_settle(d, settle[i]), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 100), 0);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(ids[1], 3);
	CU_ASSERT_EQUAL(ids[2], 4);
	CU_ASSERT_EQUAL(ids[3], 8);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(ids[0], 10);
	CU_ASSERT_EQUAL(ids[1], 11);
	CU_ASSERT_EQUAL(ids[2], 12);
	CU_ASSERT_EQUAL(ids[3], 13);
	/* a short batch: only one task left, after a dead one */
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(ids[0], 15);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 0);
	CU_ASSERT(balanced(d));
	/* requeued tasks at the front, one settled among them */
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 16, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 13);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 3), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 12), 1);
	CU_ASSERT_EQUAL(pd_disp_settle(d, 17), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 10);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 100), 0);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(ids[1], 4);
	CU_ASSERT_EQUAL(ids[2], 8);
	CU_ASSERT_EQUAL(ids[3], 10);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	n = pd_disp_next(d, &a, ids, 3); /* max below chunk */
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(ids[0], 11);
	CU_ASSERT_EQUAL(ids[1], 13);
	CU_ASSERT_EQUAL(ids[2], 15);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(ids[0], 16);
	CU_ASSERT_EQUAL(ids[1], 18);
	CU_ASSERT_EQUAL(ids[2], 19);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 16), 1);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 10);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 10);
	CU_ASSERT(balanced(d));
	pd_disp_free(d);
}

/* 100k tasks, every third settled: linear work, order kept */
static void run_large(int rr, int while_out)
{
	pd_disp *d = mk(rr, 64, 0, 0, 0, 0);
	const uint64_t n = 100000;
	uint64_t ids[64], expect = 0, recorded = 0;
	uint32_t a, i;
	size_t k, j;
	int ok = 1;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, n), 0);
	if (!while_out) {
		for (expect = 0; expect < n; expect += 3)
			ok &= pd_disp_settle(d, expect) == 1;
		recorded = (n + 2) / 3;
		CU_ASSERT_EQUAL(pd_disp_queued(d), n - recorded);
		CU_ASSERT_EQUAL(pd_disp_finished(d), recorded);
	}
	for (i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 100 + i, 8), 0);
	expect = 0;
	while (pd_disp_finished(d) < n) {
		k = pd_disp_next(d, &a, ids, 64);
		if (!k) {
			ok = 0;
			break;
		}
		for (j = 0; j < k; j++) {
			if (!while_out && expect % 3 == 0)
				expect++;
			ok &= ids[j] == expect++;
			if (while_out && ids[j] % 3 == 0) {
				/* taken elsewhere while the agent runs it */
				ok &= pd_disp_settle(d, ids[j]) == 1;
				ok &= pd_disp_complete(d, a, ids[j], 1, 0) == PD_DISP_STALE;
			} else {
				ok &= pd_disp_complete(d, a, ids[j], 1, 0) == PD_DISP_DONE;
			}
			recorded++;
		}
		ok &= balanced(d);
		if (!ok)
			break;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(recorded, n);
	CU_ASSERT_EQUAL(pd_disp_finished(d), n);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	for (i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 100 + i), 0);
	pd_disp_free(d);
}

static void test_large(void)
{
	clock_t t0 = clock();

	run_large(0, 0);
	run_large(1, 0);
	run_large(0, 1);
	run_large(1, 1);
	/* no assert on time, only a line to spot a quadratic regression */
	fprintf(stderr, "(4 x 100k tasks: %.3f s) ", (double)(clock() - t0) / CLOCKS_PER_SEC);
}

/* worst case for lazy deletion: all but the last task settled from the
 * back, then the one left is handed out past all the dead entries */
static void test_large_dead_run(void)
{
	pd_disp *d = mk(0, 64, 0, 0, 0, 0);
	const uint64_t n = 100000;
	uint64_t i, id = 0;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, n), 0);
	for (i = n - 1; i-- > 0;)
		CU_ASSERT_EQUAL_FATAL(pd_disp_settle(d, i), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, n - 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, id, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), n);
	pd_disp_free(d);
}

/* ---- randomised: every task recorded exactly once ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

#define S_CAP 3000
#define S_AGENTS 6

/* Q queued, O outstanding, H settled but still held, F finished */
enum { Q, O, H, F };

struct s_task {
	int state;
	uint32_t attempt, loss, fails, agent;
	int recorded;
};

struct s_hand {
	uint64_t task;
	uint32_t attempt;
};

struct s_agent {
	int used;
	uint32_t id;
	struct s_hand *h;
	size_t nh;
};

struct sim {
	pd_disp_opts o;
	pd_disp *d;
	struct s_task t[S_CAP];
	uint64_t total;
	struct s_agent ag[S_AGENTS];
	uint32_t next_id;
};

#define CHECK(c) CU_ASSERT_FATAL(c)

static void s_record(struct s_task *t)
{
	t->recorded++;
	CHECK(t->recorded == 1);
}

static void s_check(struct sim *s)
{
	uint64_t nq = 0, no = 0, nf = 0, i;
	size_t k, j, mine;
	int ok = 1;

	for (i = 0; i < s->total; i++) {
		nq += s->t[i].state == Q;
		no += s->t[i].state == O;
		nf += s->t[i].state == H || s->t[i].state == F;
		ok &= pd_disp_attempt(s->d, i) == s->t[i].attempt;
	}
	CHECK(ok);
	CHECK(pd_disp_queued(s->d) == nq);
	CHECK(pd_disp_outstanding(s->d) == no);
	CHECK(pd_disp_finished(s->d) == nf);
	CHECK(pd_disp_total(s->d) == s->total);
	for (k = 0; k < S_AGENTS; k++) {
		if (!s->ag[k].used)
			continue;
		for (j = mine = 0; j < s->ag[k].nh; j++)
			mine += s->t[s->ag[k].h[j].task].state == O;
		CHECK(pd_disp_agent_outstanding(s->d, s->ag[k].id) == mine);
	}
}

static struct s_agent *s_find(struct sim *s, uint32_t id)
{
	size_t k;

	for (k = 0; k < S_AGENTS; k++)
		if (s->ag[k].used && s->ag[k].id == id)
			return &s->ag[k];
	return NULL;
}

static void s_add_agent(struct sim *s)
{
	size_t k;

	for (k = 0; k < S_AGENTS && s->ag[k].used; k++)
		;
	if (k == S_AGENTS)
		return;
	/* ids are reused, as a reconnecting agent's may be */
	s->ag[k].id = s->next_id++ % 9;
	while (s_find(s, s->ag[k].id))
		s->ag[k].id = s->next_id++ % 9;
	CHECK(pd_disp_agent_add(s->d, s->ag[k].id, 1 + rndn(3)) == 0);
	s->ag[k].used = 1;
	s->ag[k].nh = 0;
}

static void s_drop_hand(struct s_agent *a, size_t j)
{
	a->h[j] = a->h[--a->nh];
}

static void s_remove(struct sim *s, struct s_agent *a)
{
	uint64_t *lost = NULL;
	size_t nlost = 0, nl = 0, i, j;
	struct s_task *t;

	CHECK(pd_disp_agent_remove(s->d, a->id, &lost, &nlost) == 0);
	for (i = 0; i < nlost; i++) {
		t = &s->t[lost[i]];
		CHECK(t->state == O && t->agent == a->id);
		CHECK(t->loss + 1 >= s->o.crash_limit);
	}
	for (j = 0; j < a->nh; j++) {
		t = &s->t[a->h[j].task];
		if (t->state == H) {
			t->state = F;
			continue;
		}
		CHECK(t->state == O);
		if (t->loss + 1 >= s->o.crash_limit) {
			t->state = F;
			s_record(t);
			nl++;
			continue;
		}
		t->loss++;
		t->attempt++;
		t->state = Q;
	}
	CHECK(nl == nlost);
	free(lost);
	a->used = 0;
	a->nh = 0;
}

static void s_next(struct sim *s)
{
	uint64_t ids[8];
	uint32_t id = 0;
	size_t n, i;
	struct s_agent *a;
	struct s_task *t;

	n = pd_disp_next(s->d, &id, ids, 1 + rndn(8));
	if (!n)
		return;
	a = s_find(s, id);
	CHECK(a != NULL);
	for (i = 0; i < n; i++) {
		CHECK(ids[i] < s->total);
		t = &s->t[ids[i]];
		CHECK(t->state == Q);
		t->state = O;
		t->agent = id;
		a->h[a->nh].task = ids[i];
		a->h[a->nh].attempt = t->attempt;
		a->nh++;
	}
}

static void s_complete(struct sim *s, struct s_agent *a)
{
	size_t j = rndn((uint32_t)a->nh);
	struct s_hand h = a->h[j];
	struct s_task *t = &s->t[h.task];
	int failed = (int)rndn(3) == 0, rv;

	/* a report of another attempt first: never counts */
	CHECK(pd_disp_complete(s->d, a->id, h.task, h.attempt + 1, 0) == PD_DISP_STALE);
	rv = pd_disp_complete(s->d, a->id, h.task, h.attempt, failed);
	s_drop_hand(a, j);
	if (t->state == H) {
		CHECK(rv == PD_DISP_STALE);
		t->state = F;
	} else if (failed && t->fails < s->o.retries) {
		CHECK(rv == PD_DISP_RETRY);
		t->fails++;
		t->attempt++;
		t->state = Q;
	} else {
		CHECK(rv == PD_DISP_DONE);
		t->state = F;
		s_record(t);
	}
}

static void s_settle(struct sim *s, uint64_t id)
{
	struct s_task *t = &s->t[id];
	int rv = pd_disp_settle(s->d, id);

	if (t->state == Q || t->state == O) {
		CHECK(rv == 1);
		t->state = t->state == Q ? F : H;
		s_record(t);
	} else {
		CHECK(rv == 0);
	}
}

static void run_sim(uint64_t seed, int rr)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct s_agent *a;
	uint64_t i, n;
	size_t k;
	int step, op;

	CU_ASSERT_FATAL(s != NULL);
	rng = seed;
	s->o.round_robin = rr;
	s->o.chunk = 1 + rndn(5);
	s->o.prefetch = 1 + rndn(3);
	s->o.rr_window = 1 + rndn(4);
	s->o.crash_limit = 1 + rndn(3);
	s->o.retries = rndn(3);
	s->d = pd_disp_new(&s->o);
	CU_ASSERT_FATAL(s->d != NULL);
	for (k = 0; k < S_AGENTS; k++) {
		s->ag[k].h = malloc(S_CAP * sizeof(*s->ag[k].h));
		CU_ASSERT_FATAL(s->ag[k].h != NULL);
	}
	for (step = 0;; step++) {
		int ending = step >= 20000;
		uint64_t left = 0;

		if (ending) {
			for (i = 0; i < s->total; i++)
				left += s->t[i].state != F;
			if (!left)
				break;
		}
		CHECK(step < 200000);
		a = &s->ag[rndn(S_AGENTS)];
		op = (int)rndn(100);
		if (ending && op < 10)
			op = 50; /* no more removals, tasks or drains */
		if (op < 3) {
			if (a->used)
				s_remove(s, a);
			else
				s_add_agent(s);
		} else if (op < 6) {
			n = rndn(30);
			if (s->total + n <= S_CAP) {
				CHECK(pd_disp_add_tasks(s->d, s->total, n) == 0);
				for (i = s->total; i < s->total + n; i++)
					s->t[i].attempt = 1;
				s->total += n;
			}
		} else if (op < 10) {
			/* set_attempt as a restarted controller would */
			if (s->total) {
				struct s_task *t;

				i = rndn((uint32_t)s->total);
				t = &s->t[i];
				if (t->state == Q) {
					t->attempt += rndn(3);
					CHECK(pd_disp_set_attempt(s->d, i, t->attempt) == 0);
				} else {
					CHECK(pd_disp_set_attempt(s->d, i, t->attempt + 1) ==
					      -EINVAL);
				}
			}
		} else if (op < 22) {
			if (s->total)
				s_settle(s, rndn((uint32_t)s->total));
			CHECK(pd_disp_settle(s->d, s->total) == -EINVAL);
		} else if (op < 55) {
			if (a->used && a->nh)
				s_complete(s, a);
		} else {
			s_next(s);
		}
		for (k = 0; k < S_AGENTS && !s->ag[k].used; k++)
			;
		if (k == S_AGENTS)
			s_add_agent(s);
		if (step % 8 == 0)
			s_check(s);
	}
	s_check(s);
	for (i = 0; i < s->total; i++)
		CHECK(s->t[i].recorded == 1);
	/* whatever settled tasks the agents still hold hand back their credit */
	for (k = 0; k < S_AGENTS; k++)
		if (s->ag[k].used)
			s_remove(s, &s->ag[k]);
	CHECK(pd_disp_agents(s->d) == 0);
	CHECK(pd_disp_finished(s->d) == s->total);
	CHECK(pd_disp_queued(s->d) == 0 && pd_disp_outstanding(s->d) == 0);
	pd_disp_free(s->d);
	for (k = 0; k < S_AGENTS; k++)
		free(s->ag[k].h);
	free(s);
}

static void test_sim(void)
{
	uint64_t seed;

	for (seed = 1; seed <= 8; seed++) {
		run_sim(0x9e3779b97f4a7c15ULL * seed, 0);
		run_sim(0xc2b2ae3d27d4eb4fULL * seed, 1);
	}
}

/* A handler crash (a coprocess died) counts against the crash limit, goes
 * back to the FRONT of the queue at attempt + 1, and never spends --retries;
 * at the limit it is DONE (the caller reports it lost). */
static void test_crashed(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 2, 5);
	uint64_t id = 99;

	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, PD_END_CRASHED), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	/* front of the queue: task 0 again before 1 and 2 */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, PD_END_OK), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 2, PD_END_CRASHED), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 2);
	/* an ordinary failure still has its 5 retries */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, PD_END_FAILED), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	pd_disp_free(d);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "settle_queued", test_settle_queued },
		{ "settle_outstanding", test_settle_outstanding },
		{ "settle_load", test_settle_load },
		{ "settle_then_remove", test_settle_then_remove },
		{ "settle_twice_and_after", test_settle_twice_and_after },
		{ "set_attempt", test_set_attempt },
		{ "budgets", test_budgets },
		{ "chunked", test_chunked },
		{ "large", test_large },
		{ "large_dead_run", test_large_dead_run },
		{ "sim", test_sim },
		{ "crashed", test_crashed },
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dispatch_settle", NULL, NULL);
	if (!s)
		goto err;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			goto err;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto err;
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
err:
	CU_cleanup_registry();
	return 2;
}
