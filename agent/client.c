#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "codec.h"
#include "handler.h"
#include "log.h"
#include "net.h"
#include "private.h"
#include "session.h"
#include "taskq.h"

#define HELLO_DEADLINE_MS 10000
#define DEFAULT_HEARTBEAT_MS 1000
#define MISSED_HEARTBEATS 5
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* --stay: the next controller of a batch script comes up on the same
 * endpoint moments after the last one said BYE; redial at least once a
 * second so that it does not wait on its agents */
#define STAY_BACKOFF_MAX_MS 1000
/* The backoff starts again from BACKOFF_MIN_MS only after a connection
 * that brought tasks or lasted this long: a controller that welcomes the
 * agent and drops it at once is dialled ever more slowly, not 10 times a
 * second forever. */
#define BACKOFF_RESET_MS 5000
/* a WELCOME's heartbeat is taken within these bounds: a controller cannot
 * make the agent ping in a busy loop, nor wait forever on a silent link */
#define HEARTBEAT_MIN_MS 50
#define HEARTBEAT_MAX_MS 60000
/* Tasks started per turn of the loop: a frame of tasks that all finish at
 * once (echo, bad arguments) is worked through a bounded batch at a time,
 * with the loop's other events (heartbeats, signals) in between. */
#define PUMP_BUDGET 1024
/* The most tasks an agent holds (queued + running). A parade controller
 * hands an agent at most slots x 64 (round-robin window) or slots + 2 x
 * chunk (chunk <= 4096) outstanding tasks (lib/dispatch.h); after a rejoin
 * the tasks still running from the old connection come on top (<= slots).
 * A TASKS frame that would go over this is a protocol error. */
#define HOLD_PER_SLOT 65u
#define HOLD_EXTRA 8192u

typedef struct agent {
	pd_loop *loop;
	const pd_agent_opts *o;
	pd_conn *conn;
	int welcomed;      /* on this connection */
	int ever_welcomed; /* on this or an earlier one */
	int exit_code;
	int stopping; /* drain: take no new tasks, exit when idle */
	int stop_for_max; /* stopping only because held tasks reached --max-tasks */
	int said_bye;     /* --stay: this connection ended with the controller's BYE */
	/* tasks received and not started, FIFO */
	pd_taskq queue;
	uint32_t running;
	uint64_t done;
	/* results not yet sent, kept across reconnections: complete RESULTS
	 * frames, then (nunsent > 0) one being built at offset umark */
	pd_buf unsent;
	size_t umark;
	uint32_t nunsent;
	int flush_queued;
	uint64_t hb_ms;
	size_t max_frame; /* the controller's frame limit, from WELCOME */
	uint64_t last_heard;  /* loop ms of the last frame from the controller */
	uint64_t lost_since;  /* loop ms when the controller became unreachable */
	uint64_t idle_since;
	uint64_t backoff_ms;
	uint64_t welcomed_at; /* loop ms of this connection's WELCOME */
	int got_tasks;        /* this connection brought at least one task */
	pd_timer *hb_timer, *retry_timer;
	pd_timer *pump_timer; /* the next batch of PUMP_BUDGET starts */
	int pumping;          /* pump() is on the stack: calls from within return */
	pd_handler_env env;     /* what the handlers report to (handler_done) */
	pd_handlers *handlers; /* one per task kind (handler.h) */
	char host[256];
	pd_endpoint ep; /* where to dial: o->ep, or what connect_file names now */
} agent;

static void agent_connect(agent *a);
static void pump(agent *a);
static int open_handlers(agent *a);

