#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "handler.h"
#include "log.h"
#include "spawn.h"

#define PROC_READ_CHUNK 65536u
/* reads per readiness callback, so one chatty child cannot starve others */
#define PROC_READS_PER_CB 8
/* reads when draining at exit; a grandchild may still be writing */
#define PROC_DRAIN_READS 64
#define PROC_KILL_GRACE_MS 1000u
#define PROC_POLL_MS 20u
/* How long the result of a task that died of a signal the agent did not
 * send (SIGTERM, SIGKILL, SIGINT, SIGHUP from outside; or exited 128 + one
 * of them, a shell whose command died of it) is held before it is
 * reported failed. Slurm ends a step (scancel, a time limit) by
 * signalling every process of it at once, the agent included, so the task
 * may die before the agent has handled its own SIGTERM; if the agent is
 * told to stop within this time, the task is not reported: it was ended
 * with its agent, and the controller requeues it as lost. The signals
 * arrive within milliseconds of each other; half a second covers a
 * loaded node and costs a task that really was killed on its own only
 * that delay. */
#define PROC_FOREIGN_HOLD_MS 500u

struct stream {
	int fd;
	uint8_t trunc_flag;
	pd_buf buf;
};

struct pd_proc {
	struct pd_proc *prev, *next;
	pd_loop *loop;
	pd_proc_done_cb cb;
	void *arg;
	uint64_t id;
	uint32_t attempt;
	uint32_t timeout_ms;
	uint32_t out_limit;
	pid_t pid;
	int pidfd; /* -1: polled with poll_timer (no pidfd_open) */
	struct stream out, err;
	uint8_t flags;
	pd_timer *timer; /* timeout, then the SIGKILL grace period */
	pd_timer *poll_timer;
	uint64_t start_us;
	int exec_errno;
	int timed_out;
	int term_sent;
	int cancelled;
	/* reaped, its result held for PROC_FOREIGN_HOLD_MS (pid is 0) */
	int held;
	int have_status, status;
	struct rusage ru;
	uint64_t end_us;
	char *prog;
};

static struct pd_proc *procs;

/* Shared discard buffer for output beyond the limit: the loop is single
 * threaded and its contents are never looked at. */
static uint8_t scratch[PROC_READ_CHUNK];

static void list_add(struct pd_proc *p)
{
	p->prev = NULL;
	p->next = procs;
	if (procs)
		procs->prev = p;
	procs = p;
}

