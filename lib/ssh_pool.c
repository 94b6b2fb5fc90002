/* ssh_pool.c - the supervisor of one ssh per host (see ssh_pool.h; the
 * pure parts are in ssh.c, the command in ssh_cmd.c). */
#include "fd.h"
#include "ssh_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

#define TAIL_MAX 4096
#define LINE_MAX_ 512
#define STOP_GRACE_MS 5000

/* ---- the supervisor ---- */

typedef struct host_run {
	pd_ssh *owner;
	pd_ssh_host h;
	char name[320];
	char **argv;
	pid_t pid;
	int pidfd, in_fd, err_fd;
	char tail[TAIL_MAX]; /* this session's stderr, the last bytes */
	size_t tail_len;
	char part[LINE_MAX_]; /* a line being read */
	size_t part_len;
	char last[LINE_MAX_]; /* the last line worth showing */
	uint64_t started_ms, backoff_ms;
	unsigned early; /* sessions in a row that ended before PD_SSH_UP_MS */
	int ever_up, failed, left;
	char why[320];
	char code[32]; /* " [exit N]" of the last session, or "" */
	pd_timer *retry;
	unsigned rport; /* this session's tunnel port on the host (0: none yet) */
	int text_sent;  /* this session got its connection text */
} host_run;

struct pd_ssh {
	pd_loop *loop;
	host_run *hosts;
	size_t n;
	pd_buf text; /* the connection text: it holds the secret */
	unsigned rport;
	/* a tunnel whose far end the host's sshd picks (-R 0): each session
	 * gets its text once ssh reports the port; cf holds the secret */
	int dynamic;
	pd_connfile cf;
	int stopping;
};

/* ssh reported the far end of this session's tunnel: the agent there is
 * told to dial it. */
static void tunnel_ready(host_run *hr, unsigned port)
{
	pd_ssh *p = hr->owner;
	char endpoint[64];
	pd_buf text = {0};

	hr->text_sent = 1;
	hr->rport = port;
	snprintf(endpoint, sizeof(endpoint), "tls+tcp://127.0.0.1:%u", port);
	if (pd_ssh_conn_text(&p->cf, endpoint, &text) < 0) {
		pd_err("ssh %s: out of memory", hr->name);
	} else {
		pd_debug("ssh %s: the tunnel's far end is 127.0.0.1:%u there", hr->name, port);
		if (hr->in_fd >= 0)
			(void)pd_write_all(hr->in_fd, pd_buf_head(&text), pd_buf_size(&text));
	}
	if (text.data)
		memset(text.data, 0, text.cap);
	pd_buf_free(&text);
}

static void on_line(host_run *hr)
{
	char *s = hr->part;
	unsigned port;

	hr->part[hr->part_len] = 0;
	hr->part_len = 0;
	s[strcspn(s, "\r")] = 0;
	if (!*s)
		return;
	if (hr->owner->dynamic && !hr->text_sent && pd_ssh_allocated_port(s, &port)) {
		tunnel_ready(hr, port);
		return;
	}
	/* the remote agent's own log lines are shown as a local agent's are;
	 * ssh's are kept for when the session ends */
	if (!strncmp(s, "parade-agent: ", 14))
		pd_info("ssh %s: %s", hr->name, s);
	else
		pd_debug("ssh %s: %s", hr->name, s);
	/* ssh's note on a first connection says nothing about a failure */
	if (strncmp(s, "Warning: Permanently added", 26) != 0)
		snprintf(hr->last, sizeof(hr->last), "%s", s);
}

static void feed(host_run *hr, const char *p, size_t n)
{
	if (n >= TAIL_MAX - 1) {
		memcpy(hr->tail, p + n - (TAIL_MAX - 1), TAIL_MAX - 1);
		hr->tail_len = TAIL_MAX - 1;
	} else {
		if (hr->tail_len + n > TAIL_MAX - 1) {
			size_t drop = hr->tail_len + n - (TAIL_MAX - 1);
			memmove(hr->tail, hr->tail + drop, hr->tail_len - drop);
			hr->tail_len -= drop;
		}
		memcpy(hr->tail + hr->tail_len, p, n);
		hr->tail_len += n;
	}
	hr->tail[hr->tail_len] = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			on_line(hr);
		else if (hr->part_len < LINE_MAX_ - 1)
			hr->part[hr->part_len++] = p[i];
	}
}

/* Reads what ssh wrote; 1 at end of file (or error), else 0. */
static int drain(host_run *hr)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(hr->err_fd, buf, sizeof(buf));
		if (n > 0) {
			feed(hr, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return !(n < 0 && errno == EAGAIN);
	}
}

static void close_err(host_run *hr)
{
	if (hr->err_fd < 0)
		return;
	pd_loop_del(hr->owner->loop, hr->err_fd);
	close(hr->err_fd);
	hr->err_fd = -1;
	if (hr->part_len)
		on_line(hr);
}

