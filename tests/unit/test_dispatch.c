#include "disp_util.h"
#include "dispatch.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_defaults(void)
{
	pd_disp_opts o;
	pd_disp *d;

	memset(&o, 0xff, sizeof(o));
	pd_disp_opts_default(&o);
	CU_ASSERT_EQUAL(o.round_robin, 0);
	CU_ASSERT_EQUAL(o.chunk, 1);
	CU_ASSERT_EQUAL(o.prefetch, 2);
	CU_ASSERT_EQUAL(o.rr_window, 64);
	CU_ASSERT_EQUAL(o.crash_limit, 3);
	CU_ASSERT_EQUAL(o.retries, 0);
	CU_ASSERT_EQUAL(o.start, PD_DISP_START);

	/* zero fields become defaults: slots 1 + prefetch 2 = 3 */
	d = mk(0, 0, 0, 0, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	pd_disp_free(d);
	pd_disp_free(NULL);
}

static void test_errors(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t *lost = (uint64_t *)1;
	size_t nlost = 99;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 1, 5), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 5), 0);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 5), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 5, 0), 0);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 5, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_total(d), 8);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 7, 0), -EINVAL);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 7, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 7, 2), -EEXIST);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 8), -ENOENT);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 8, &lost, &nlost), -ENOENT);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 7, &lost, &nlost), 0);
	CU_ASSERT_PTR_NULL(lost);
	CU_ASSERT_EQUAL(nlost, 0);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 7, NULL, NULL), -ENOENT);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 3), 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 7, 3, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 7, 300, 1, 0), PD_DISP_STALE);
	pd_disp_free(d);
}

static void test_fifo(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t id, i;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 4, 6), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	for (i = 0; i < 10; i++) {
		CU_ASSERT_EQUAL(next1(d, &id), 1);
		CU_ASSERT_EQUAL(id, i);
		/* keep task 0 outstanding throughout */
		if (i)
			CU_ASSERT_EQUAL(pd_disp_complete(d, 1, id, 1, 0), PD_DISP_DONE);
	}
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 10);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	pd_disp_free(d);
}

static void test_credit(void)
{
	pd_disp *d = mk(0, 1, 3, 0, 0, 0);
	uint64_t ids[16];
	uint32_t a;
	int i;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 100), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), -1); /* no agents */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 4, 2), 0);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(next1(d, &ids[i]), 4);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 4), 5);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 4, ids[2], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(next1(d, &ids[2]), 4);
	CU_ASSERT_EQUAL(ids[2], 5);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 0), 0);
	pd_disp_free(d);
}

static void test_least_loaded(void)
{
	/* limits: agent 1: 3, agent 2: 6, agent 3: 4 */
	static const long want[] = { 1, 2, 3, 2, 2, 3, 2, 1, 2, 3, 2, 3, 1, -1 };
	pd_disp *d = mk(0, 1, 2, 0, 0, 0);
	uint64_t id, ids[16];
	size_t n = 0, i;
	long a;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 100), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 3, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		a = next1(d, &id);
		CU_ASSERT_EQUAL(a, want[i]);
		if (a == 2)
			ids[n++] = id;
	}
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 13);
	/* only agent 2 regains credit */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, ids[0], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(next1(d, NULL), 2);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	/* agent 2 at 2/4 is now the least loaded (1: 3/1, 3: 4/2) */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, ids[1], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, ids[2], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, ids[3], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 2), 3);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 9, 8), 0);
	/* 9 is served until it reaches 6/8, equal to 2's 3/4: the tie goes to 2 */
	for (i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(next1(d, NULL), 9);
	CU_ASSERT_EQUAL(next1(d, NULL), 2);
	pd_disp_free(d);
}

