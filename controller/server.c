#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "held.h"
#include "log.h"
#include "net.h"

#define MAX_BATCH 4096
#define ACCEPT_WARN_MS 5000 /* at most one accept warning per 5 s */
/* output queued for one agent above which the controller stops reading
 * from it until it reads (a peer that never reads cannot grow it) */
#define SRV_OUT_CAP (4u << 20)

typedef struct srv_agent {
	pd_server *srv;
	pd_conn *conn;
	uint32_t id;
	int welcomed;
	int draining;
	int dropped; /* by unauth_make_room, which logs it */
	uint64_t last_heard;
	uint64_t done;
	/* accept order of connections without HELLO yet (the oldest goes
	 * first when there are too many) */
	struct srv_agent *un_prev, *un_next;
	uint32_t pid, slots;
	uint64_t who; /* pd_held_digest of the id it claimed */
	char name[160];
	char host[128], mode[16], slurm_job[32], slurm_step[32];
} srv_agent;

typedef struct listener {
	int fd;
	pd_tls *tls;
	char url[300];
} listener;

struct pd_server {
	pd_loop *loop;
	pd_server_opts o;
	pd_server_cbs cb;
	void *arg;
	pd_disp *disp;
	srv_agent **agents; /* indexed by id; NULL when free */
	size_t nagents_cap;
	uint32_t next_id;
	size_t nconns, nwelcomed;
	srv_agent *un_head, *un_tail; /* connections that said no HELLO yet */
	size_t nunauth;
	listener ls[4];
	size_t nls;
	pd_timer *hb;
	pd_timer *accept_retry;
	uint64_t accept_warned_ms; /* loop time of the last accept warning */
	uint64_t unauth_warned_ms; /* ... and of the last unauth_make_room one */
	uint64_t unauth_dropped;   /* dropped by it since that warning */
	int dispatch_queued;
	int shutting_down;
	int paused; /* pd_server_pause: no task leaves the queue */
	int drain_all;
	pd_ratelimit rl;
	uint64_t *ids;
	pd_held *held;	   /* who held which attempt, of agents gone */
	int held_full;	   /* said once that it is full */
	uint32_t *carried; /* per task: first attempt of this controller
			    * (pd_server_set_attempt), 0 when none */
	uint64_t ncarried;
};

void pd_server_opts_default(pd_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	pd_disp_opts_default(&o->disp);
	o->heartbeat_ms = 1000;
	o->missed = 5;
	o->handshake_ms = 5000;
	o->max_frame = PD_MAX_FRAME_DEFAULT;
	o->kind = PD_TASK_PROCESS;
	o->out_limit = 1u << 20;
	o->max_unauth = PD_SERVER_MAX_UNAUTH;
}

/* ---- connections that have not said HELLO ---- */

static void unauth_push(pd_server *s, srv_agent *a)
{
	a->un_prev = s->un_tail;
	a->un_next = NULL;
	if (s->un_tail)
		s->un_tail->un_next = a;
	else
		s->un_head = a;
	s->un_tail = a;
	s->nunauth++;
}

static void unauth_remove(pd_server *s, srv_agent *a)
{
	if (!a->un_prev && s->un_head != a)
		return; /* not on the list */
	if (a->un_prev)
		a->un_prev->un_next = a->un_next;
	else
		s->un_head = a->un_next;
	if (a->un_next)
		a->un_next->un_prev = a->un_prev;
	else
		s->un_tail = a->un_prev;
	a->un_prev = a->un_next = NULL;
	s->nunauth--;
}

/* Makes room for one more connection without HELLO: the oldest goes. Its
 * close completes later; it is off the list at once. */
static void unauth_make_room(pd_server *s)
{
	while (s->o.max_unauth && s->nunauth >= s->o.max_unauth && s->un_head) {
		srv_agent *old = s->un_head;
		char why[120];

		unauth_remove(s, old);
		snprintf(why, sizeof(why),
			 "dropped: %u connections without HELLO (the limit), this one the oldest",
			 s->o.max_unauth);
		old->dropped = 1;
		pd_conn_close(old->conn, why);
		s->unauth_dropped++;
		/* one line per 5 s while it lasts, with the count */
		if (!s->unauth_warned_ms ||
		    pd_loop_now(s->loop) - s->unauth_warned_ms >= ACCEPT_WARN_MS) {
			pd_warn("dropped %llu connection(s), the oldest first: %u connections "
				"without HELLO is the limit (last dropped: %s)",
				(unsigned long long)s->unauth_dropped, s->o.max_unauth,
				pd_conn_peer(old->conn));
			s->unauth_warned_ms = pd_loop_now(s->loop);
			s->unauth_dropped = 0;
		}
	}
}

