/* srv_results.c - the controller core (server_int.h): results from
 * agents, checked before they decide a task, and the note of what an agent
 * held when it left (held.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

/* pd_disp_agent_held callback: the agent (arg) leaves holding this */
void srv_note_held(void *arg, uint64_t task, uint32_t attempt)
{
	srv_agent *a = arg;
	pd_server *s = a->srv;

	if (pd_held_put(s->held, task, attempt, a->who) < 0 && !s->held_full) {
		s->held_full = 1;
		pd_warn("cannot note every task held by agents that left (%u noted): late "
		        "results of the others will be refused",
		        PD_HELD_MAX);
	}
}

/* A result for (task, attempt) that `a` does not hold now: whether it may
 * be a late report of its own (see held.h). */
static int late_ok(pd_server *s, const srv_agent *a, const pd_result_msg *r)
{
	uint32_t holder;

	if (pd_disp_holder(s->disp, r->id, r->attempt, &holder)) {
		/* the same agent on a connection this controller has not seen
		 * end yet (it reconnected first) */
		const srv_agent *b = holder < s->nagents_cap ? s->agents[holder] : NULL;
		return b && b->who == a->who;
	}
	if (pd_held_get(s->held, r->id, r->attempt) == a->who)
		return 1;
	/* an attempt handed out before a restart: the journal does not tell
	 * this controller which agent held it (see docs/security.md) */
	return r->id < s->ncarried && r->attempt < s->carried[r->id];
}

/* 0 when r may be taken from a; 1 when it is to be ignored (a late report
 * this controller could not note, see note_held); else -EPROTO with why */
static int result_valid(pd_server *s, const srv_agent *a, const pd_result_msg *r, char *why,
                        size_t whylen)
{
	char bad[200];
	uint32_t holder;

	if (r->id >= pd_disp_total(s->disp)) {
		snprintf(why, whylen, "protocol error: result for task %llu of %llu",
		         (unsigned long long)r->id, (unsigned long long)pd_disp_total(s->disp));
		return -EPROTO;
	}
	if (pd_result_check(r, s->o.out_limit, bad, sizeof(bad)) < 0) {
		snprintf(why, whylen, "protocol error: result for task %llu: %s",
		         (unsigned long long)r->id, bad);
		return -EPROTO;
	}
	if ((pd_disp_holder(s->disp, r->id, r->attempt, &holder) && holder == a->id) ||
	    late_ok(s, a, r))
		return 0;
	/* a late report of a finished task whose notes were dropped
	 * (pd_held_settle): it can change nothing, and may be its holder's */
	if (pd_held_settled(s->held, r->id))
		return 1;
	/* cannot be judged: the note of who held what is full, or a restarted
	 * controller found no attempt of this task in its journal (the last
	 * ones may not have reached the disk before the crash); not taken.
	 * Unless another agent holds the task now: then a cannot have it. */
	if (s->held_full || (s->carried && r->id < s->ncarried && s->carried[r->id] == 0)) {
		const srv_agent *b = NULL;
		uint32_t cur = pd_disp_attempt(s->disp, r->id);

		if (pd_disp_holder(s->disp, r->id, cur, &holder))
			b = holder < s->nagents_cap ? s->agents[holder] : NULL;
		if (!b || b->who == a->who)
			return 1;
		snprintf(why, whylen,
		         "protocol error: result for task %llu attempt %u, which agent %s holds",
		         (unsigned long long)r->id, r->attempt, b->name);
		return -EPROTO;
	}
	snprintf(why, whylen,
	         "protocol error: result for task %llu attempt %u, which this agent does not "
	         "hold and did not hold",
	         (unsigned long long)r->id, r->attempt);
	return -EPROTO;
}

void srv_on_results(srv_agent *a, const uint8_t *p, size_t n)
{
	pd_server *s = a->srv;
	pd_result_msg **rs = NULL;
	uint32_t count = 0;
	int rv;

	if (pd_results_decode(p, n, &rs, &count) < 0) {
		pd_conn_close(a->conn, "protocol error: malformed RESULTS");
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		pd_result_msg *r = rs[i];
		char bad[300];

		if (!pd_conn_is_ready(a->conn)) {
			free(r); /* the rest of the frame goes with the peer */
			continue;
		}
		rv = result_valid(s, a, r, bad, sizeof(bad));
		if (rv != 0) {
			if (rv < 0)
				pd_conn_close(a->conn, bad);
			else
				pd_debug(
				    "task %llu: report of attempt %u from %s ignored: who held "
				    "it is not known",
				    (unsigned long long)r->id, r->attempt, a->name);
			free(r);
			continue;
		}
		/* an agent reports "lost" when the handler died under the task
		 * (a coprocess): that spends the crash limit, not --retries */
		int end = r->status == PD_ST_OK     ? PD_END_OK
		          : r->status == PD_ST_LOST ? PD_END_CRASHED
		                                    : PD_END_FAILED;
		int out = pd_disp_complete(s->disp, a->id, r->id, r->attempt, end);
		char msg[512];

		if (out == PD_DISP_DONE && end == PD_END_CRASHED) {
			snprintf(msg, sizeof(msg), "%s; the crash limit (%u) is reached",
			         r->error && *r->error ? r->error : "its handler crashed",
			         s->o.disp.crash_limit);
			r->error = msg;
		}

		/* a success reported from an earlier connection still counts
		 * when the task has no result yet: the work was done. A late
		 * failure does not: the task was requeued and its current
		 * attempt, with the retries left, decides. */
		if (out == PD_DISP_STALE && r->status == PD_ST_OK &&
		    r->id < pd_disp_total(s->disp) && pd_disp_settle(s->disp, r->id) == 1) {
			pd_debug("task %llu: late result of attempt %u from %s taken",
			         (unsigned long long)r->id, r->attempt, a->name);
			out = PD_DISP_DONE;
		} else if (out == PD_DISP_STALE && r->status != PD_ST_OK) {
			pd_debug("task %llu: late %s result of attempt %u from %s ignored",
			         (unsigned long long)r->id, pd_status_name(r->status), r->attempt,
			         a->name);
		}
		if (out == PD_DISP_DONE) {
			a->done++;
			s->cb.on_result(s->arg, r, a->name);
			/* finished: the notes of who held its attempts go (else
			 * they fill the table over a long run); keeps them if
			 * out of memory */
			pd_held_settle(s->held, r->id);
		} else if (out == PD_DISP_RETRY)
			pd_debug("task %llu attempt %u %s; retrying", (unsigned long long)r->id,
			         r->attempt, pd_status_name(r->status));
		free(r);
	}
	free(rs);
	srv_dispatch_later(s);
}
