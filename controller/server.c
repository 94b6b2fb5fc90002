/* server.c - server.h: agents (HELLO, frames, heartbeats, leaving), the
 * dispatcher turn and the public calls; accepting is srv_accept.c, results
 * srv_results.c (server_int.h holds what they share). */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server_int.h"

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
	while ((n = pd_disp_next(s->disp, &agent, s->ids, SRV_MAX_BATCH)) > 0) {
		srv_agent *a = agent < s->nagents_cap ? s->agents[agent] : NULL;
		if (!a || !a->conn) {
			/* cannot happen: agents leave the dispatcher when they close */
			pd_err("internal: dispatcher chose a missing agent %u", agent);
			break;
		}
		send_batch(s, a, s->ids, n);
	}
}

void srv_dispatch_later(pd_server *s)
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
		/* finished: the notes of who held it are no longer needed */
		pd_held_settle(s->held, lost[i]);
	}
}

void srv_agent_free(srv_agent *a)
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
	if (a->draining || !a->welcomed || a->follower || !a->conn)
		return;
	a->draining = 1;
	pd_disp_agent_drain(a->srv->disp, a->id);
	pd_frame_empty(pd_conn_out(a->conn), PD_MSG_DRAIN);
	pd_conn_flush(a->conn);
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	srv_agent *a = arg;
	pd_server *s = a->srv;

	(void)c;
	s->nconns--;
	srv_unauth_remove(s, a);
	if (a->follower) {
		s->nfollowers--;
		pd_debug("follower %s left (%s)", a->name, why);
	} else if (a->welcomed) {
		uint64_t *lost = NULL;
		size_t nlost = 0, had = pd_disp_agent_outstanding(s->disp, a->id);
		s->nwelcomed--;
		pd_disp_agent_held(s->disp, a->id, srv_note_held, a);
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
		srv_dispatch_later(s);
	} else if (!s->shutting_down && !a->dropped && pd_ratelimit_ok(&s->rl, 10)) {
		pd_warn("refused connection from %s: %s", pd_conn_peer(c), why);
	}
	srv_agent_free(a);
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

/* Coproc tasks with no command from this controller (its settings): only
 * agents with a coprocess of their own can run them. */