/* ---- sending work ---- */

static void send_batch(pd_server *s, srv_agent *a, const uint64_t *ids, size_t n)
{
	pd_buf *out = pd_conn_out(a->conn);
	size_t mark;

	if (pd_tasks_begin(out, &mark) < 0)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		pd_task_msg t;
		char **argv = NULL;
		size_t argc = 0;
		int rv = s->cb.task_argv(s->arg, ids[i], &argv, &argc);

		memset(&t, 0, sizeof(t));
		t.id = ids[i];
		t.attempt = pd_disp_attempt(s->disp, ids[i]);
		t.kind = s->o.kind;
		t.timeout_ms = s->o.timeout_ms;
		t.out_limit = s->o.out_limit;
		if (rv == 0) {
			t.argc = (uint32_t)argc;
			t.argv = argv;
		}
		rv = pd_tasks_add(out, mark, &t);
		free(argv);
		if (rv < 0)
			goto oom;
		if (s->cb.on_sent)
			s->cb.on_sent(s->arg, t.id, t.attempt, a->name);
	}
	if (pd_tasks_end(out, mark) < 0)
		goto oom;
	pd_conn_flush(a->conn);
	return;
oom:
	pd_conn_close(a->conn, "out of memory encoding tasks");
}

static void dispatch_now(pd_loop *l, void *arg)
{
	pd_server *s = arg;
	uint32_t agent;
	size_t n;

	(void)l;
	s->dispatch_queued = 0;
	if (s->shutting_down || s->paused)
		return;
	while ((n = pd_disp_next(s->disp, &agent, s->ids, MAX_BATCH)) > 0) {
		srv_agent *a = agent < s->nagents_cap ? s->agents[agent] : NULL;
		if (!a || !a->conn) {
			/* cannot happen: agents leave the dispatcher when they close */
			pd_err("internal: dispatcher chose a missing agent %u", agent);
			break;
		}
		send_batch(s, a, s->ids, n);
	}
}

static void dispatch_later(pd_server *s)
{
	if (!s->dispatch_queued && pd_loop_defer(s->loop, dispatch_now, s) == 0)
		s->dispatch_queued = 1;
}

/* ---- agents ---- */

static void report_lost(pd_server *s, const uint64_t *lost, size_t n, const char *agent)
{
	for (size_t i = 0; i < n; i++) {
		pd_result_msg r;
		char msg[200];
		memset(&r, 0, sizeof(r));
		r.id = lost[i];
		r.attempt = pd_disp_attempt(s->disp, lost[i]);
		r.status = PD_ST_LOST;
		r.exit_code = -1;
		r.out = r.err = "";
		snprintf(msg, sizeof(msg), "its agent was lost %u time%s (the crash limit)",
			 s->o.disp.crash_limit, s->o.disp.crash_limit == 1 ? "" : "s");
		r.error = msg;
		s->cb.on_result(s->arg, &r, agent);
	}
}

static void agent_free(srv_agent *a)
{
	pd_server *s = a->srv;

	if (a->id < s->nagents_cap && s->agents[a->id] == a)
		s->agents[a->id] = NULL;
	free(a);
}

static void agent_info(const srv_agent *a, pd_agent_info *ai)
{
	memset(ai, 0, sizeof(*ai));
	ai->name = a->name;
	ai->host = a->host;
	ai->mode = a->mode;
	ai->slurm_job = a->slurm_job;
	ai->slurm_step = a->slurm_step;
	ai->pid = a->pid;
	ai->slots = a->slots;
	ai->running = a->welcomed ? pd_disp_agent_outstanding(a->srv->disp, a->id) : 0;
	ai->done = a->done;
	ai->heard_ms_ago = pd_loop_now(a->srv->loop) - a->last_heard;
	ai->draining = a->draining;
	ai->slot = a->id;
}

/* Asks one agent to take no more work; it leaves once it is idle. */
static void drain_agent(srv_agent *a)
{
	if (a->draining || !a->welcomed || !a->conn)
		return;
	a->draining = 1;
	pd_disp_agent_drain(a->srv->disp, a->id);
	pd_frame_empty(pd_conn_out(a->conn), PD_MSG_DRAIN);
	pd_conn_flush(a->conn);
}

