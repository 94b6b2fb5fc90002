/* client.c - the agent runtime (client.h): the tasks it is sent, their
 * results, the exit rules and the frames from the controller; the
 * connection itself is client_link.c (client_int.h holds what they
 * share). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "client_int.h"
#include "codec.h"
#include "log.h"
#include "session.h"

void cl_finish(agent *a, int code)
{
	a->exit_code = code;
	pd_loop_stop(a->loop);
}

int cl_refused(const agent *a)
{
	return a->o->follow ? 2 : 3;
}

/* ---- results ---- */

/* Welcomed on a connection that is not closing: what is written to it now
 * can reach the controller. */
static int online(const agent *a)
{
	return a->conn && a->welcomed && pd_conn_is_ready(a->conn);
}

/* Ends the RESULTS frame being built, if any; it stays in `unsent`. */
static void end_results(agent *a)
{
	if (a->nunsent && pd_results_end(&a->unsent, a->umark) < 0)
		pd_err("%u result(s) lost: RESULTS frame too large", a->nunsent);
	a->nunsent = 0;
}

static void send_results(pd_loop *l, void *arg)
{
	agent *a = arg;

	(void)l;
	a->flush_queued = 0;
	/* a closing connection would swallow them: keep them for the next */
	if (!online(a))
		return;
	end_results(a);
	if (!pd_buf_size(&a->unsent))
		return;
	if (pd_buf_append(pd_conn_out(a->conn), pd_buf_head(&a->unsent),
			  pd_buf_size(&a->unsent)) < 0) {
		pd_err("out of memory sending results");
		return;
	}
	pd_buf_reset(&a->unsent);
	pd_conn_flush(a->conn);
}

static void on_result(agent *a, const pd_result_msg *r)
{
	if (!a->nunsent && pd_results_begin(&a->unsent, &a->umark) < 0) {
		pd_err("out of memory keeping a result");
	} else if (pd_results_add(&a->unsent, a->umark, r) < 0) {
		/* the codec drops the whole frame being built */
		pd_err("out of memory keeping a result: %u result(s) lost", a->nunsent + 1);
		a->nunsent = 0;
	} else {
		a->nunsent++;
		/* keep frames well under the controller's limit, also while
		 * they pile up with no controller to take them */
		if (pd_buf_size(&a->unsent) - a->umark > a->max_frame / 4) {
			end_results(a);
			send_results(a->loop, a);
		}
	}
	a->running--;
	a->done++;
	a->idle_since = pd_loop_now(a->loop);
	if (!a->flush_queued && pd_loop_defer(a->loop, send_results, a) == 0)
		a->flush_queued = 1;
	cl_pump(a);
}

/* The one result callback of every handler kind. */
static void handler_done(void *arg, const pd_result_msg *r)
{
	on_result(arg, r);
}

/* A task that could not start: failed, with why. */
static void start_failed(agent *a, const pd_task_msg *t, const char *why)
{
	pd_result_msg r;

	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.attempt = t->attempt;
	r.status = PD_ST_FAILED;
	r.exit_code = -1;
	r.out = r.err = "";
	r.error = (char *)why;
	on_result(a, &r);
}

/* Takes no new work from now on and tells the controller so. */
void cl_start_drain(agent *a)
{
	a->stopping = 1;
	if (a->conn && a->welcomed) {
		pd_frame_empty(pd_conn_out(a->conn), PD_MSG_DRAIN);
		pd_conn_flush(a->conn);
	}
}

/* Starts one task with its kind's handler; its result may come back
 * before this returns. */
static void start_task(agent *a, pd_task_msg *t)
{
	char err[300];

	a->running++;
	if (pd_handlers_start(a->handlers, t, err, sizeof(err)) < 0)
		start_failed(a, t, err);
}

/* Starts queued tasks while slots are free, at most PUMP_BUDGET now and
 * the rest from pump_timer; applies the exit rules. A result that comes
 * back while a task starts calls cl_pump() again: that inner call returns at
 * once and the loop here goes on, so the stack stays flat however many
 * tasks finish at once. */