static int needs_own_coproc(const pd_server *s)
{
	if (s->o.kind != PD_TASK_COPROC)
		return 0;
	for (uint32_t i = 0; i < s->o.nsettings; i++)
		if (s->o.settings[i].kind == PD_TASK_COPROC)
			return 0;
	return 1;
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
	if (h.slots > 4096) {
		pd_reject_encode(pd_conn_out(a->conn), "slots must be 1 to 4096 (0: a follower)");
		pd_conn_close(a->conn, "bad slot count in HELLO");
		return;
	}
	a->follower = h.slots == 0;
	if (!a->follower && needs_own_coproc(s) && !(h.features & PD_HELLO_COPROC)) {
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
	if (!a->follower && pd_disp_agent_add(s->disp, a->id, h.slots) < 0) {
		pd_conn_close(a->conn, "out of memory");
		return;
	}
	a->welcomed = 1;
	srv_unauth_remove(s, a);
	if (a->follower)
		s->nfollowers++;
	else
		s->nwelcomed++;
	pd_conn_deadline(a->conn, 0, NULL);
	memset(&w, 0, sizeof(w));
	w.version = PD_PROTO_VERSION;
	w.heartbeat_ms = s->o.heartbeat_ms;
	w.max_frame = (uint32_t)s->o.max_frame;
	w.name = a->name;
	w.nsettings = s->o.nsettings;
	for (uint32_t i = 0; i < w.nsettings; i++)
		w.settings[i] = s->o.settings[i];
	if (pd_welcome_encode(pd_conn_out(a->conn), &w) < 0) {
		pd_conn_close(a->conn, "cannot encode WELCOME (handler settings too large?)");
		return;
	}
	pd_conn_flush(a->conn);
	if (a->follower) {
		/* not an agent: no line of its own, no on_agent, no work */
		pd_debug("follower %s joined from %s (host %s, pid %u): it waits for the run's "
			 "exit status",
			 a->name, pd_conn_peer(a->conn), h.host, h.pid);
		return;
	}
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
	srv_dispatch_later(s);
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
		if (a->follower)
			pd_conn_close(c, "protocol error: RESULTS from a follower");
		else
			srv_on_results(a, p, n);
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
		if (a->follower)
			break; /* it takes no work anyway */
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

const pd_conn_ops srv_conn_ops = {NULL, on_frame, on_close};

static void hb_cb(pd_loop *l, void *arg)
{
	pd_server *s = arg;
	uint64_t now = pd_loop_now(l), limit = (uint64_t)s->o.missed * s->o.heartbeat_ms;

	for (size_t i = 0; i < s->nagents_cap; i++) {
		srv_agent *a = s->agents[i];
		if (!a || !a->welcomed || !a->conn)
			continue;
		/* over the output cap nothing is read from the agent: output it
		 * takes is its sign of life then (a slow link, a big burst) */
		uint64_t heard = a->last_heard, moved = pd_conn_last_progress(a->conn);
		if (moved > heard)
			heard = moved;
		if (now - heard > limit) {
			pd_conn_close(a->conn, "missed heartbeats");
			continue;
		}
		pd_ping_encode(pd_conn_out(a->conn), PD_MSG_PING, pd_now_us());
		pd_conn_flush(a->conn);
	}
	pd_timer_start(s->hb, s->o.heartbeat_ms);
}

/* s->o.settings become the server's own: one block holding the array and
 * the bytes. -EINVAL when they break the codec's rules, or -ENOMEM. */
static int copy_settings(pd_server *s)
{
	const pd_setting *v = s->o.settings;
	uint32_t n = s->o.nsettings;
	size_t size = n * sizeof(*v);
	pd_setting *copy;
	uint8_t *bytes;

	s->o.settings = NULL;
	s->o.nsettings = 0;
	if (!n)
		return 0;
	if (n > PD_MAX_SETTINGS || !v)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i].len > PD_MAX_SETTING_LEN || (i && v[i].kind <= v[i - 1].kind))
			return -EINVAL;
		size += v[i].len;
	}
	if (!(copy = malloc(size)))
		return -ENOMEM;
	bytes = (uint8_t *)(copy + n);
	for (uint32_t i = 0; i < n; i++) {
		copy[i] = v[i];
		copy[i].data = bytes;
		if (v[i].len)
			memcpy(bytes, v[i].data, v[i].len);
		bytes += v[i].len;
	}
	s->o.settings = copy;
	s->o.nsettings = n;
	return 0;
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
	if (copy_settings(s) < 0) {
		pd_server_free(s);
		return NULL;
	}
	s->disp = pd_disp_new(&s->o.disp);
	s->hb = pd_timer_new(l, hb_cb, s);
	s->accept_retry = pd_timer_new(l, srv_accept_retry_cb, s);
	s->ids = malloc(SRV_MAX_BATCH * sizeof(*s->ids));
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
	rv = pd_loop_add(s->loop, fd, PD_EV_IN, srv_on_accept, s);
	if (rv < 0) {
		close(fd);
		snprintf(err, errlen, "cannot watch the listener: %s", strerror(-rv));
		return rv;
	}
	ls = &s->ls[s->nls++];
	ls->fd = fd;
	ls->tls = tls;
	ls->local = ep->kind == PD_EP_IPC;
	pd_endpoint_format(bound, ls->url, sizeof(ls->url));
	return 0;
}

int pd_server_add_tasks(pd_server *s, uint64_t n)
{
	int rv = pd_disp_add_tasks(s->disp, pd_disp_total(s->disp), n);

	if (rv == 0)
		srv_dispatch_later(s);
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

size_t pd_server_followers(const pd_server *s)
{
	return s->nfollowers;
}

void pd_server_exit_status(pd_server *s, int status)
{
	s->exit_status = (uint8_t)(status < 0 ? 255 : status > 255 ? 255 : status);
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
		if (!a || !a->welcomed || a->follower || !a->conn)
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
			if (!a || !a->welcomed || a->follower || !a->conn || a->draining)
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
			pd_bye_encode(pd_conn_out(a->conn), s->exit_status);
		pd_conn_close(a->conn, "controller finished");
	}
}

void pd_server_pause(pd_server *s, int pause)
{
	s->paused = pause != 0;
	if (!s->paused)
		srv_dispatch_later(s);
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
	free((void *)s->o.settings);
	free(s);
}