/* pd_disp_agent_held callback: the agent (arg) leaves holding this */
static void note_held(void *arg, uint64_t task, uint32_t attempt)
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

static void on_close(pd_conn *c, const char *why, void *arg)
{
	srv_agent *a = arg;
	pd_server *s = a->srv;

	(void)c;
	s->nconns--;
	unauth_remove(s, a);
	if (a->welcomed) {
		uint64_t *lost = NULL;
		size_t nlost = 0, had = pd_disp_agent_outstanding(s->disp, a->id);
		s->nwelcomed--;
		pd_disp_agent_held(s->disp, a->id, note_held, a);
		pd_disp_agent_remove(s->disp, a->id, &lost, &nlost);
		if (had && !s->shutting_down)
			pd_warn("agent %s lost (%s); its %zu task(s) requeued or lost", a->name,
				why, had);
		else
			pd_debug("agent %s left (%s)", a->name, why);
		if (s->cb.on_agent) {
			pd_agent_info ai;
			agent_info(a, &ai);
			s->cb.on_agent(s->arg, 0, &ai);
		}
		report_lost(s, lost, nlost, a->name);
		free(lost);
		dispatch_later(s);
	} else if (!s->shutting_down && !a->dropped && pd_ratelimit_ok(&s->rl, 10)) {
		pd_warn("refused connection from %s: %s", pd_conn_peer(c), why);
	}
	agent_free(a);
}

static int unique_name(pd_server *s, const char *want, char *out, size_t outlen)
{
	/* names label results; a clash (two agents claiming one id) gets a suffix */
	snprintf(out, outlen, "%s", want[0] ? want : "agent");
	for (uint32_t n = 2;; n++) {
		int clash = 0;
		for (size_t i = 0; i < s->nagents_cap && !clash; i++) {
			srv_agent *b = s->agents[i];
			clash = b && b->welcomed && strcmp(b->name, out) == 0;
		}
		if (!clash)
			return 0;
		snprintf(out, outlen, "%s#%u", want[0] ? want : "agent", n);
	}
}

static void on_hello(srv_agent *a, const uint8_t *p, size_t n)
{
	pd_server *s = a->srv;
	pd_hello h;
	pd_welcome w;
	char bad[160];
	int rv = pd_hello_decode_why(p, n, &h, bad, sizeof(bad));

	if (rv == -EPROTONOSUPPORT) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "protocol version %u is not supported: this controller speaks version %u",
			 h.version, PD_PROTO_VERSION);
		pd_reject_encode(pd_conn_out(a->conn), msg);
		pd_conn_close(a->conn, msg);
		return;
	}
	if (rv < 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "protocol error: HELLO refused: %s", bad);
		pd_reject_encode(pd_conn_out(a->conn), msg);
		pd_conn_close(a->conn, msg);
		return;
	}
	if (h.slots == 0 || h.slots > 4096) {
		pd_reject_encode(pd_conn_out(a->conn), "slots must be 1 to 4096");
		pd_conn_close(a->conn, "bad slot count in HELLO");
		return;
	}
	if (s->o.kind == PD_TASK_COPROC && !(h.features & PD_HELLO_COPROC)) {
		static const char why[] = "this session's tasks go to a coprocess (--handler "
					  "coproc:): start the agent with --coproc COMMAND";
		pd_reject_encode(pd_conn_out(a->conn), why);
		pd_conn_close(a->conn, "the agent has no coprocess (--coproc) for this "
				       "session's coproc: tasks");
		return;
	}
	unique_name(s, h.agent_id, a->name, sizeof(a->name));
	snprintf(a->host, sizeof(a->host), "%s", h.host);
	snprintf(a->mode, sizeof(a->mode), "%s", h.mode);
	snprintf(a->slurm_job, sizeof(a->slurm_job), "%s", h.slurm_job);
	snprintf(a->slurm_step, sizeof(a->slurm_step), "%s", h.slurm_step);
	a->pid = h.pid;
	a->slots = h.slots;
	a->who = pd_held_digest(h.agent_id);
	if (pd_disp_agent_add(s->disp, a->id, h.slots) < 0) {
		pd_conn_close(a->conn, "out of memory");
		return;
	}
	a->welcomed = 1;
	unauth_remove(s, a);
	s->nwelcomed++;
	pd_conn_deadline(a->conn, 0, NULL);
	memset(&w, 0, sizeof(w));
	w.version = PD_PROTO_VERSION;
	w.heartbeat_ms = s->o.heartbeat_ms;
	w.max_frame = (uint32_t)s->o.max_frame;
	w.name = a->name;
	pd_welcome_encode(pd_conn_out(a->conn), &w);
	pd_conn_flush(a->conn);
	/* agents from elsewhere are worth a line; local ones only in debug */
	pd_log(strcmp(h.mode, "local") ? PD_LOG_INFO : PD_LOG_DEBUG,
	       "agent %s joined from %s (host %s, pid %u, %u slot(s), %s%s%s%s%s)", a->name,
	       pd_conn_peer(a->conn), h.host, h.pid, h.slots, h.mode,
	       h.slurm_job[0] ? ", slurm job " : "", h.slurm_job, h.slurm_step[0] ? " step " : "",
	       h.slurm_step);
	if (s->cb.on_agent) {
		pd_agent_info ai;
		agent_info(a, &ai);
		s->cb.on_agent(s->arg, 1, &ai);
	}
	if (s->drain_all)
		drain_agent(a);
	dispatch_later(s);
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
	if (s->held_full)
		return 1;
	snprintf(why, whylen,
		 "protocol error: result for task %llu attempt %u, which this agent does not "
		 "hold and did not hold",
		 (unsigned long long)r->id, r->attempt);
	return -EPROTO;
}