static void test_round_robin(void)
{
	static const long want[] = { 5, 1, 3, 5, 1, 3, -1 };
	pd_disp *d = mk(1, 1, 0, 2, 0, 0);
	uint64_t id, one = 0;
	size_t i;
	long a;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 100), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 5, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 3, 1), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		a = next1(d, &id);
		CU_ASSERT_EQUAL(a, want[i]);
		if (a >= 0)
			CU_ASSERT_EQUAL(id, i);
		if (a == 1)
			one = id;
	}
	/* window is slots * rr_window = 2 */
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 5), 2);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, one, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 5, 0, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 5, 3, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 3, 2, 1, 0), PD_DISP_DONE);
	/* rotation resumes after agent 1: 3, then 5 */
	CU_ASSERT_EQUAL(next1(d, NULL), 3);
	CU_ASSERT_EQUAL(next1(d, NULL), 5);
	CU_ASSERT_EQUAL(next1(d, NULL), 5);
	CU_ASSERT_EQUAL(next1(d, NULL), -1);
	/* a new agent joins the end of the rotation; drained ones skipped */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 0, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 4, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 2), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 4);
	CU_ASSERT_EQUAL(next1(d, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 4, NULL, NULL), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 0);
	pd_disp_free(d);

	/* no load balancing: a busy agent still gets its turn */
	d = mk(1, 4, 0, 64, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	{
		uint64_t ids[8];
		uint32_t ag;

		CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 1000), 0);
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 4), 0);
		CU_ASSERT_EQUAL(pd_disp_next(d, &ag, ids, 8), 4);
		CU_ASSERT_EQUAL(ag, 1);
		CU_ASSERT_EQUAL(pd_disp_next(d, &ag, ids, 8), 4);
		CU_ASSERT_EQUAL(ag, 2);
		CU_ASSERT_EQUAL(pd_disp_next(d, &ag, ids, 8), 4);
		CU_ASSERT_EQUAL(ag, 1);
		CU_ASSERT_EQUAL(ids[0], 8);
		for (i = 0; i < 200; i++)
			if (!pd_disp_next(d, &ag, ids, 8))
				break;
		CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 64);
		CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 2), 256);
		CU_ASSERT_EQUAL(pd_disp_queued(d), 1000 - 320);
	}
	pd_disp_free(d);
}

static void test_chunk(void)
{
	pd_disp *d = mk(0, 4, 100, 0, 0, 0);
	uint64_t ids[8];
	uint32_t a;
	size_t n;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(ids[3], 3);
	n = pd_disp_next(d, &a, ids, 3); /* max below chunk */
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(ids[0], 4);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL(n, 3); /* partial last batch */
	CU_ASSERT_EQUAL(ids[0], 7);
	CU_ASSERT_EQUAL(ids[2], 9);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 0);
	pd_disp_free(d);

	/* credit caps the batch: slots 2 + prefetch 1 = 3 */
	d = mk(0, 4, 1, 0, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 3);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 1);
	CU_ASSERT_EQUAL(ids[0], 3);
	pd_disp_free(d);
}

static void test_retries(void)
{
	pd_disp *d = mk(0, 1, 10, 0, 0, 2);
	uint64_t id;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 3);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 0);
	/* duplicate of the failed report */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 1), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	/* back of the queue */
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 2);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 1), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 2, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 3);
	/* retries exhausted: a failure is final */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 3, 1), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 3);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 1);
	pd_disp_free(d);

	/* retries 0: failure is DONE at once */
	d = mk(0, 1, 0, 0, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 1), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	pd_disp_free(d);
}

static void test_remove_requeue(void)
{
	pd_disp *d = mk(0, 4, 0, 0, 0, 0);
	uint64_t ids[8], *lost = NULL;
	size_t nlost = 7;
	uint32_t a;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 20), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 4); /* 0..3 */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 4); /* 4..7 */
	CU_ASSERT_EQUAL(a, 2);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, &lost, &nlost), 0);
	CU_ASSERT_PTR_NULL(lost);
	CU_ASSERT_EQUAL(nlost, 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 15);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 4);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 2);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 1);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 3), 2);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 4), 1);
	/* late and duplicate reports from the removed agent */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 15);
	/* front of the queue, original order */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 3, 100), 0);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8), 4);
	CU_ASSERT_EQUAL(a, 3);
	CU_ASSERT_EQUAL(ids[0], 0);
	CU_ASSERT_EQUAL(ids[1], 2);
	CU_ASSERT_EQUAL(ids[2], 3);
	CU_ASSERT_EQUAL(ids[3], 8);
	/* the same agent id back again: old attempt still stale */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 3, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 3, 0, 2, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 3, 0, 2, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 3), 3);
	pd_disp_free(d);
}