static void ended(host_run *hr, int st);

static void on_err(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	host_run *hr = arg;
	int st = 0;

	(void)l;
	(void)fd;
	(void)ev;
	if (!drain(hr))
		return;
	close_err(hr);
	/* without a pidfd, the end of ssh's stderr is the sign it exited */
	if (hr->pidfd < 0 && hr->pid > 0 && pd_reap(hr->pid, &st, NULL, 0) == hr->pid)
		ended(hr, st);
}

static void on_exit_fd(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	host_run *hr = arg;
	int st = 0;

	(void)ev;
	if (pd_reap(hr->pid, &st, NULL, 1) != hr->pid)
		return;
	pd_loop_del(l, fd);
	close(fd);
	hr->pidfd = -1;
	ended(hr, st);
}

static int spawn(host_run *hr)
{
	pd_ssh *p = hr->owner;
	int in[2] = {-1, -1}, er[2] = {-1, -1}, e, exec_err = 0;
	const uint8_t *t = pd_buf_head(&p->text);
	size_t left = pd_buf_size(&p->text);
	pd_spawn_opts so;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
		e = -errno;
		goto fail;
	}
	/* its own group, gone with the controller; stdout to /dev/null */
	pd_spawn_init(&so, hr->argv);
	so.fd[0] = in[0];
	so.fd[1] = PD_SPAWN_NULL;
	so.fd[2] = er[1];
	so.death_signal = SIGTERM;
	if ((e = pd_spawn(&so, &pid, &exec_err)) < 0)
		goto fail;
	close(in[0]);
	close(er[1]);
	hr->pid = pid;
	hr->in_fd = in[1];
	hr->err_fd = er[0];
	hr->tail_len = hr->part_len = 0;
	hr->tail[0] = hr->last[0] = 0;
	hr->started_ms = pd_now_us() / 1000;
	hr->rport = p->rport;
	hr->text_sent = !p->dynamic;
	if (exec_err) {
		/* the child exits 127; its end is judged on this line
		 * (pd_ssh_classify) */
		char line[600];
		int n = snprintf(line, sizeof(line), "parade: cannot run ssh program '%s': %s\n",
				 hr->argv[0], strerror(exec_err));
		feed(hr, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
	} else if (!p->dynamic) {
		(void)pd_write_all(hr->in_fd, t, left);
	}
	fcntl(hr->err_fd, F_SETFL, O_NONBLOCK);
	if (pd_loop_add(p->loop, hr->err_fd, PD_EV_IN, on_err, hr) < 0) {
		close(hr->err_fd);
		hr->err_fd = -1;
	}
	hr->pidfd = pd_pidfd(pid);
	if (hr->pidfd >= 0 && pd_loop_add(p->loop, hr->pidfd, PD_EV_IN, on_exit_fd, hr) < 0) {
		close(hr->pidfd);
		hr->pidfd = -1;
	}
	pd_debug("ssh %s: started (pid %d)", hr->name, (int)pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	return e;
}

static void retry_later(host_run *hr)
{
	hr->backoff_ms = hr->backoff_ms ? hr->backoff_ms * 2 : PD_SSH_BACKOFF_MIN_MS;
	if (hr->backoff_ms > PD_SSH_BACKOFF_MAX_MS)
		hr->backoff_ms = PD_SSH_BACKOFF_MAX_MS;
	pd_timer_start(hr->retry, hr->backoff_ms);
}

static void retry_cb(pd_loop *l, void *arg)
{
	host_run *hr = arg;
	int rv;

	(void)l;
	if (hr->owner->stopping)
		return;
	rv = spawn(hr);
	if (rv < 0) {
		pd_err("ssh %s: cannot start ssh: %s", hr->name, strerror(-rv));
		retry_later(hr);
	}
}

/* One session of hr ended with wait status st. */
static void ended(host_run *hr, int st)
{
	pd_ssh *p = hr->owner;
	char why[256];
	int verdict, up;

	if (hr->err_fd >= 0) {
		drain(hr);
		close_err(hr);
	}
	if (hr->in_fd >= 0) {
		close(hr->in_fd);
		hr->in_fd = -1;
	}
	hr->pid = 0;
	if (p->stopping)
		return;
	up = pd_now_us() / 1000 - hr->started_ms >= PD_SSH_UP_MS;
	if (up) {
		hr->ever_up = 1;
		hr->early = 0;
		hr->backoff_ms = 0;
	} else {
		hr->early++;
	}
	verdict = pd_ssh_classify(st, hr->tail, hr->rport, why, sizeof(why));
	/* the agent there ran, but never got its text */
	if (!hr->text_sent && verdict != PD_SSH_LEFT && WIFEXITED(st) && WEXITSTATUS(st) != 255) {
		snprintf(why, sizeof(why), "ssh did not report the tunnel's port (its LogLevel "
			 "below INFO, or a ControlMaster connection?); choose one with --tunnel-port");
		verdict = PD_SSH_GIVE_UP;
	}
	/* why names the signal already */
	if (WIFEXITED(st))
		snprintf(hr->code, sizeof(hr->code), " [exit %d]", WEXITSTATUS(st));
	else
		hr->code[0] = 0;
	if (verdict == PD_SSH_LEFT) {
		hr->left = 1;
		pd_debug("ssh %s: the agent left%s", hr->name, hr->code);
		return;
	}
	if (!hr->ever_up && (verdict == PD_SSH_GIVE_UP || hr->early >= PD_SSH_EARLY_LIMIT)) {
		hr->failed = 1;
		if (verdict != PD_SSH_GIVE_UP)
			snprintf(hr->why, sizeof(hr->why), "%s, %u times in a row", why, hr->early);
		else
			snprintf(hr->why, sizeof(hr->why), "%s", why);
		pd_err("ssh %s: giving up: %s%s%s%s", hr->name, hr->why, hr->code,
		       hr->last[0] ? ": " : "", hr->last);
		return;
	}
	retry_later(hr);
	pd_warn("ssh %s: %s%s%s%s; starting it again in %llu s", hr->name, why, hr->code,
		hr->last[0] ? ": " : "", hr->last, (unsigned long long)(hr->backoff_ms / 1000));
}

static int is_loopback(const char *h)
{
	return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "localhost");
}