void cl_pump(agent *a)
{
	const pd_agent_opts *o = a->o;
	unsigned started = 0;

	if (a->pumping)
		return;
	a->pumping = 1;
	while (a->queue.len && a->running < o->slots && started < PUMP_BUDGET) {
		pd_task_msg *t = pd_taskq_pop(&a->queue);

		started++;
		start_task(a, t);
		free(t);
	}
	a->pumping = 0;
	if (a->queue.len && a->running < o->slots && !pd_timer_active(a->pump_timer))
		pd_timer_start(a->pump_timer, 1);
	if (o->max_tasks && !a->stopping && a->done + a->running + a->queue.len >= o->max_tasks) {
		/* ask for no more work, finish what is held, then leave: leaving
		 * with tasks in hand would charge them as lost */
		pd_info("reached --max-tasks %llu: finishing held tasks, then leaving",
			(unsigned long long)o->max_tasks);
		cl_start_drain(a);
		a->stop_for_max = 1;
	}
	if (a->stopping && a->running == 0 && a->queue.len == 0) {
		/* results no controller has seen are worth waiting for, up to
		 * the grace period: the next WELCOME sends them and comes back */
		if (pd_buf_size(&a->unsent) && !online(a))
			return;
		send_results(a->loop, a);
		if (a->conn) {
			pd_frame_empty(pd_conn_out(a->conn), PD_MSG_BYE);
			pd_conn_close(a->conn, "agent leaving");
		}
		cl_finish(a, 0);
	}
}

/* ---- the connection ---- */

/* After a WELCOME that follows one on an earlier connection. */
static void rejoined(agent *a)
{
	size_t n;

	/* The controller (the same one after a glitch, or a restarted one)
	 * requeued every task this agent held when the old connection ended:
	 * those not started yet would run twice. Running ones go on; their
	 * results go out as late reports, which the controller still takes. */
	n = pd_taskq_clear(&a->queue);
	if (n) {
		pd_debug("rejoined: dropped %zu task(s) not started, the controller requeued them",
			 n);
		/* held work until now: idle only from here */
		a->idle_since = pd_loop_now(a->loop);
	}
	/* the --max-tasks count included the dropped tasks: cl_pump() counts again */
	if (a->stop_for_max) {
		a->stopping = 0;
		a->stop_for_max = 0;
	}
	/* the controller sees a new agent: a drain asked before is news to it */
	if (a->stopping) {
		pd_frame_empty(pd_conn_out(a->conn), PD_MSG_DRAIN);
		pd_conn_flush(a->conn);
	}
}

/* The most tasks this agent holds (queued + running). */
static uint64_t hold_limit(const agent *a)
{
	return (uint64_t)a->o->slots * HOLD_PER_SLOT + HOLD_EXTRA;
}

/* The count a TASKS payload declares (its first field), checked before
 * anything is decoded: one frame must not make the agent hold more than
 * hold_limit() tasks. 1 (why says so) or 0. */
static int tasks_over_limit(const agent *a, const uint8_t *p, size_t n, char *why, size_t whylen)
{
	uint64_t limit = hold_limit(a);
	uint64_t held = (uint64_t)a->queue.len + a->running;
	uint32_t count;

	if (n < 4)
		return 0; /* the decoder refuses it */
	count = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (held + count <= limit)
		return 0;
	snprintf(why, whylen,
		 "protocol error: a TASKS frame of %u task(s) while holding %llu: an agent with "
		 "%u slot(s) holds at most %llu",
		 count, (unsigned long long)held, a->o->slots, (unsigned long long)limit);
	return 1;
}

/* CANCEL (a parade controller sends none today): a task still queued is
 * dropped, one running is ended by its handler; both report failed,
 * "cancelled". Unknown and repeated ids are ignored, and so are ids past
 * the first hold_limit() (no agent holds more tasks than that). The work
 * is one sort of the ids, one pass over the queue and one over each
 * kind's running tasks (idset.h): a frame of millions of ids costs
 * seconds at most, not ids x tasks held. */
static void on_cancel(agent *a, const uint8_t *p, size_t n)
{
	uint64_t *ids = NULL, limit = hold_limit(a);
	uint32_t count = 0;
	pd_task_msg **taken = NULL;
	size_t ntaken = 0;
	pd_idset set;

	if (pd_cancel_decode(p, n, &ids, &count) < 0) {
		pd_conn_close(a->conn, "protocol error: bad CANCEL");
		return;
	}
	if (count > limit) {
		pd_warn("a CANCEL of %u ids: only the first %llu are looked at (this agent holds "
			"at most %llu tasks)",
			count, (unsigned long long)limit, (unsigned long long)limit);
		count = (uint32_t)limit;
	}
	set = pd_idset_make(ids, count);
	/* off the queue first: the results below start queued tasks */
	if (set.n && a->queue.len && !(taken = malloc(a->queue.len * sizeof(*taken))))
		pd_err("out of memory cancelling queued tasks: they will run");
	if (taken)
		ntaken = pd_taskq_take_set(&a->queue, &set, taken);
	if (set.n)
		pd_handlers_cancel(a->handlers, &set);
	for (size_t k = 0; k < ntaken; k++) {
		a->running++; /* as if started: start_failed counts it done */
		start_failed(a, taken[k], "cancelled");
		free(taken[k]);
	}
	free(taken);
	free(ids);
}

/* WELCOME: this connection is the controller's; its settings configure
 * the handlers. */