static void on_results(srv_agent *a, const uint8_t *p, size_t n)
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
		} else if (out == PD_DISP_RETRY)
			pd_debug("task %llu attempt %u %s; retrying", (unsigned long long)r->id,
				 r->attempt, pd_status_name(r->status));
		free(r);
	}
	free(rs);
	dispatch_later(s);
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	srv_agent *a = arg;

	a->last_heard = pd_loop_now(a->srv->loop);
	if (!a->welcomed && type != PD_MSG_HELLO) {
		pd_conn_close(c, "protocol error: expected HELLO");
		return;
	}
	switch (type) {
	case PD_MSG_HELLO:
		if (a->welcomed)
			pd_conn_close(c, "protocol error: second HELLO");
		else
			on_hello(a, p, n);
		break;
	case PD_MSG_RESULTS:
		on_results(a, p, n);
		break;
	case PD_MSG_PING: {
		uint64_t stamp = 0;
		if (pd_ping_decode(p, n, &stamp) < 0) {
			pd_conn_close(c, "protocol error: malformed PING");
			return;
		}
		pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, stamp);
		pd_conn_flush(c);
		break;
	}
	case PD_MSG_PONG:
		break;
	case PD_MSG_DRAIN:
		/* the agent wants no more work (--max-tasks, --idle-exit) */
		a->draining = 1;
		pd_disp_agent_drain(a->srv->disp, a->id);
		break;
	case PD_MSG_BYE:
		pd_conn_close(c, "agent said goodbye");
		break;
	default: {
		char why[80];
		snprintf(why, sizeof(why), "protocol error: unexpected %s from an agent",
			 pd_msg_name(type));
		pd_conn_close(c, why);
	}
	}
}

static const pd_conn_ops server_conn_ops = {NULL, on_frame, on_close};

static int agent_slot(pd_server *s, srv_agent *a)
{
	/* ids are reused lowest-first so the table stays as small as the crowd */
	for (uint32_t i = 0; i < s->nagents_cap; i++) {
		uint32_t id = (s->next_id + i) % (uint32_t)s->nagents_cap;
		if (!s->agents[id]) {
			a->id = id;
			s->agents[id] = a;
			s->next_id = id + 1;
			return 0;
		}
	}
	{
		size_t n = s->nagents_cap ? s->nagents_cap * 2 : 64;
		srv_agent **t = realloc(s->agents, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + s->nagents_cap, 0, (n - s->nagents_cap) * sizeof(*t));
		a->id = (uint32_t)s->nagents_cap;
		s->agents = t;
		s->nagents_cap = n;
		s->agents[a->id] = a;
		s->next_id = a->id + 1;
	}
	return 0;
}

static void accept_retry_cb(pd_loop *l, void *arg);