/* The user's LogLevel option when it is quieter than INFO, else NULL. */
static const char *loglevel_quiet(const pd_ssh_opts *o)
{
	static const char *const quiet[] = {"quiet", "fatal", "error"};

	for (size_t i = 0; i < o->nopts; i++) {
		const char *v = o->ssh_opts[i];
		if (strncasecmp(v, "loglevel", 8) != 0)
			continue;
		v += 8;
		v += strspn(v, " \t=");
		for (size_t k = 0; k < sizeof(quiet) / sizeof(quiet[0]); k++)
			if (!strncasecmp(v, quiet[k], strlen(quiet[k])))
				return o->ssh_opts[i];
		return NULL; /* ssh keeps the first one */
	}
	return NULL;
}

pd_ssh *pd_ssh_start(pd_loop *l, const pd_ssh_opts *o, const pd_connfile *cf,
		     const pd_endpoint *listen_bound, char *err, size_t errlen)
{
	pd_ssh *p = NULL;
	pd_buf cmd = {0};
	pd_endpoint ep;
	char endpoint[600], fwd[400], why[600];
	const char *ssh = o->ssh_program, *target, *quiet;
	size_t i;

	if (!ssh)
		ssh = getenv("PARADE_SSH");
	if (!ssh || !*ssh)
		ssh = "ssh";
	if (!o->nhosts) {
		snprintf(err, errlen, "no ssh hosts given");
		return NULL;
	}
	if (!listen_bound || listen_bound->kind != PD_EP_TLS_TCP ||
	    pd_endpoint_parse(cf->endpoint, &ep, why, sizeof(why)) < 0 ||
	    ep.kind != PD_EP_TLS_TCP) {
		snprintf(err, errlen, "agents started over ssh dial the controller over TLS: it must "
			 "listen on tls+tcp:// (--listen tls+tcp://HOST:PORT, or --tunnel)");
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->hosts = calloc(o->nhosts, sizeof(host_run))))
		goto nomem;
	p->loop = l;
	p->n = o->nhosts;
	for (i = 0; i < p->n; i++) {
		p->hosts[i].pidfd = p->hosts[i].in_fd = p->hosts[i].err_fd = -1;
		p->hosts[i].owner = p;
	}
	if (o->tunnel) {
		/* without a chosen port each host's sshd picks a free one: the
		 * controller's own number may be taken there (the host is this
		 * machine, or the same host is listed twice) */
		p->rport = o->tunnel_port;
		p->dynamic = !o->tunnel_port;
		p->cf = *cf;
		if (p->dynamic && (quiet = loglevel_quiet(o)) != NULL) {
			snprintf(err, errlen, "--ssh-opt %s hides the port ssh reports for --tunnel; "
				 "drop it or choose the port with --tunnel-port", quiet);
			goto fail;
		}
		snprintf(endpoint, sizeof(endpoint), "tls+tcp://127.0.0.1:%u", p->rport);
		target = listen_bound->host;
		if (!*target || !strcmp(target, "0.0.0.0"))
			target = "127.0.0.1";
		else if (!strcmp(target, "::"))
			target = "::1";
		if (pd_ssh_forward(p->rport, target, listen_bound->port, fwd, sizeof(fwd)) < 0)
			goto nomem;
	} else {
		snprintf(endpoint, sizeof(endpoint), "%s", cf->endpoint);
	}
	if (pd_ssh_conn_text(cf, endpoint, &p->text) < 0)
		goto nomem;
	for (i = 0; i < p->n; i++) {
		host_run *hr = &p->hosts[i];
		int rv;
		hr->h = o->hosts[i];
		pd_ssh_host_name(&hr->h, hr->name, sizeof(hr->name));
		if (!o->tunnel && is_loopback(ep.host) && !is_loopback(hr->h.host))
			pd_warn("ssh %s: the agent there is told to dial %s, a loopback address; "
				"use --tunnel or --listen tls+tcp://0.0.0.0:0", hr->name,
				cf->endpoint);
		pd_buf_reset(&cmd);
		if (pd_ssh_remote_cmd(o, &hr->h, cf->session, i, &cmd) < 0 ||
		    pd_buf_append(&cmd, "", 1) < 0 ||
		    !(hr->argv = pd_ssh_argv(ssh, o, &hr->h, o->tunnel ? fwd : NULL,
					     (const char *)pd_buf_head(&cmd))) ||
		    !(hr->retry = pd_timer_new(l, retry_cb, hr)))
			goto nomem;
		rv = spawn(hr);
		if (rv < 0) {
			snprintf(err, errlen, "cannot start ssh for %s: %s", hr->name, strerror(-rv));
			goto fail;
		}
	}
	pd_buf_free(&cmd);
	pd_debug("started ssh to %zu host(s)%s", p->n, o->tunnel ? " with tunnels" : "");
	return p;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	pd_buf_free(&cmd);
	pd_ssh_stop(p);
	pd_ssh_free(p);
	return NULL;
}

