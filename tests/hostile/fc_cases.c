/* fc_cases.c - the fake controller's crafted cases (fc.h): malformed
 * frames the agent must drop the controller for, a frame of tasks that
 * all finish at once, a WELCOME of another version, and the reconnection
 * backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "codec.h"
#include "fc.h"
#include "fc_frames.h"

/* One crafted malformed frame on a welcomed connection: the agent must
 * drop the controller and dial again. */
static peer *crafted_drop(peer *pe, const char *name, const pd_buf *b)
{
	int got;

	if (!pe)
		return NULL;
	send_raw(pe, b);
	got = outcome(pe);
	pe = settle(pe, got, name);
	expect(got == DROPPED && pe, name,
	       got != DROPPED ? outcome_name[got]
	       : pe           ? "dropped the controller, dialled again"
	                      : "dropped the controller, did not dial again");
	return pe;
}

peer *fc_crafted(peer *pe)
{
	pd_buf b = {0};
	size_t mark;
	int got;
	char detail[200];

	/* 1. 32,768 tasks for one slot: refused, not queued (and no crash) */
	pd_buf_reset(&b);
	fc_flood(&b, FLOOD, 0);
	pe = crafted_drop(pe, "32768 echo tasks to an agent with 1 slot", &b);
	if (pe)
		expect(grep_log("holds at most"), "the agent's log names the task limit", NULL);

	/* 2. malformed headers and payloads */
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 0, 0, 0);
	pe = crafted_drop(pe, "frame of type 0", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 0, 200, 0);
	pe = crafted_drop(pe, "frame of type 200", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 8, PD_MSG_PING, 7);
	pd_put_u64(&b, 1);
	pe = crafted_drop(pe, "PING with a non-zero reserved byte", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 0xFFFFFFF0u, PD_MSG_TASKS, 0);
	pe = crafted_drop(pe, "TASKS frame declaring 4 GiB", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 4, PD_MSG_TASKS, 0);
	pd_put_u32(&b, 4000000000u);
	pe = crafted_drop(pe, "TASKS declaring 4e9 tasks in 4 bytes", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 12, PD_MSG_TASKS, 0);
	pd_put_u32(&b, 1);
	pd_put_u64(&b, 7);
	pe = crafted_drop(pe, "TASKS cut short", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 4 + 8 + 4 + 1 + 4 + 4 + 4, PD_MSG_TASKS, 0);
	pd_put_u32(&b, 1);
	pd_put_u64(&b, 7);
	pd_put_u32(&b, 1);
	pd_put_u8(&b, PD_TASK_ECHO);
	pd_put_u32(&b, 0);
	pd_put_u32(&b, 100);
	pd_put_u32(&b, 0xFFFFFFFFu);
	pe = crafted_drop(pe, "TASKS with argc 4294967295", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 4 + 8 + 4 + 1 + 4 + 4 + 4 + 4 + 2 + 1, PD_MSG_TASKS, 0);
	pd_put_u32(&b, 1);
	pd_put_u64(&b, 7);
	pd_put_u32(&b, 1);
	pd_put_u8(&b, PD_TASK_ECHO);
	pd_put_u32(&b, 0);
	pd_put_u32(&b, 100);
	pd_put_u32(&b, 1);
	pd_put_u32(&b, 2);
	pd_buf_append(&b, "abX", 3); /* no NUL after the string */
	pe = crafted_drop(pe, "TASKS with a string not ending in NUL", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 3, PD_MSG_PING, 0);
	pd_buf_append(&b, "abc", 3);
	pe = crafted_drop(pe, "PING of 3 bytes", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 5, PD_MSG_BYE, 0);
	pd_buf_append(&b, "bye!!", 5);
	pe = crafted_drop(pe, "BYE of 5 bytes", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 0, PD_MSG_BYE, 0);
	pe = crafted_drop(pe, "BYE without its exit status", &b);
	pd_buf_reset(&b);
	fc_frame_hdr(&b, 0, PD_MSG_RESULTS, 0);
	pe = crafted_drop(pe, "RESULTS sent to an agent", &b);
	pd_buf_reset(&b);
	{
		pd_hello h = {0, "x", "y", 1, 1, "manual", "", "", 0};
		pd_hello_encode(&b, &h);
	}
	pe = crafted_drop(pe, "HELLO sent to an agent", &b);
	pd_buf_reset(&b);
	{
		pd_welcome w = {PD_PROTO_VERSION, 1000, 1 << 20, "again", 0, {{0}}};
		pd_welcome_encode(&b, &w);
	}
	pe = crafted_drop(pe, "a second WELCOME", &b);

	/* 3. a frame that never ends: the agent's heartbeat check drops it */
	if (pe) {
		pd_buf_reset(&b);
		fc_frame_hdr(&b, 100, PD_MSG_TASKS, 0);
		pd_put_u32(&b, 1);
		send_raw(pe, &b);
		wait_until(agent_gone, NULL, 1000); /* let the PINGs stop */
		got = outcome(pe);
		expect(got == DROPPED, "a TASKS frame that never ends", outcome_name[got]);
		pe = settle(pe, got, "a TASKS frame that never ends");
	}

	/* 4. a frame of tasks that all finish at once, within the limit */
	pe = fresh_agent(4096);
	if (pe) {
		pd_buf_reset(&b);
		fc_flood(&b, FLOOD, 1);
		send_raw(pe, &b);
		wait_until(results_in, pe, 60000);
		got = outcome(pe);
		snprintf(detail, sizeof(detail), "%llu results, %s",
		         (unsigned long long)pe->results, outcome_name[got]);
		expect(pe->results == FLOOD && got == KEPT,
		       "32768 tasks that finish at once (echo, bad sleep, argc 0), 4096 slots",
		       detail);
		pe = settle(pe, got, "the 32768-task frame");
	}

	/* 5. a WELCOME of another protocol version: refused for good */
	agent_stop();
	agent_start(2);
	pe = wait_hello();
	if (pe) {
		send_welcome(pe, PD_PROTO_VERSION + 1, 1000);
		wait_until(agent_gone, NULL, WAIT_MS);
		snprintf(detail, sizeof(detail), "agent %s", describe_exit());
		expect(agent_exited && WIFEXITED(agent_status) && WEXITSTATUS(agent_status) == 3,
		       "WELCOME of another protocol version", detail);
		snprintf(detail, sizeof(detail), "version %u, this agent speaks version %u",
		         PD_PROTO_VERSION + 1, PD_PROTO_VERSION);
		expect(grep_log(detail), "the agent's log names both versions", detail);
		pe = NULL;
	}
	(void)mark;
	pd_buf_free(&b);
	return pe;
}