static void list_del(struct pd_proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else if (procs == p)
		procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/* ---- the parent side ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void stream_stop(struct pd_proc *p, struct stream *s)
{
	if (s->fd < 0)
		return;
	pd_loop_del(p->loop, s->fd);
	close_fd(&s->fd);
}

/* Reads at most max_reads chunks. Returns 1 at EOF or error (stream done),
 * 0 when the pipe is empty or the budget is spent. */
static int stream_read(struct pd_proc *p, struct stream *s, int max_reads)
{
	for (int i = 0; i < max_reads; i++) {
		size_t have = pd_buf_size(&s->buf);
		size_t room = p->out_limit > have ? p->out_limit - have : 0;
		uint8_t *dst = scratch;
		size_t want = sizeof(scratch);
		ssize_t n;

		if (room) {
			want = room < PROC_READ_CHUNK ? room : PROC_READ_CHUNK;
			/* + 1 keeps room for the terminating NUL at delivery */
			if (pd_buf_reserve(&s->buf, want + 1) == 0)
				dst = s->buf.data + s->buf.len;
			else
				want = sizeof(scratch);
		}
		n = read(s->fd, dst, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return 1;
		}
		if (n == 0)
			return 1;
		if (dst == scratch)
			p->flags |= s->trunc_flag;
		else
			s->buf.len += (size_t)n;
	}
	return 0;
}

static void on_pipe(pd_loop *l, int fd, uint32_t events, void *arg)
{
	struct pd_proc *p = arg;
	struct stream *s = fd == p->out.fd ? &p->out : &p->err;

	(void)l;
	(void)events;
	if (stream_read(p, s, PROC_READS_PER_CB))
		stream_stop(p, s);
}

static void format_timeout(char *dst, size_t n, uint32_t ms)
{
	char frac[8];
	size_t len;

	if (ms % 1000 == 0) {
		snprintf(dst, n, "timed out after %u s", ms / 1000);
		return;
	}
	snprintf(frac, sizeof(frac), "%03u", ms % 1000);
	len = strlen(frac);
	while (len > 1 && frac[len - 1] == '0')
		frac[--len] = '\0';
	snprintf(dst, n, "timed out after %u.%s s", ms / 1000, frac);
}

static const char *stream_bytes(struct stream *s, uint32_t *len)
{
	size_t n = pd_buf_size(&s->buf);

	*len = (uint32_t)n;
	if (!s->buf.data)
		return "";
	/* the reserve in stream_read left room for this */
	s->buf.data[s->buf.len] = '\0';
	return (const char *)pd_buf_head(&s->buf);
}

static void proc_release(struct pd_proc *p)
{
	stream_stop(p, &p->out);
	stream_stop(p, &p->err);
	if (p->pidfd >= 0) {
		pd_loop_del(p->loop, p->pidfd);
		close_fd(&p->pidfd);
	}
	pd_timer_free(p->timer);
	pd_timer_free(p->poll_timer);
	pd_buf_free(&p->out.buf);
	pd_buf_free(&p->err.buf);
	free(p->prog);
	free(p);
}

static void deliver(struct pd_proc *p, int have_status, int status, const struct rusage *ru,
                    uint64_t end_us)
{
	pd_result_msg r;
	char error[256];

	memset(&r, 0, sizeof(r));
	r.id = p->id;
	r.attempt = p->attempt;
	r.exit_code = -1;
	r.wall_us = end_us - p->start_us;
	r.cpu_us = (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec +
	           (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
	r.maxrss_kb = ru->ru_maxrss > 0 ? (uint64_t)ru->ru_maxrss : 0;
	error[0] = '\0';

	if (have_status && WIFEXITED(status))
		r.exit_code = WEXITSTATUS(status);
	else if (have_status && WIFSIGNALED(status))
		r.signal = WTERMSIG(status);

	if (p->cancelled) {
		r.status = PD_ST_FAILED;
		snprintf(error, sizeof(error), "cancelled");
	} else if (p->timed_out) {
		r.status = PD_ST_TIMEOUT;
		format_timeout(error, sizeof(error), p->timeout_ms);
	} else if (!have_status) {
		r.status = PD_ST_FAILED;
		snprintf(error, sizeof(error), "child status lost");
	} else if (p->exec_errno) {
		r.status = PD_ST_FAILED;
		r.exit_code = 127;
		r.signal = 0;
		snprintf(error, sizeof(error), "cannot execute '%s': %s", p->prog,
		         strerror(p->exec_errno));
	} else if (r.signal) {
		const char *abbrev = sigabbrev_np(r.signal);

		r.status = PD_ST_FAILED;
		if (abbrev)
			snprintf(error, sizeof(error), "killed by signal %d (SIG%s)", r.signal,
			         abbrev);
		else
			snprintf(error, sizeof(error), "killed by signal %d", r.signal);
	} else {
		r.status = r.exit_code == 0 ? PD_ST_OK : PD_ST_FAILED;
	}

	r.out = (char *)stream_bytes(&p->out, &r.out_len);
	r.err = (char *)stream_bytes(&p->err, &r.err_len);
	r.flags = p->flags;
	r.error = error;
	p->cb(p, &r, p->arg);
}

/* Whether the child died of a signal that may have come with the end of
 * the agent itself (see PROC_FOREIGN_HOLD_MS): one this agent did not send
 * (not a timeout's, not a cancel's) of those that end a step; or it exited
 * 128 + such a signal's number, as a shell does whose command died of it
 * (Slurm signals the shell of a task and its command alike). */
static int died_foreign(const struct pd_proc *p, int status)
{
	int sig;

	if (p->cancelled || p->timed_out || p->exec_errno)
		return 0;
	if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	else if (WIFEXITED(status) && WEXITSTATUS(status) > 128)
		sig = WEXITSTATUS(status) - 128;
	else
		return 0;
	return sig == SIGTERM || sig == SIGKILL || sig == SIGINT || sig == SIGHUP;
}

/* Called when the child may have exited: reaps it and delivers (or holds
 * the result, see died_foreign). */
static void check_exit(struct pd_proc *p)
{
	struct rusage ru;
	int status = 0, have_status = 1;
	uint64_t end_us;
	pid_t w;

	/* peek first: the pid stays ours (a zombie) while we drain and kill
	 * the group, so the group id cannot be reused under us */
	if (pd_spawn_exited(p->pid) == 0)
		return;
	end_us = pd_now_us();

	if (p->out.fd >= 0 && stream_read(p, &p->out, PROC_DRAIN_READS))
		stream_stop(p, &p->out);
	if (p->err.fd >= 0 && stream_read(p, &p->err, PROC_DRAIN_READS))
		stream_stop(p, &p->err);
	pd_kill_group(p->pid, SIGKILL);

	memset(&ru, 0, sizeof(ru));
	w = pd_reap(p->pid, &status, &ru, 0);
	if (w != p->pid) {
		pd_warn("task %llu: cannot reap pid %d: %s", (unsigned long long)p->id, (int)p->pid,
		        strerror(w < 0 ? (int)-w : ECHILD));
		have_status = 0;
	}

	stream_stop(p, &p->out);
	stream_stop(p, &p->err);
	pd_timer_stop(p->timer);
	pd_timer_stop(p->poll_timer);
	if (p->pidfd >= 0) {
		pd_loop_del(p->loop, p->pidfd);
		close_fd(&p->pidfd);
	}
	if (have_status && died_foreign(p, status)) {
		/* kept on the list: an agent that stops meanwhile frees it
		 * without a result (pd_proc_kill_all) */
		p->held = 1;
		p->pid = 0;
		p->have_status = have_status;
		p->status = status;
		p->ru = ru;
		p->end_us = end_us;
		pd_debug("task %llu ended by a signal this agent did not send (wait status "
		         "0x%x): holding its result %u ms",
		         (unsigned long long)p->id, (unsigned)status, PROC_FOREIGN_HOLD_MS);
		pd_timer_start(p->timer, PROC_FOREIGN_HOLD_MS);
		return;
	}
	list_del(p);
	deliver(p, have_status, status, &ru, end_us);
	proc_release(p);
}

/* The held result's time is up (or it was cancelled meanwhile): report it. */
static void deliver_held(struct pd_proc *p)
{
	list_del(p);
	deliver(p, p->have_status, p->status, &p->ru, p->end_us);
	proc_release(p);
}

static void on_pidfd(pd_loop *l, int fd, uint32_t events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	check_exit(arg);
}

static void on_poll(pd_loop *l, void *arg)
{
	struct pd_proc *p = arg;

	(void)l;
	pd_timer_start(p->poll_timer, PROC_POLL_MS);
	check_exit(p);
}

static void on_timer(pd_loop *l, void *arg)
{
	struct pd_proc *p = arg;

	(void)l;
	if (p->held) {
		deliver_held(p);
		return;
	}
	if (!p->term_sent) {
		p->timed_out = 1;
		p->term_sent = 1;
		pd_kill_group(p->pid, SIGTERM);
		pd_timer_start(p->timer, PROC_KILL_GRACE_MS);
	} else {
		pd_kill_group(p->pid, SIGKILL);
	}
}

static int open_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/* only our end: the child's stdout must stay blocking */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;

		close(fds[0]);
		close(fds[1]);
		return e;
	}
	return 0;
}

/* Starts the child (lib/spawn.h): its own process group, SIGKILL when the
 * agent dies, stdin /dev/null, stdout and stderr to the pipes. On return
 * the child exists and p->exec_errno tells whether exec worked. The passed
 * fds are closed on every path. */
static int spawn(struct pd_proc *p, char *const argv[], int out_w, int err_w)
{
	pd_spawn_opts o;
	int rv;

	pd_spawn_init(&o, argv);
	o.fd[0] = PD_SPAWN_NULL;
	o.fd[1] = out_w;
	o.fd[2] = err_w;
	o.group = PD_SPAWN_GROUP;
	o.death_signal = SIGKILL;
	p->start_us = pd_now_us();
	rv = pd_spawn(&o, &p->pid, &p->exec_errno);
	close(out_w);
	close(err_w);
	return rv;
}

static void abort_child(struct pd_proc *p)
{
	pd_kill_group(p->pid, SIGKILL);
	pd_reap(p->pid, NULL, NULL, 0);
}

int pd_proc_start(pd_loop *l, const pd_task_msg *t, pd_proc_done_cb cb, void *arg, pd_proc **out)
{
	struct pd_proc *p;
	int opipe[2], epipe[2], rv;

	*out = NULL;
	if (!l || !t || !cb || t->kind != PD_TASK_PROCESS || t->argc == 0 || !t->argv ||
	    !t->argv[0])
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = l;
	p->cb = cb;
	p->arg = arg;
	p->id = t->id;
	p->attempt = t->attempt;
	p->timeout_ms = t->timeout_ms;
	p->out_limit = t->out_limit;
	p->pidfd = -1;
	p->out.fd = -1;
	p->err.fd = -1;
	p->out.trunc_flag = PD_RF_OUT_TRUNC;
	p->err.trunc_flag = PD_RF_ERR_TRUNC;
	p->prog = strdup(t->argv[0]);
	p->timer = pd_timer_new(l, on_timer, p);
	if (!p->prog || !p->timer) {
		rv = -ENOMEM;
		goto fail;
	}

	rv = open_pipe(opipe);
	if (rv < 0)
		goto fail;
	rv = open_pipe(epipe);
	if (rv < 0) {
		close(opipe[0]);
		close(opipe[1]);
		goto fail;
	}
	p->out.fd = opipe[0];
	p->err.fd = epipe[0];
	rv = spawn(p, t->argv, opipe[1], epipe[1]);
	if (rv < 0)
		goto fail;

	p->pidfd = pd_pidfd(p->pid);
	if (p->pidfd >= 0) {
		rv = pd_loop_add(l, p->pidfd, PD_EV_IN, on_pidfd, p);
	} else {
		p->poll_timer = pd_timer_new(l, on_poll, p);
		rv = p->poll_timer ? 0 : -ENOMEM;
		if (p->poll_timer)
			pd_timer_start(p->poll_timer, PROC_POLL_MS);
	}
	if (rv == 0)
		rv = pd_loop_add(l, p->out.fd, PD_EV_IN, on_pipe, p);
	if (rv == 0)
		rv = pd_loop_add(l, p->err.fd, PD_EV_IN, on_pipe, p);
	if (rv < 0) {
		abort_child(p);
		goto fail;
	}
	if (p->timeout_ms)
		pd_timer_start(p->timer, p->timeout_ms);

	list_add(p);
	*out = p;
	return 0;

fail:
	proc_release(p);
	return rv;
}

void pd_proc_cancel(pd_proc *p)
{
	if (!p)
		return;
	p->cancelled = 1;
	if (p->held) {
		/* dead already: its result (cancelled) comes from the loop */
		pd_timer_start(p->timer, 0);
		return;
	}
	pd_kill_group(p->pid, SIGKILL);
}

void pd_proc_kill_all(void)
{
	struct pd_proc *p, *next;
	struct timespec ts = {0, 10 * 1000 * 1000};
	int left;

	for (p = procs; p; p = p->next)
		if (p->pid > 0)
			pd_kill_group(p->pid, SIGKILL);
	/* reap with a deadline: a child stuck in uninterruptible sleep must
	 * not hang the agent's shutdown */
	for (int tries = 0; tries < 200; tries++) {
		left = 0;
		for (p = procs; p; p = p->next) {
			if (p->pid <= 0)
				continue;
			if (pd_reap(p->pid, NULL, NULL, 1) == 0)
				left++;
			else
				p->pid = 0;
		}
		if (!left)
			break;
		nanosleep(&ts, NULL);
	}
	for (p = procs; p; p = next) {
		next = p->next;
		list_del(p);
		proc_release(p);
	}
}

/* ---- the process kind (handler.h) ---- */

static void handler_done(pd_proc *p, const pd_result_msg *r, void *arg)
{
	const pd_handler_env *env = arg;

	(void)p;
	env->done(env->arg, r);
}

static int handler_open(const pd_handler_env *env, void **state)
{
	*state = (void *)env;
	return 0;
}

static int handler_start(void *state, const pd_task_msg *t, char *err, size_t errlen)
{
	pd_proc *p;
	int rv = pd_proc_start(((const pd_handler_env *)state)->loop, t, handler_done, state, &p);

	if (rv < 0)
		snprintf(err, errlen, "agent could not start a process");
	return rv;
}

static void handler_cancel(void *state, const pd_idset *ids)
{
	(void)state;
	for (struct pd_proc *p = procs; p; p = p->next)
		if (!p->cancelled && pd_idset_has(ids, p->id))
			pd_proc_cancel(p);
}

static void handler_close(void *state)
{
	(void)state;
	pd_proc_kill_all();
}

const pd_handler_ops pd_handler_process = {
	.name = "process",
	.kind = PD_TASK_PROCESS,
	.open = handler_open,
	.start = handler_start,
	.cancel = handler_cancel,
	.close = handler_close,
};