static void test_requeue_after_retry_order(void)
{
	/* handout order, not id order, is what goes back to the front */
	pd_disp *d = mk(0, 1, 10, 0, 0, 1);
	uint64_t id;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 1);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(next1(d, &id), 1); /* 1 */
	CU_ASSERT_EQUAL(next1(d, &id), 1); /* 2 */
	CU_ASSERT_EQUAL(next1(d, &id), 1); /* 3 */
	CU_ASSERT_EQUAL(next1(d, &id), 1); /* 0 again */
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 2, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 3);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 3);
	/* one loss and one own failure: no retries left */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, 0, 3, 1), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 2, 1, 2, 1), PD_DISP_RETRY);
	pd_disp_free(d);
}

/* Issue #11: an agent that claims 4096 slots and leaves three times
 * without reporting anything must not make thousands of tasks lost. It
 * gets PD_DISP_START tasks at first; each result it reports raises its
 * credit by one, up to slots + prefetch. */
static void test_slow_start(void)
{
	pd_disp *d = mk_start(0, 4096, 2, 0, 3, 0, 0);
	uint64_t *ids = malloc(8192 * sizeof(*ids)), *lost, nlost_all = 0;
	size_t nlost, n;
	uint32_t a;
	int round;

	CU_ASSERT_FATAL(d != NULL && ids != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10000), 0);
	for (round = 1; round <= 3; round++) {
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 7, 4096), 0);
		n = pd_disp_next(d, &a, ids, 8192);
		CU_ASSERT_EQUAL(n, PD_DISP_START);
		CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8192), 0);
		lost = NULL;
		nlost = 0;
		CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 7, &lost, &nlost), 0);
		nlost_all += nlost;
		free(lost);
	}
	CU_ASSERT_EQUAL(nlost_all, PD_DISP_START);
	CU_ASSERT_EQUAL(pd_disp_finished(d), PD_DISP_START);

	/* an agent that reports earns its credit: one more per result */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 8, 4096), 0);
	n = pd_disp_next(d, &a, ids, 8192);
	CU_ASSERT_EQUAL_FATAL(n, PD_DISP_START);
	for (size_t i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(pd_disp_complete(d, 8, ids[i], pd_disp_attempt(d, ids[i]), 0),
				PD_DISP_DONE);
	/* 10 results: 10 slots freed and 10 more of credit */
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8192), 20);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 8), PD_DISP_START + 10);
	/* a stale report earns nothing */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 8, 0, 1, 0), PD_DISP_STALE);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 8192), 0);
	pd_disp_free(d);

	/* credit never goes past slots + prefetch */
	d = mk_start(0, 64, 2, 0, 3, 0, 2);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 100), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 2), 0);
	for (int k = 0; k < 20; k++) {
		n = pd_disp_next(d, &a, ids, 64);
		for (size_t i = 0; i < n; i++)
			pd_disp_complete(d, 1, ids[i], 1, 0);
		CU_ASSERT(n <= 4);
	}
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 64), 4);
	pd_disp_free(d);
	free(ids);
}

struct held_log {
	uint64_t task[8];
	uint32_t attempt[8];
	size_t n;
};

static void held_cb(void *arg, uint64_t task, uint32_t attempt)
{
	struct held_log *h = arg;

	if (h->n < 8) {
		h->task[h->n] = task;
		h->attempt[h->n] = attempt;
	}
	h->n++;
}

/* who holds what: the controller checks a result against it */
static void test_holder(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	struct held_log h = {{0}, {0}, 0};
	uint32_t who = 0;
	uint64_t *lost;
	size_t nlost;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 0, 1, &who), 0); /* queued */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 5, 3), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 5);
	CU_ASSERT_EQUAL(next1(d, NULL), 5);
	CU_ASSERT_EQUAL(next1(d, NULL), 5);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 1, 1, &who), 1);
	CU_ASSERT_EQUAL(who, 5);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 1, 2, &who), 0); /* another attempt */
	CU_ASSERT_EQUAL(pd_disp_holder(d, 3, 1, &who), 0); /* still queued */
	CU_ASSERT_EQUAL(pd_disp_holder(d, 99, 1, &who), 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 5, 0, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 0, 1, &who), 0); /* done */
	/* settled while held: still held, so its report is its own */
	CU_ASSERT_EQUAL(pd_disp_settle(d, 2), 1);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 2, 1, &who), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_held(d, 5, held_cb, &h), 0);
	CU_ASSERT_EQUAL_FATAL(h.n, 2);
	CU_ASSERT(h.task[0] == 1 && h.attempt[0] == 1);
	CU_ASSERT(h.task[1] == 2 && h.attempt[1] == 1);
	CU_ASSERT_EQUAL(pd_disp_agent_held(d, 6, held_cb, &h), -ENOENT);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 5, &lost, &nlost), 0);
	free(lost);
	CU_ASSERT_EQUAL(pd_disp_holder(d, 1, 1, &who), 0); /* requeued as attempt 2 */
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), 2);
	pd_disp_free(d);
}