/* ---- a huge CANCEL ---- */

#define CANCEL_IDS (1u << 22) /* 32 MiB of ids */
#define SLEEPS 8000u
#define FIRST_ID 1000000u

static int cancels_in(void *arg)
{
	peer *pe = arg;

	return pe->cancelled >= 51 || pe->closed || agent_exited;
}

/* An agent with 1 slot holding 8,000 sleeps (1 running, 7,999 queued)
 * gets a CANCEL of 4,194,304 ids: the running task, 50 queued ones each
 * named twice, then ids it never had. It must answer the PING behind it
 * within WAIT_MS (an agent whose work grows with ids x tasks held needs
 * minutes), keep the connection and report exactly those 51 tasks
 * cancelled: no other task ends. */
peer *fc_huge_cancel(void)
{
	static char w[] = "3600";
	char *argv[] = {w, NULL};
	char detail[200];
	uint64_t *ids;
	pd_buf b = {0};
	size_t mark;
	peer *pe;
	int got;

	pe = fresh_agent(1);
	ids = malloc(CANCEL_IDS * sizeof(*ids));
	if (!pe || !ids) {
		expect(0, "a CANCEL of 4194304 ids: a fresh agent", describe_exit());
		free(ids);
		return pe;
	}
	pd_tasks_begin(&b, &mark);
	for (uint32_t i = 0; i < SLEEPS; i++) {
		pd_task_msg t = {FIRST_ID + i, 1, PD_TASK_SLEEP, 0, 4096, 1, argv};
		pd_tasks_add(&b, mark, &t);
	}
	pd_tasks_end(&b, mark);
	ids[0] = FIRST_ID; /* the one running */
	for (uint32_t k = 0; k < 50; k++)
		ids[1 + k] = ids[51 + k] = FIRST_ID + 1 + 2 * k;
	for (uint32_t i = 101; i < CANCEL_IDS; i++)
		ids[i] = 5000000000ull + i * 7ull;
	pd_cancel_encode(&b, ids, CANCEL_IDS);
	free(ids);
	send_raw(pe, &b);
	pd_buf_free(&b);
	got = outcome(pe);
	expect(got == KEPT,
	       "a CANCEL of 4194304 ids at an agent holding 8000 tasks: PING answered, kept",
	       outcome_name[got]);
	if (got != KEPT)
		return settle(pe, got, "a CANCEL of 4194304 ids");
	wait_until(cancels_in, pe, WAIT_MS);
	/* anything more would have come by a PING later */
	got = outcome(pe);
	snprintf(detail, sizeof(detail), "%llu result(s), %llu cancelled, %s",
		 (unsigned long long)pe->results, (unsigned long long)pe->cancelled,
		 outcome_name[got]);
	expect(got == KEPT && pe->results == 51 && pe->cancelled == 51,
	       "the CANCEL ended the running task and the 50 queued ones it named, no other",
	       detail);
	return settle(pe, got, "the huge CANCEL");
}