static void finish(agent *a, int code)
{
	a->exit_code = code;
	pd_loop_stop(a->loop);
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
	pump(a);
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
static void start_drain(agent *a)
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
 * back while a task starts calls pump() again: that inner call returns at
 * once and the loop here goes on, so the stack stays flat however many
 * tasks finish at once. */
static void pump(agent *a)
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
		start_drain(a);
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
		finish(a, 0);
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
	/* the --max-tasks count included the dropped tasks: pump() counts again */
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

static void send_hello(agent *a)
{
	pd_hello h;
	char pid_step[64] = "";
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");

	memset(&h, 0, sizeof(h));
	h.agent_id = a->o->id;
	h.host = a->host;
	h.pid = (uint32_t)getpid();
	h.slots = a->o->slots;
	h.mode = a->o->mode;
	h.slurm_job = job ? job : "";
	if (step)
		snprintf(pid_step, sizeof(pid_step), "%s", step);
	h.slurm_step = pid_step;
	h.features = pd_handlers_features(a->handlers);
	pd_hello_encode(pd_conn_out(a->conn), &h);
	pd_conn_flush(a->conn);
}

static void on_ready(pd_conn *c, void *arg)
{
	agent *a = arg;

	(void)c;
	send_hello(a);
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
		finish(a, 3);
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
		finish(a, 2);
		return;
	}
	send_results(a->loop, a);
	/* the exit rules may have waited for this connection */
	if (rejoin)
		pump(a);
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
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
		finish(a, 3);
		return;
	}
	case PD_MSG_TASKS: {
		pd_task_msg **tasks = NULL;
		uint32_t count = 0;
		if (!a->welcomed) {
			pd_conn_close(c, "protocol error: TASKS before WELCOME");
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
		pump(a);
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
		pump(a);
		return;
	case PD_MSG_BYE:
		if (n || !a->welcomed) {
			pd_conn_close(c, n ? "protocol error: BYE with a payload"
					   : "protocol error: BYE before WELCOME");
			return;
		}
		pd_debug("controller said goodbye");
		if (a->o->stay && !a->stopping) {
			pd_info("the controller finished; waiting for the next one (--stay)");
			a->said_bye = 1;
			pd_conn_close(c, "controller finished");
			return;
		}
		pd_conn_close(c, "controller finished");
		finish(a, 0);
		return;
	default:
		snprintf(why, sizeof(why), "protocol error: unexpected %s frame (type %u)",
			 pd_msg_name(type), (unsigned)type);
		pd_conn_close(c, why);
	}
}

static void schedule_retry(agent *a)
{
	uint64_t now = pd_loop_now(a->loop), delay;
	uint8_t r[2];

	uint64_t max = a->o->stay ? STAY_BACKOFF_MAX_MS : BACKOFF_MAX_MS;

	if (!a->lost_since)
		a->lost_since = now;
	if (!a->o->stay && now - a->lost_since >= a->o->grace_ms) {
		pd_err("controller unreachable for %.1f s, exiting", (double)a->o->grace_ms / 1000.0);
		finish(a, 1);
		return;
	}
	a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (a->backoff_ms > max)
		a->backoff_ms = max;
	pd_random(r, sizeof(r));
	/* jitter: 50% to 150% of the backoff, so a crowd of agents spreads out */
	delay = a->backoff_ms / 2 + (a->backoff_ms * ((uint64_t)r[0] << 8 | r[1])) / 65536;
	pd_timer_start(a->retry_timer, delay);
}

/* --stay, after a BYE: the agent as it started, for the next controller
 * (another run: nothing of this one may reach it). Its tasks and
 * coprocesses end without results. 0, or -1 (said why). */
static int fresh_start(agent *a)
{
	pd_handlers_free(a->handlers);
	a->handlers = NULL;
	pd_taskq_clear(&a->queue);
	a->running = 0;
	pd_buf_reset(&a->unsent);
	a->nunsent = 0;
	a->ever_welcomed = 0;
	a->backoff_ms = 0;
	a->lost_since = 0;
	a->idle_since = pd_loop_now(a->loop);
	return open_handlers(a);
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	agent *a = arg;
	int was_welcomed = a->welcomed;

	a->conn = NULL;
	a->welcomed = 0;
	pd_timer_stop(a->hb_timer);
	if (a->exit_code >= 0)
		return; /* leaving anyway */
	if (a->said_bye) {
		a->said_bye = 0;
		if (fresh_start(a) < 0) {
			finish(a, 2);
			return;
		}
		schedule_retry(a);
		return;
	}
	/* final only when the handshake itself was refused (-EPROTO; one that
	 * broke off, -ECONNRESET, as when a controller is killed mid-handshake,
	 * is retried like any lost connection) */
	if (pd_conn_error(c) == -EPROTO) {
		pd_err("cannot join the controller: %s", why);
		finish(a, 3);
		return;
	}
	if (was_welcomed &&
	    (a->got_tasks || pd_loop_now(a->loop) - a->welcomed_at >= BACKOFF_RESET_MS))
		a->backoff_ms = 0;
	if (was_welcomed)
		pd_warn("lost the controller: %s; reconnecting", why);
	else
		pd_debug("connection attempt failed: %s", why);
	schedule_retry(a);
}

static const pd_conn_ops agent_conn_ops = {on_ready, on_frame, on_close};

static void agent_connect(agent *a)
{
	char err[512];
	int inprog, fd;

	fd = pd_net_connect(&a->ep, &inprog, err, sizeof(err));
	if (fd < 0) {
		pd_debug("%s", err);
		schedule_retry(a);
		return;
	}
	a->conn = pd_conn_new(a->loop, fd, a->o->tls, inprog ? PD_CONN_CONNECTING : 0,
			      &agent_conn_ops, a, a->o->max_frame);
	if (!a->conn) {
		close(fd);
		schedule_retry(a);
		return;
	}
	pd_conn_deadline(a->conn, HELLO_DEADLINE_MS, "no WELCOME from the controller");
}