static void test_crash_limit(void)
{
	pd_disp *d = mk(0, 8, 0, 0, 0, 0);
	uint64_t ids[8], *lost;
	size_t nlost, n;
	uint32_t a;
	int round;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 5), 0);
	for (round = 1; round <= 3; round++) {
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 10, 1), 0);
		n = pd_disp_next(d, &a, ids, 3);
		CU_ASSERT_EQUAL(n, 3);
		CU_ASSERT_EQUAL(ids[0], 0);
		CU_ASSERT_EQUAL(ids[1], 1);
		CU_ASSERT_EQUAL(ids[2], 2);
		CU_ASSERT_EQUAL(pd_disp_attempt(d, 1), (uint32_t)round);
		if (round == 3)
			CU_ASSERT_EQUAL(pd_disp_complete(d, 10, 1, 3, 0), PD_DISP_DONE);
		lost = NULL;
		nlost = 0;
		CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 10, &lost, &nlost), 0);
		if (round < 3) {
			CU_ASSERT_EQUAL(nlost, 0);
			CU_ASSERT_PTR_NULL(lost);
			CU_ASSERT_EQUAL(pd_disp_finished(d), 0);
		} else {
			CU_ASSERT_EQUAL_FATAL(nlost, 2);
			CU_ASSERT_FATAL(lost != NULL);
			CU_ASSERT_EQUAL(lost[0], 0);
			CU_ASSERT_EQUAL(lost[1], 2);
			free(lost);
		}
	}
	CU_ASSERT_EQUAL(pd_disp_finished(d), 3);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 2);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT_EQUAL(pd_disp_attempt(d, 0), 3);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 10, 0, 3, 0), PD_DISP_STALE);
	/* lost tasks are never handed out again */
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 11, 1), 0);
	n = pd_disp_next(d, &a, ids, 8);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(ids[0], 3);
	CU_ASSERT_EQUAL(ids[1], 4);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 11, 3, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 11, 4, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_finished(d), pd_disp_total(d));
	pd_disp_free(d);

	/* crash_limit 1: first loss is final; NULL out-pointers accepted */
	d = mk(0, 1, 0, 0, 1, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 2), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(next1(d, NULL), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 1);
	pd_disp_free(d);
}

static void test_drain(void)
{
	pd_disp *d = mk(0, 1, 0, 0, 0, 0);
	uint64_t id, got[2] = { 0, 0 };

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 4), 0);
	CU_ASSERT_EQUAL(next1(d, &got[0]), 1);
	CU_ASSERT_EQUAL(next1(d, &got[1]), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(next1(d, &id), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 2), 0);
	CU_ASSERT_EQUAL(next1(d, &id), -1);
	/* outstanding work of a draining agent still completes */
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, got[0], 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), -1);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 3, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), 3);
	pd_disp_free(d);

	d = mk(1, 1, 0, 4, 0, 0);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 10), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 4), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_drain(d, 1), 0);
	CU_ASSERT_EQUAL(next1(d, &id), -1);
	pd_disp_free(d);
}

static void test_counters(void)
{
	pd_disp *d = mk(0, 2, 0, 0, 0, 1);
	uint64_t ids[4];
	uint32_t a;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_total(d), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, 7), 0);
	CU_ASSERT_EQUAL(pd_disp_total(d), 7);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 7);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 1, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 2, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 2);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 4), 2);
	CU_ASSERT_EQUAL(a, 1);
	CU_ASSERT_EQUAL(pd_disp_next(d, &a, ids, 4), 2);
	CU_ASSERT_EQUAL(a, 2);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 3);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 4);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 1), 2);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 99), 0);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 0, 1, 0), PD_DISP_DONE);
	CU_ASSERT_EQUAL(pd_disp_complete(d, 1, 1, 1, 1), PD_DISP_RETRY);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 4);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 2);
	CU_ASSERT_EQUAL(pd_disp_finished(d), 1);
	CU_ASSERT_EQUAL(pd_disp_agent_remove(d, 2, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 6);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 1);
	CU_ASSERT_EQUAL(pd_disp_total(d), 7);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 7, 3), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 9);
	CU_ASSERT_EQUAL(pd_disp_total(d), 10);
	pd_disp_free(d);
}