static void on_welcome(agent *a, pd_conn *c, const uint8_t *p, size_t n)
{
	char err[400];
	pd_welcome w;
	int rejoin = a->ever_welcomed && !a->welcomed, bad = a->welcomed;

	/* another version may have another layout: its version field
	 * is enough to refuse it by name */
	if (!bad && pd_welcome_decode(p, n, &w) < 0 &&
	    (pd_welcome_version(p, n, &w.version) < 0 || w.version == PD_PROTO_VERSION))
		bad = 1;
	if (bad) {
		pd_conn_close(c, a->welcomed ? "protocol error: a second WELCOME"
					     : "protocol error: bad WELCOME");
		return;
	}
	if (w.version != PD_PROTO_VERSION) {
		/* final, like a connection file of another version */
		pd_err("controller speaks protocol version %u, this agent speaks version "
		       "%u: refusing it",
		       w.version, PD_PROTO_VERSION);
		pd_conn_close(c, "protocol version mismatch");
		cl_finish(a, cl_refused(a));
		return;
	}
	a->welcomed = 1;
	a->ever_welcomed = 1;
	a->lost_since = 0;
	a->welcomed_at = pd_loop_now(a->loop);
	a->got_tasks = 0;
	a->hb_ms = w.heartbeat_ms ? w.heartbeat_ms : DEFAULT_HEARTBEAT_MS;
	if (a->hb_ms < HEARTBEAT_MIN_MS)
		a->hb_ms = HEARTBEAT_MIN_MS;
	if (a->hb_ms > HEARTBEAT_MAX_MS)
		a->hb_ms = HEARTBEAT_MAX_MS;
	if (w.max_frame >= 4096 && w.max_frame < a->max_frame)
		a->max_frame = w.max_frame;
	pd_conn_deadline(c, 0, NULL);
	pd_timer_start(a->hb_timer, a->hb_ms);
	pd_debug("welcomed as %s (heartbeat %llu ms)", w.name, (unsigned long long)a->hb_ms);
	if (a->o->follow) {
		pd_debug("following: waiting for the end of the controller's run");
		return;
	}
	if (rejoin)
		rejoined(a);
	/* after rejoined(): a result of a handler set up again may start
	 * the next task, and the queue held may be for the old controller */
	if (pd_handlers_welcome(a->handlers, &w, err, sizeof(err)) < 0) {
		/* as when the agent's own settings fail: an agent that failed
		 * every task of the kind would swallow a pool's work. What it
		 * holds is not reported: the controller requeues it as lost */
		pd_err("%s", err);
		pd_err("cannot take the controller's handler settings: leaving");
		pd_conn_close(c, "agent cannot take the handler settings");
		cl_finish(a, 2);
		return;
	}
	send_results(a->loop, a);
	/* the exit rules may have waited for this connection */
	if (rejoin)
		cl_pump(a);
}

void cl_on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	agent *a = arg;
	char why[256];

	if (a->exit_code >= 0)
		return; /* leaving: nothing more is taken */
	a->last_heard = pd_loop_now(a->loop);
	switch (type) {
	case PD_MSG_WELCOME:
		on_welcome(a, c, p, n);
		return;
	case PD_MSG_REJECT: {
		const char *why = "?";
		pd_reject_decode(p, n, &why);
		pd_err("controller refused this agent: %s", why);
		pd_conn_close(c, "refused");
		cl_finish(a, cl_refused(a));
		return;
	}
	case PD_MSG_TASKS: {
		pd_task_msg **tasks = NULL;
		uint32_t count = 0;
		if (!a->welcomed || a->o->follow) {
			pd_conn_close(c, a->welcomed ? "protocol error: TASKS to a follower"
						     : "protocol error: TASKS before WELCOME");
			return;
		}
		if (tasks_over_limit(a, p, n, why, sizeof(why))) {
			pd_conn_close(c, why);
			return;
		}
		if (pd_tasks_decode(p, n, &tasks, &count) < 0) {
			pd_conn_close(c, "protocol error: bad TASKS");
			return;
		}
		for (uint32_t i = 0; i < count; i++) {
			if (pd_taskq_push(&a->queue, tasks[i]) < 0) {
				free(tasks[i]);
				pd_err("out of memory queueing a task");
			}
		}
		free(tasks);
		if (count)
			a->got_tasks = 1;
		cl_pump(a);
		return;
	}
	case PD_MSG_PING: {
		uint64_t stamp = 0;
		if (pd_ping_decode(p, n, &stamp) < 0) {
			pd_conn_close(c, "protocol error: bad PING");
			return;
		}
		pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, stamp);
		pd_conn_flush(c);
		return;
	}
	case PD_MSG_PONG: {
		uint64_t stamp = 0;
		if (pd_ping_decode(p, n, &stamp) < 0)
			pd_conn_close(c, "protocol error: bad PONG");
		return;
	}
	case PD_MSG_CANCEL:
		on_cancel(a, p, n);
		return;
	case PD_MSG_DRAIN:
		if (n || !a->welcomed) {
			pd_conn_close(c, n ? "protocol error: DRAIN with a payload"
					   : "protocol error: DRAIN before WELCOME");
			return;
		}
		pd_info("controller asked to drain: finishing held tasks, then leaving");
		a->stopping = 1;
		a->stop_for_max = 0;
		cl_pump(a);
		return;
	case PD_MSG_BYE: {
		uint8_t status = 0;
		if (pd_bye_decode(p, n, &status) < 0 || !a->welcomed) {
			pd_conn_close(c, a->welcomed ? "protocol error: bad BYE"
						     : "protocol error: BYE before WELCOME");
			return;
		}
		pd_debug("controller said goodbye (its run's exit status: %u)", status);
		if (a->o->follow) {
			pd_info("the controller's run ended with exit status %u", status);
			pd_conn_close(c, "controller finished");
			cl_finish(a, status);
			return;
		}
		if (a->o->stay && !a->stopping) {
			pd_info("the controller finished; waiting for the next one (--stay)");
			a->said_bye = 1;
			pd_conn_close(c, "controller finished");
			return;
		}
		pd_conn_close(c, "controller finished");
		cl_finish(a, 0);
		return;
	}
	default:
		snprintf(why, sizeof(why), "protocol error: unexpected %s frame (type %u)",
			 pd_msg_name(type), (unsigned)type);
		pd_conn_close(c, why);
	}
}