unsigned pd_ssh_hosts(const pd_ssh *p)
{
	return p ? (unsigned)p->n : 0;
}

unsigned pd_ssh_alive(const pd_ssh *p)
{
	unsigned k = 0;

	for (size_t i = 0; p && i < p->n; i++)
		k += p->hosts[i].pid > 0;
	return k;
}

unsigned pd_ssh_failed(const pd_ssh *p)
{
	unsigned k = 0;

	for (size_t i = 0; p && i < p->n; i++)
		k += p->hosts[i].failed;
	return k;
}

unsigned pd_ssh_active(const pd_ssh *p)
{
	unsigned k = 0;

	for (size_t i = 0; p && i < p->n; i++)
		k += !p->hosts[i].failed && !p->hosts[i].left;
	return k;
}

void pd_ssh_report(const pd_ssh *p)
{
	for (size_t i = 0; p && i < p->n; i++) {
		const host_run *hr = &p->hosts[i];
		if (hr->failed)
			pd_err("ssh %s: failed: %s%s%s%s", hr->name, hr->why, hr->code,
			       hr->last[0] ? ": " : "", hr->last);
		else if (!hr->ever_up && !hr->left && hr->last[0])
			pd_err("ssh %s: not working yet; ssh said: %s", hr->name, hr->last);
	}
}

void pd_ssh_stop(pd_ssh *p)
{
	pid_t *pids;

	if (!p)
		return;
	p->stopping = 1;
	for (size_t i = 0; i < p->n; i++) {
		host_run *hr = &p->hosts[i];
		pd_timer_stop(hr->retry);
		if (hr->pidfd >= 0) {
			pd_loop_del(p->loop, hr->pidfd);
			close(hr->pidfd);
			hr->pidfd = -1;
		}
		/* the end of its stdin tells the remote agent to leave */
		if (hr->in_fd >= 0) {
			close(hr->in_fd);
			hr->in_fd = -1;
		}
	}
	pids = calloc(p->n ? p->n : 1, sizeof(*pids));
	for (size_t i = 0; i < p->n; i++) {
		if (pids)
			pids[i] = p->hosts[i].pid;
		else if (p->hosts[i].pid > 0) /* out of memory: no time to wait */
			pd_stop_groups(&p->hosts[i].pid, 1, 0, 0);
	}
	if (pids)
		pd_stop_groups(pids, p->n, STOP_GRACE_MS, 2000);
	for (size_t i = 0; i < p->n; i++)
		p->hosts[i].pid = 0;
	free(pids);
	for (size_t i = 0; i < p->n; i++)
		close_err(&p->hosts[i]);
}

void pd_ssh_free(pd_ssh *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->hosts && i < p->n; i++) {
		pd_ssh_argv_free(p->hosts[i].argv);
		pd_timer_free(p->hosts[i].retry);
	}
	free(p->hosts);
	if (p->text.data)
		memset(p->text.data, 0, p->text.cap);
	pd_buf_free(&p->text);
	memset(&p->cf, 0, sizeof(p->cf));
	free(p);
}