/* ---- randomised simulation against a model ---- */

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

enum { M_QUEUED, M_OUT, M_DONE, M_LOST };

struct m_task {
	int state;
	uint32_t owner, attempt, loss, fails;
	uint64_t seq; /* handout order */
	int ended;
	size_t opos; /* index in the outstanding list */
};

struct m_agent {
	uint32_t id, slots, out;
	uint64_t addseq;
	int draining;
};

struct stale { uint32_t agent, attempt; uint64_t task; };

struct model {
	pd_disp_opts o;
	struct m_task *t;
	uint64_t total, done, qhead, qlen, qcap, hand;
	uint64_t *q;
	uint64_t *outl;
	size_t nout;
	struct m_agent ag[64];
	size_t nag;
	uint64_t addseq, last_served;
	int served_any;
	struct stale st[256];
	size_t nst;
};

#define SIM_CHECK(c) CU_ASSERT_FATAL(c)

static void m_push_back(struct model *m, uint64_t id)
{
	m->q[(m->qhead + m->qlen++) % m->qcap] = id;
}

static void m_push_front(struct model *m, uint64_t id)
{
	m->qhead = (m->qhead + m->qcap - 1) % m->qcap;
	m->q[m->qhead] = id;
	m->qlen++;
}

static struct m_agent *m_agent(struct model *m, uint32_t id)
{
	size_t i;

	for (i = 0; i < m->nag; i++)
		if (m->ag[i].id == id)
			return &m->ag[i];
	return NULL;
}

static void m_out_del(struct model *m, uint64_t task)
{
	size_t i = m->t[task].opos;

	m->outl[i] = m->outl[--m->nout];
	m->t[m->outl[i]].opos = i;
}

static void m_stale(struct model *m, uint32_t agent, uint64_t task, uint32_t attempt)
{
	struct stale *s = &m->st[m->nst < 256 ? m->nst++ : rndn(256)];

	s->agent = agent;
	s->task = task;
	s->attempt = attempt;
}

static struct m_agent *m_pick(struct model *m)
{
	struct m_agent *best = NULL, *first = NULL, *after = NULL, *a;
	uint64_t lim;
	size_t i;

	for (i = 0; i < m->nag; i++) {
		a = &m->ag[i];
		lim = m->o.round_robin ? (uint64_t)a->slots * m->o.rr_window
				       : (uint64_t)a->slots + m->o.prefetch;
		if (a->draining || a->out >= lim)
			continue;
		if (m->o.round_robin) {
			/* ag[] is kept in add order */
			if (!first)
				first = a;
			if (!after && (!m->served_any || a->addseq > m->last_served))
				after = a;
			continue;
		}
		if (!best || (uint64_t)a->out * best->slots < (uint64_t)best->out * a->slots ||
		    ((uint64_t)a->out * best->slots == (uint64_t)best->out * a->slots &&
		     a->id < best->id))
			best = a;
	}
	if (m->o.round_robin)
		return after ? after : first;
	return best;
}

static void check_counts(pd_disp *d, struct model *m)
{
	size_t i;

	SIM_CHECK(pd_disp_queued(d) == m->qlen);
	SIM_CHECK(pd_disp_outstanding(d) == m->nout);
	SIM_CHECK(pd_disp_finished(d) == m->done);
	SIM_CHECK(pd_disp_total(d) == m->total);
	SIM_CHECK(pd_disp_agents(d) == m->nag);
	for (i = 0; i < m->nag; i++)
		SIM_CHECK(pd_disp_agent_outstanding(d, m->ag[i].id) == m->ag[i].out);
}

static struct m_task *sort_base;

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = sort_base[*(const uint64_t *)a].seq;
	uint64_t y = sort_base[*(const uint64_t *)b].seq;

	return x < y ? -1 : x > y;
}