static void on_accept(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	pd_server *s = arg;
	listener *ls = NULL;

	(void)ev;
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].fd == fd)
			ls = &s->ls[i];
	if (!ls)
		return;
	for (int k = 0; k < 256; k++) {
		char peer[64];
		int cfd = pd_net_accept(fd, peer, sizeof(peer));
		srv_agent *a;

		if (cfd == -EAGAIN)
			return;
		if (cfd == -EINTR || cfd == -ECONNABORTED)
			continue;
		if (cfd < 0) {
			/* out of descriptors or memory: say so, then give the
			 * system a moment instead of spinning */
			/* one line per 5 s while it lasts: every retry would
			 * log ten a second */
			if (!s->accept_warned_ms ||
			    pd_loop_now(l) - s->accept_warned_ms >= ACCEPT_WARN_MS) {
				char hint[160];
				s->accept_warned_ms = pd_loop_now(l);
				pd_net_accept_hint(cfd, hint, sizeof(hint));
				pd_warn("cannot accept a connection on %s: %s%s%s%s; retrying in "
					"100 ms",
					ls->url, strerror(-cfd), hint[0] ? " (" : "", hint,
					hint[0] ? ")" : "");
			}
			pd_loop_del(l, fd);
			pd_timer_start(s->accept_retry, 100);
			return;
		}
		if (s->o.max_conns && s->nconns >= s->o.max_conns) {
			if (pd_ratelimit_ok(&s->rl, 10))
				pd_warn("refusing %s: %zu connections held (limit)", peer,
					s->nconns);
			close(cfd);
			continue;
		}
		unauth_make_room(s);
		a = calloc(1, sizeof(*a));
		if (!a || agent_slot(s, a) < 0) {
			free(a);
			close(cfd);
			continue;
		}
		a->srv = s;
		a->conn = pd_conn_new(l, cfd, ls->tls, PD_CONN_SERVER, &server_conn_ops, a,
				      s->o.max_frame);
		if (!a->conn) {
			agent_free(a);
			close(cfd);
			continue;
		}
		s->nconns++;
		unauth_push(s, a);
		pd_conn_set_peer(a->conn, peer);
		pd_conn_out_cap(a->conn, SRV_OUT_CAP);
		pd_conn_deadline(a->conn, s->o.handshake_ms,
				 ls->tls ? "no TLS handshake and HELLO in time" : "no HELLO in time");
	}
}

static void accept_retry_cb(pd_loop *l, void *arg)
{
	pd_server *s = arg;

	for (size_t i = 0; i < s->nls; i++)
		pd_loop_add(l, s->ls[i].fd, PD_EV_IN, on_accept, s);
}

static void hb_cb(pd_loop *l, void *arg)
{
	pd_server *s = arg;
	uint64_t now = pd_loop_now(l), limit = (uint64_t)s->o.missed * s->o.heartbeat_ms;

	for (size_t i = 0; i < s->nagents_cap; i++) {
		srv_agent *a = s->agents[i];
		if (!a || !a->welcomed || !a->conn)
			continue;
		if (now - a->last_heard > limit) {
			pd_conn_close(a->conn, "missed heartbeats");
			continue;
		}
		pd_ping_encode(pd_conn_out(a->conn), PD_MSG_PING, pd_now_us());
		pd_conn_flush(a->conn);
	}
	pd_timer_start(s->hb, s->o.heartbeat_ms);
}

pd_server *pd_server_new(pd_loop *l, const pd_server_opts *opts, const pd_server_cbs *cbs,
			 void *arg)
{
	pd_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = l;
	s->o = *opts;
	s->cb = *cbs;
	s->arg = arg;
	s->disp = pd_disp_new(&s->o.disp);
	s->hb = pd_timer_new(l, hb_cb, s);
	s->accept_retry = pd_timer_new(l, accept_retry_cb, s);
	s->ids = malloc(MAX_BATCH * sizeof(*s->ids));
	s->held = pd_held_new();
	if (!s->disp || !s->hb || !s->accept_retry || !s->ids || !s->held) {
		pd_server_free(s);
		return NULL;
	}
	pd_timer_start(s->hb, s->o.heartbeat_ms);
	return s;
}

