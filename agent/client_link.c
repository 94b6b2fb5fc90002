/* client_link.c - the agent's connection to its controller (client_int.h):
 * dialling and redialling (backoff, grace period, --stay), HELLO,
 * heartbeats, the connection file read again, and what ends the agent from
 * outside. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "log.h"
#include "net.h"
#include "session.h"

static void send_hello(agent *a)
{
	pd_hello h;
	char pid_step[64] = "";
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");

	memset(&h, 0, sizeof(h));
	h.agent_id = a->o->id;
	h.host = a->host;
	h.pid = (uint32_t)getpid();
	h.slots = a->o->follow ? 0 : a->o->slots; /* 0: a follower */
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


static void schedule_retry(agent *a)
{
	uint64_t now = pd_loop_now(a->loop), delay;
	uint8_t r[2];

	uint64_t max = a->o->stay ? STAY_BACKOFF_MAX_MS : BACKOFF_MAX_MS;

	if (!a->lost_since)
		a->lost_since = now;
	if (!a->o->stay && now - a->lost_since >= a->o->grace_ms) {
		pd_err("controller unreachable for %.1f s, exiting", (double)a->o->grace_ms / 1000.0);
		cl_finish(a, a->o->follow ? 2 : 1);
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
	return cl_open_handlers(a);
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
			cl_finish(a, 2);
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
		cl_finish(a, cl_refused(a));
		return;
	}
	if (a->o->follow && was_welcomed) {
		pd_err("lost the controller before its run ended (%s): its exit status is not "
		       "known",
		       why);
		cl_finish(a, 2);
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

static const pd_conn_ops agent_conn_ops = {on_ready, cl_on_frame, on_close};

void cl_connect(agent *a)
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

void cl_retry_cb(pd_loop *l, void *arg)
{
	(void)l;
	reread_endpoint(arg);
	cl_connect(arg);
}


void cl_hb_cb(pd_loop *l, void *arg)
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
		cl_start_drain(a);
		cl_pump(a);
		return;
	}
	pd_timer_start(a->hb_timer, a->hb_ms);
}

/* In ssh mode stdin is the ssh session: nothing more comes after the
 * connection text, and its end means the session (or the controller) is
 * gone. Tasks never read it: they get /dev/null. */
void cl_on_stdin(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	agent *a = arg;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)ev;
	if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
		return;
	pd_loop_del(l, fd);
	pd_info("stdin closed (the ssh session ended): stopping tasks and leaving");
	cl_finish(a, 0);
}

void cl_on_signal(pd_loop *l, int signo, void *arg)
{
	agent *a = arg;

	(void)l;
	pd_debug("signal %d: stopping tasks and leaving", signo);
	/* a follower ends as the parade run it stands for would */
	cl_finish(a, a->o->follow ? 128 + signo : 0);
}