static void sim_next(pd_disp *d, struct model *m)
{
	struct m_agent *want = m_pick(m);
	uint64_t ids[8];
	size_t n, max = 1 + rndn(8), k, i;
	uint32_t a = 0;
	uint64_t lim;

	n = pd_disp_next(d, &a, ids, max);
	if (!want || !m->qlen) {
		SIM_CHECK(n == 0);
		return;
	}
	SIM_CHECK(n > 0);
	SIM_CHECK(a == want->id);
	lim = m->o.round_robin ? (uint64_t)want->slots * m->o.rr_window
			       : (uint64_t)want->slots + m->o.prefetch;
	k = max;
	if (k > m->o.chunk)
		k = m->o.chunk;
	if (k > lim - want->out)
		k = lim - want->out;
	if (k > m->qlen)
		k = m->qlen;
	SIM_CHECK(n == k);
	for (i = 0; i < n; i++) {
		struct m_task *t = &m->t[ids[i]];

		SIM_CHECK(ids[i] < m->total);
		SIM_CHECK(ids[i] == m->q[m->qhead]);
		SIM_CHECK(t->state == M_QUEUED);
		SIM_CHECK(pd_disp_attempt(d, ids[i]) == t->attempt);
		m->qhead = (m->qhead + 1) % m->qcap;
		m->qlen--;
		t->state = M_OUT;
		t->owner = a;
		t->seq = m->hand++;
		t->opos = m->nout;
		m->outl[m->nout++] = ids[i];
	}
	want->out += n;
	m->last_served = want->addseq;
	m->served_any = 1;
}

static void sim_complete(pd_disp *d, struct model *m)
{
	uint64_t id = m->outl[rndn(m->nout)];
	struct m_task *t = &m->t[id];
	int failed = rndn(4) == 0, rv, want;

	rv = pd_disp_complete(d, t->owner, id, t->attempt, failed);
	m_stale(m, t->owner, id, t->attempt);
	m_agent(m, t->owner)->out--;
	m_out_del(m, id);
	if (failed && t->fails < m->o.retries) {
		want = PD_DISP_RETRY;
		t->fails++;
		t->attempt++;
		t->state = M_QUEUED;
		m_push_back(m, id);
	} else {
		want = PD_DISP_DONE;
		t->state = M_DONE;
		t->ended++;
		m->done++;
	}
	SIM_CHECK(rv == want);
}

static void sim_remove(pd_disp *d, struct model *m, size_t idx)
{
	struct m_agent *a = &m->ag[idx];
	uint64_t *mine, *lost = NULL;
	size_t n = 0, nl = 0, nlost = 0, i;
	int rv;

	mine = malloc((m->nout + 1) * sizeof(*mine));
	SIM_CHECK(mine != NULL);
	for (i = 0; i < m->nout; i++)
		if (m->t[m->outl[i]].owner == a->id)
			mine[n++] = m->outl[i];
	sort_base = m->t;
	qsort(mine, n, sizeof(*mine), cmp_seq);
	rv = pd_disp_agent_remove(d, a->id, &lost, &nlost);
	SIM_CHECK(rv == 0);
	for (i = 0; i < n; i++) {
		struct m_task *t = &m->t[mine[i]];

		m_stale(m, a->id, mine[i], t->attempt);
		m_out_del(m, mine[i]);
		t->loss++;
		if (t->loss >= m->o.crash_limit) {
			SIM_CHECK(nl < nlost);
			SIM_CHECK(lost[nl] == mine[i]);
			nl++;
			t->state = M_LOST;
			t->ended++;
			m->done++;
		}
	}
	SIM_CHECK(nl == nlost);
	SIM_CHECK((lost == NULL) == (nlost == 0));
	free(lost);
	for (i = n; i-- > 0;) {
		struct m_task *t = &m->t[mine[i]];

		if (t->state == M_LOST)
			continue;
		t->attempt++;
		t->state = M_QUEUED;
		m_push_front(m, mine[i]);
	}
	free(mine);
	memmove(&m->ag[idx], &m->ag[idx + 1], (m->nag - idx - 1) * sizeof(m->ag[0]));
	m->nag--;
}