static void pump_cb(pd_loop *l, void *arg)
{
	(void)l;
	cl_pump(arg);
}

/* The handlers of every kind, with the agent's own settings. 0, or -1
 * (said why). */
int cl_open_handlers(agent *a)
{
	char err[400];

	a->env.loop = a->loop;
	a->env.slots = a->o->slots;
	a->env.done = handler_done;
	a->env.arg = a;
	if (pd_handlers_new(&a->env, &a->handlers, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return -1;
	}
	for (size_t i = 0; i < a->o->nown; i++) {
		const pd_setting *v = &a->o->own[i];
		if (pd_handlers_own(a->handlers, v->kind, v->data, v->len, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			pd_handlers_free(a->handlers);
			a->handlers = NULL;
			return -1;
		}
	}
	return 0;
}

int pd_agent_run(pd_loop *l, const pd_agent_opts *o)
{
	agent a;
	struct utsname un;

	memset(&a, 0, sizeof(a));
	a.loop = l;
	a.o = o;
	a.ep = o->ep;
	a.exit_code = -1;
	a.hb_ms = DEFAULT_HEARTBEAT_MS;
	a.max_frame = o->max_frame ? o->max_frame : PD_MAX_FRAME_DEFAULT;
	a.idle_since = pd_loop_now(l);
	if (uname(&un) == 0)
		snprintf(a.host, sizeof(a.host), "%s", un.nodename);
	a.hb_timer = pd_timer_new(l, cl_hb_cb, &a);
	a.retry_timer = pd_timer_new(l, cl_retry_cb, &a);
	a.pump_timer = pd_timer_new(l, pump_cb, &a);
	if (!a.hb_timer || !a.retry_timer || !a.pump_timer) {
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 1;
	}
	if (o->exit_on_stdin_eof && pd_loop_add(l, 0, PD_EV_IN, cl_on_stdin, &a) < 0) {
		pd_err("cannot watch stdin for the end of the ssh session (a pipe or terminal "
		       "is needed)");
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 2;
	}
	pd_loop_signal(l, SIGTERM, cl_on_signal, &a);
	pd_loop_signal(l, SIGINT, cl_on_signal, &a);
	pd_loop_signal(l, SIGHUP, cl_on_signal, &a);
	signal(SIGPIPE, SIG_IGN);
	if (cl_open_handlers(&a) < 0) {
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 2;
	}
	cl_connect(&a);
	if (o->idle_exit_ms)
		pd_timer_start(a.hb_timer, a.hb_ms);
	pd_loop_run(l);
	if (o->exit_on_stdin_eof)
		pd_loop_del(l, 0);
	pd_handlers_free(a.handlers);
	if (a.conn) {
		pd_conn_close(a.conn, "agent exiting");
		pd_loop_run_deferred(l);
	}
	pd_timer_free(a.hb_timer);
	pd_timer_free(a.retry_timer);
	pd_timer_free(a.pump_timer);
	pd_taskq_free(&a.queue);
	pd_buf_free(&a.unsent);
	return a.exit_code < 0 ? 0 : a.exit_code;
}