int pd_agent_connfile_read(const char *path, pd_connfile *cf, char *err, size_t errlen)
{
	/* the checked read that parade launch and parade-agent ssh use too */
	return pd_connfile_load(path, NULL, NULL, 0, cf, err, errlen);
}

/* See pd_agent_opts.connect_file. A file that cannot be read or is not
 * the user's (pd_agent_connfile_read), or names an endpoint of another
 * kind (TLS against plain), leaves ep as it is. */
static void reread_endpoint(agent *a)
{
	char err[600], now[600], was[600];
	pd_connfile cf;
	pd_endpoint ep;
	const char *url;
	int rv;

	if (!a->o->connect_file)
		return;
	rv = pd_agent_connfile_read(a->o->connect_file, &cf, err, sizeof(err));
	memset(cf.secret, 0, sizeof(cf.secret));
	if (rv == -EACCES || rv == -ELOOP) {
		pd_warn("%s", err);
		return;
	}
	if (rv < 0 && rv != -EPERM) {
		pd_debug("%s", err);
		return;
	}
	url = a->o->use_local && cf.local[0] ? cf.local : cf.endpoint;
	if (pd_endpoint_parse(url, &ep, err, sizeof(err)) < 0 || ep.kind != a->ep.kind)
		return;
	if (pd_endpoint_format(&ep, now, sizeof(now)) < 0 ||
	    pd_endpoint_format(&a->ep, was, sizeof(was)) < 0 || !strcmp(now, was))
		return;
	pd_info("%s now names %s (was %s): dialling it", a->o->connect_file, now, was);
	a->ep = ep;
}

static void retry_cb(pd_loop *l, void *arg)
{
	(void)l;
	reread_endpoint(arg);
	agent_connect(arg);
}

static void pump_cb(pd_loop *l, void *arg)
{
	(void)l;
	pump(arg);
}

static void hb_cb(pd_loop *l, void *arg)
{
	agent *a = arg;
	uint64_t now = pd_loop_now(l);

	if (a->conn && a->welcomed) {
		if (now - a->last_heard > MISSED_HEARTBEATS * a->hb_ms) {
			pd_conn_close(a->conn, "controller missed its heartbeats");
			return;
		}
		pd_ping_encode(pd_conn_out(a->conn), PD_MSG_PING, pd_now_us());
		pd_conn_flush(a->conn);
	}
	if (a->o->idle_exit_ms && a->running == 0 && a->queue.len == 0 &&
	    now - a->idle_since >= a->o->idle_exit_ms && !a->stopping) {
		pd_info("idle for %.1f s (--idle-exit), leaving", (double)a->o->idle_exit_ms / 1000.0);
		start_drain(a);
		pump(a);
		return;
	}
	pd_timer_start(a->hb_timer, a->hb_ms);
}

/* In ssh mode stdin is the ssh session: nothing more comes after the
 * connection text, and its end means the session (or the controller) is
 * gone. Tasks never read it: they get /dev/null. */
static void on_stdin(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	agent *a = arg;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)ev;
	if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
		return;
	pd_loop_del(l, fd);
	pd_info("stdin closed (the ssh session ended): stopping tasks and leaving");
	finish(a, 0);
}

static void on_signal(pd_loop *l, int signo, void *arg)
{
	agent *a = arg;

	(void)l;
	pd_debug("signal %d: stopping tasks and leaving", signo);
	finish(a, 0);
}

/* The handlers of every kind, with the agent's own settings. 0, or -1
 * (said why). */
static int open_handlers(agent *a)
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
	a.hb_timer = pd_timer_new(l, hb_cb, &a);
	a.retry_timer = pd_timer_new(l, retry_cb, &a);
	a.pump_timer = pd_timer_new(l, pump_cb, &a);
	if (!a.hb_timer || !a.retry_timer || !a.pump_timer) {
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 1;
	}
	if (o->exit_on_stdin_eof && pd_loop_add(l, 0, PD_EV_IN, on_stdin, &a) < 0) {
		pd_err("cannot watch stdin for the end of the ssh session (a pipe or terminal "
		       "is needed)");
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 2;
	}
	pd_loop_signal(l, SIGTERM, on_signal, &a);
	pd_loop_signal(l, SIGINT, on_signal, &a);
	pd_loop_signal(l, SIGHUP, on_signal, &a);
	signal(SIGPIPE, SIG_IGN);
	if (open_handlers(&a) < 0) {
		pd_timer_free(a.hb_timer);
		pd_timer_free(a.retry_timer);
		pd_timer_free(a.pump_timer);
		return 2;
	}
	agent_connect(&a);
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