static void sim_add_agent(pd_disp *d, struct model *m)
{
	struct m_agent *a;
	uint32_t id;

	if (m->nag == 64)
		return;
	do
		id = rndn(4) ? rndn(100) : (uint32_t)rnd();
	while (m_agent(m, id));
	a = &m->ag[m->nag++];
	a->id = id;
	a->slots = 1 + rndn(6);
	a->out = 0;
	a->draining = 0;
	a->addseq = m->addseq++;
	SIM_CHECK(pd_disp_agent_add(d, id, a->slots) == 0);
	SIM_CHECK(pd_disp_agent_add(d, id, 1) == -EEXIST);
}

static size_t live_agents(const struct model *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nag; i++)
		n += !m->ag[i].draining;
	return n;
}

static void run_sim(uint64_t seed, int rr)
{
	struct model *m = calloc(1, sizeof(*m));
	uint64_t cap = 6000, i;
	pd_disp *d;
	int step, op;

	CU_ASSERT_FATAL(m != NULL);
	rng = seed;
	m->o.round_robin = rr;
	m->o.chunk = 1 + rndn(5);
	m->o.prefetch = 1 + rndn(3);
	m->o.rr_window = 1 + rndn(4);
	m->o.crash_limit = 1 + rndn(4);
	m->o.retries = rndn(3);
	d = pd_disp_new(&m->o);
	CU_ASSERT_FATAL(d != NULL);
	m->t = calloc(cap, sizeof(*m->t));
	m->q = malloc(cap * sizeof(*m->q));
	m->outl = malloc(cap * sizeof(*m->outl));
	m->qcap = cap;
	CU_ASSERT_FATAL(m->t && m->q && m->outl);

	for (step = 0; step < 40000 || m->done < m->total; step++) {
		int ending = step >= 40000;

		op = rndn(100);
		if (ending && !m->nag)
			op = 0;
		else if (ending && op < 12)
			op = 40;
		if (op < 3) {
			sim_add_agent(d, m);
		} else if (op < 6) {
			if (m->nag)
				sim_remove(d, m, rndn(m->nag));
		} else if (op < 7) {
			if (m->nag) {
				struct m_agent *a = &m->ag[rndn(m->nag)];

				a->draining = 1;
				SIM_CHECK(pd_disp_agent_drain(d, a->id) == 0);
			}
		} else if (op < 8) {
			uint64_t n = rndn(40);

			if (m->total + n <= cap) {
				SIM_CHECK(pd_disp_add_tasks(d, m->total, n) == 0);
				for (i = m->total; i < m->total + n; i++) {
					m->t[i].attempt = 1;
					m_push_back(m, i);
				}
				m->total += n;
			}
		} else if (op < 12) {
			if (m->nst) {
				struct stale *s = &m->st[rndn((uint32_t)m->nst)];
				uint64_t f = pd_disp_finished(d);
				size_t q = pd_disp_queued(d);

				SIM_CHECK(pd_disp_complete(d, s->agent, s->task, s->attempt,
							   (int)rndn(2)) == PD_DISP_STALE);
				SIM_CHECK(pd_disp_finished(d) == f);
				SIM_CHECK(pd_disp_queued(d) == q);
			}
		} else if (op < 50) {
			if (m->nout)
				sim_complete(d, m);
		} else {
			sim_next(d, m);
		}
		/* keep enough working agents around to finish */
		if (ending && live_agents(m) < 2) {
			if (m->nag == 64)
				sim_remove(d, m, 0);
			sim_add_agent(d, m);
		}
		check_counts(d, m);
		SIM_CHECK(step < 1000000);
	}
	for (i = 0; i < m->total; i++) {
		SIM_CHECK(m->t[i].ended == 1);
		SIM_CHECK(m->t[i].state == M_DONE || m->t[i].state == M_LOST);
		SIM_CHECK(pd_disp_attempt(d, i) == m->t[i].attempt);
	}
	SIM_CHECK(pd_disp_finished(d) == pd_disp_total(d));
	SIM_CHECK(pd_disp_queued(d) == 0 && pd_disp_outstanding(d) == 0);
	pd_disp_free(d);
	free(m->t);
	free(m->q);
	free(m->outl);
	free(m);
}

static void test_sim_dispatcher(void)
{
	uint64_t s;

	for (s = 1; s <= 12; s++)
		run_sim(0x9e3779b97f4a7c15ULL * s, 0);
}