/* ---- reconnection backoff ---- */

/* Welcomes the next connection without giving it work; NULL unless the
 * agent answers a PING on it (so it has taken the WELCOME). */
static peer *idle_welcome(void)
{
	peer *pe = wait_hello();

	if (!pe)
		return NULL;
	send_welcome(pe, PD_PROTO_VERSION, 1000);
	return outcome(pe) == KEPT ? pe : NULL;
}

/* Drops pe; the milliseconds until the agent's next HELLO, or -1. */
static long redial_ms(peer *pe)
{
	uint64_t t0 = pd_now_us() / 1000;

	pd_conn_close(pe->c, "dropped by the fake controller");
	if (!wait_until(cur_hello, NULL, WAIT_MS) || agent_exited)
		return -1;
	return (long)(hello_ms - t0);
}

/* Welcomes and drops n connections in a row, no task on any; the
 * milliseconds before the last redial (-1: none). gaps gets them all. */
static long idle_drops(unsigned n, char *gaps, size_t len)
{
	long gap = -1;
	size_t used = strlen(gaps);

	for (unsigned i = 0; i < n; i++) {
		peer *pe = idle_welcome();
		if (!pe)
			return -1;
		gap = redial_ms(pe);
		if (used < len)
			used += (size_t)snprintf(gaps + used, len - used, "%s%ld", used ? " " : "",
			                         gap);
		if (gap < 0)
			return -1;
	}
	return gap;
}

/* A controller that welcomes the agent and drops it at once must see it
 * dial ever more slowly (100 ms doubled per drop, jitter 50-150 %: after
 * 6 such drops at least 1.6 s; an agent that resets its backoff at each
 * WELCOME dials again within 150 ms), and quickly again after a
 * connection that lasted 5 s or brought a task (the backoff would be at
 * its 5 s cap: at least 2.5 s). */
void fc_backoff_cases(void)
{
	char gaps[256] = "", detail[400];
	peer *pe;
	long gap;

	agent_stop();
	agent_start(1);
	pe = welcomed();
	if (!pe || redial_ms(pe) < 0) {
		expect(0, "backoff: a fresh agent", describe_exit());
		return;
	}
	gap = idle_drops(6, gaps, sizeof(gaps));
	snprintf(detail, sizeof(detail), "ms before each redial: %s", gaps);
	expect(gap >= 1000, "a controller that welcomes and drops at once: dialled more slowly",
	       detail);
	pe = idle_welcome();
	gap = -1;
	if (pe) {
		wait_until(never, NULL, 5200);
		gap = pe->closed ? -1 : redial_ms(pe);
	}
	snprintf(detail, sizeof(detail), "redial after %ld ms", gap);
	expect(gap >= 0 && gap < 1000, "after a connection of 5 s: dialled again at once", detail);
	gaps[0] = 0;
	gap = idle_drops(6, gaps, sizeof(gaps));
	pe = gap >= 0 ? welcomed() : NULL;
	gap = pe ? redial_ms(pe) : -1;
	snprintf(detail, sizeof(detail), "redial after %ld ms (before: %s)", gap, gaps);
	expect(gap >= 0 && gap < 1000,
	       "after a connection that brought a task: dialled again at once", detail);
}