int pd_server_listen(pd_server *s, const pd_endpoint *ep, pd_tls *tls, pd_endpoint *bound,
		     char *err, size_t errlen)
{
	listener *ls;
	int fd, rv;

	if (s->nls == sizeof(s->ls) / sizeof(s->ls[0])) {
		snprintf(err, errlen, "too many listeners");
		return -ENOSPC;
	}
	fd = pd_net_listen(ep, bound, err, errlen);
	if (fd < 0)
		return fd;
	rv = pd_loop_add(s->loop, fd, PD_EV_IN, on_accept, s);
	if (rv < 0) {
		close(fd);
		snprintf(err, errlen, "cannot watch the listener: %s", strerror(-rv));
		return rv;
	}
	ls = &s->ls[s->nls++];
	ls->fd = fd;
	ls->tls = tls;
	pd_endpoint_format(bound, ls->url, sizeof(ls->url));
	return 0;
}

int pd_server_add_tasks(pd_server *s, uint64_t n)
{
	int rv = pd_disp_add_tasks(s->disp, pd_disp_total(s->disp), n);

	if (rv == 0)
		dispatch_later(s);
	return rv;
}

uint64_t pd_server_finished(const pd_server *s)
{
	return pd_disp_finished(s->disp);
}

uint64_t pd_server_total(const pd_server *s)
{
	return pd_disp_total(s->disp);
}

size_t pd_server_agents(const pd_server *s)
{
	return s->nwelcomed;
}

uint64_t pd_server_queued(const pd_server *s)
{
	return pd_disp_queued(s->disp);
}

uint64_t pd_server_running(const pd_server *s)
{
	return pd_disp_outstanding(s->disp);
}

void pd_server_agent_list(pd_server *s, void (*cb)(void *arg, const pd_agent_info *a), void *arg)
{
	for (size_t i = 0; i < s->nagents_cap; i++) {
		srv_agent *a = s->agents[i];
		pd_agent_info ai;
		if (!a || !a->welcomed || !a->conn)
			continue;
		agent_info(a, &ai);
		cb(arg, &ai);
	}
}

size_t pd_server_drain(pd_server *s, size_t n)
{
	size_t asked = 0;

	/* least busy first: they leave soonest and waste the least */
	while (asked < n) {
		srv_agent *best = NULL;
		size_t best_load = 0;
		for (size_t i = 0; i < s->nagents_cap; i++) {
			srv_agent *a = s->agents[i];
			size_t load;
			if (!a || !a->welcomed || !a->conn || a->draining)
				continue;
			load = pd_disp_agent_outstanding(s->disp, a->id);
			if (!best || load < best_load) {
				best = a;
				best_load = load;
			}
		}
		if (!best)
			break;
		drain_agent(best);
		asked++;
	}
	return asked;
}

void pd_server_drain_all(pd_server *s)
{
	s->drain_all = 1;
	pd_server_drain(s, SIZE_MAX);
}

int pd_server_settle(pd_server *s, uint64_t id)
{
	return pd_disp_settle(s->disp, id);
}

int pd_server_set_attempt(pd_server *s, uint64_t id, uint32_t attempt)
{
	int rv = pd_disp_set_attempt(s->disp, id, attempt);

	if (rv < 0)
		return rv;
	if (!s->carried) {
		uint64_t n = pd_disp_total(s->disp);
		s->carried = calloc(n ? n : 1, sizeof(*s->carried));
		if (!s->carried)
			return 0; /* their late results will be refused */
		s->ncarried = n;
	}
	if (id < s->ncarried)
		s->carried[id] = attempt;
	return 0;
}

void pd_server_shutdown(pd_server *s)
{
	s->shutting_down = 1;
	pd_timer_stop(s->hb);
	pd_timer_stop(s->accept_retry);
	for (size_t i = 0; i < s->nls; i++) {
		pd_loop_del(s->loop, s->ls[i].fd);
		close(s->ls[i].fd);
	}
	s->nls = 0;
	for (size_t i = 0; i < s->nagents_cap; i++) {
		srv_agent *a = s->agents[i];
		if (!a || !a->conn)
			continue;
		if (a->welcomed)
			pd_frame_empty(pd_conn_out(a->conn), PD_MSG_BYE);
		pd_conn_close(a->conn, "controller finished");
	}
}

void pd_server_pause(pd_server *s, int pause)
{
	s->paused = pause != 0;
	if (!s->paused)
		dispatch_later(s);
}

void pd_server_free(pd_server *s)
{
	if (!s)
		return;
	pd_disp_free(s->disp);
	pd_timer_free(s->hb);
	pd_timer_free(s->accept_retry);
	for (size_t i = 0; i < s->nls; i++)
		close(s->ls[i].fd);
	free(s->agents);
	free(s->ids);
	pd_held_free(s->held);
	free(s->carried);
	free(s);
}