static void test_sim_round_robin(void)
{
	uint64_t s;

	for (s = 1; s <= 12; s++)
		run_sim(0xc2b2ae3d27d4eb4fULL * s, 1);
}

/* many agents: the pick must not scan them all per task */
static void test_many_agents(void)
{
	pd_disp *d = mk(0, 1, 1, 0, 0, 0);
	uint64_t id, got, n = 300000, nout;
	uint32_t i, *owner;
	clock_t t0 = clock();
	long ag;
	int ok = 1;

	CU_ASSERT_FATAL(d != NULL);
	owner = malloc(n * sizeof(*owner));
	CU_ASSERT_FATAL(owner != NULL);
	for (i = 0; i < 10000; i++)
		CU_ASSERT_EQUAL_FATAL(pd_disp_agent_add(d, i * 7919u, 1 + i % 4), 0);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, n), 0);
	/* fill everyone up to slots + 1 */
	for (id = 0; (ag = next1(d, &got)) >= 0; id++) {
		ok &= got == id;
		owner[got] = (uint32_t)ag;
	}
	nout = id;
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(nout, 10000 + 25000);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), nout);
	/* each completion frees exactly one agent, which must get the next */
	for (id = 0; id < n; id++) {
		ok &= pd_disp_complete(d, owner[id], id, 1, 0) == PD_DISP_DONE;
		if (id + nout < n) {
			ag = next1(d, &got);
			ok &= ag == (long)owner[id] && got == id + nout;
			owner[got] = owner[id];
		}
		if (!ok)
			break;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(pd_disp_finished(d), n);
	for (i = 0; i < 10000; i += 2)
		CU_ASSERT_EQUAL_FATAL(pd_disp_agent_remove(d, i * 7919u, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 5000);
	CU_ASSERT_EQUAL(pd_disp_agent_outstanding(d, 0), 0);
	CU_ASSERT_EQUAL(pd_disp_agent_add(d, 0, 1), 0);
	CU_ASSERT_EQUAL(pd_disp_agents(d), 5001);
	pd_disp_free(d);
	free(owner);
	CU_ASSERT((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
}

static void test_million(int rr)
{
	pd_disp *d = mk(rr, 64, 0, 0, 0, 0);
	uint64_t n = 1000000, ids[64], expect = 0;
	uint32_t a, i;
	size_t k, j;
	clock_t t0 = clock();
	int ok = 1;

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(pd_disp_add_tasks(d, 0, n), 0);
	CU_ASSERT_EQUAL(pd_disp_queued(d), n);
	for (i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(pd_disp_agent_add(d, 100 + i, 8), 0);
	while (pd_disp_finished(d) < n) {
		k = pd_disp_next(d, &a, ids, 64);
		if (!k) {
			ok = 0;
			break;
		}
		for (j = 0; j < k; j++) {
			ok &= ids[j] == expect++;
			ok &= pd_disp_complete(d, a, ids[j], 1, 0) == PD_DISP_DONE;
		}
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(pd_disp_finished(d), n);
	CU_ASSERT_EQUAL(pd_disp_queued(d), 0);
	CU_ASSERT_EQUAL(pd_disp_outstanding(d), 0);
	pd_disp_free(d);
	CU_ASSERT((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
}

static void test_million_dispatcher(void)
{
	test_million(0);
}

static void test_million_round_robin(void)
{
	test_million(1);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "defaults", test_defaults },
		{ "errors", test_errors },
		{ "fifo", test_fifo },
		{ "credit", test_credit },
		{ "least_loaded", test_least_loaded },
		{ "round_robin", test_round_robin },
		{ "chunk", test_chunk },
		{ "retries", test_retries },
		{ "remove_requeue", test_remove_requeue },
		{ "requeue_after_retry_order", test_requeue_after_retry_order },
		{ "crash_limit", test_crash_limit },
		{ "slow_start", test_slow_start },
		{ "holder", test_holder },
		{ "drain", test_drain },
		{ "counters", test_counters },
		{ "sim_dispatcher", test_sim_dispatcher },
		{ "sim_round_robin", test_sim_round_robin },
		{ "many_agents", test_many_agents },
		{ "million_dispatcher", test_million_dispatcher },
		{ "million_round_robin", test_million_round_robin },
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dispatch", NULL, NULL);
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
