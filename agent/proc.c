#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "log.h"

#define PROC_READ_CHUNK 65536u
/* reads per readiness callback, so one chatty child cannot starve others */
#define PROC_READS_PER_CB 8
/* reads when draining at exit; a grandchild may still be writing */
#define PROC_DRAIN_READS 64
#define PROC_KILL_GRACE_MS 1000u
#define PROC_POLL_MS 20u

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

/* ---- the child side (between fork and exec: async-signal-safe only) ---- */

static void child_fail(int errfd, int e)
{
	ssize_t rv;

	do
		rv = write(errfd, &e, sizeof(e));
	while (rv < 0 && errno == EINTR);
	_exit(127);
}

static void child_run(char *const argv[], pid_t parent, int nullfd, int outfd, int errfd_out,
                      int reportfd)
{
	int src[3] = {nullfd, outfd, errfd_out};
	int tmp[3];

	/* keep the report pipe out of the way of the dup2s onto 0-2 */
	if (reportfd < 3) {
		int fd = fcntl(reportfd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0)
			_exit(127);
		reportfd = fd;
	}
	if (setpgid(0, 0) < 0)
		child_fail(reportfd, errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(reportfd, errno);
	/* the parent may have died before prctl took effect */
	if (getppid() != parent)
		_exit(127);
	pd_loop_child_sigmask();

	/* copy above 2 first so no dup2 clobbers a source, and so dup2 never
	 * sees fd == target (which would keep FD_CLOEXEC) */
	for (int i = 0; i < 3; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD, 3);
		if (tmp[i] < 0)
			child_fail(reportfd, errno);
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(tmp[i], i) < 0)
			child_fail(reportfd, errno);
	}
	if (reportfd != 3) {
		if (dup3(reportfd, 3, O_CLOEXEC) < 0)
			child_fail(reportfd, errno);
		reportfd = 3;
	}
	pd_close_from(4);

	execvp(argv[0], argv);
	child_fail(reportfd, errno);
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

/* Called when the child may have exited: reaps it and delivers. */
static void check_exit(struct pd_proc *p)
{
	siginfo_t si;
	struct rusage ru;
	int status = 0, have_status = 1;
	uint64_t end_us;
	pid_t w;

	/* peek first: the pid stays ours (a zombie) while we drain and kill
	 * the group, so the group id cannot be reused under us */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
		return;
	end_us = pd_now_us();

	if (p->out.fd >= 0 && stream_read(p, &p->out, PROC_DRAIN_READS))
		stream_stop(p, &p->out);
	if (p->err.fd >= 0 && stream_read(p, &p->err, PROC_DRAIN_READS))
		stream_stop(p, &p->err);
	kill(-p->pid, SIGKILL);

	memset(&ru, 0, sizeof(ru));
	do
		w = wait4(p->pid, &status, 0, &ru);
	while (w < 0 && errno == EINTR);
	if (w != p->pid) {
		pd_warn("task %llu: cannot reap pid %d: %s", (unsigned long long)p->id, (int)p->pid,
		        strerror(errno));
		have_status = 0;
	}

	list_del(p);
	stream_stop(p, &p->out);
	stream_stop(p, &p->err);
	pd_timer_stop(p->timer);
	pd_timer_stop(p->poll_timer);
	deliver(p, have_status, status, &ru, end_us);
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
	if (!p->term_sent) {
		p->timed_out = 1;
		p->term_sent = 1;
		kill(-p->pid, SIGTERM);
		pd_timer_start(p->timer, PROC_KILL_GRACE_MS);
	} else {
		kill(-p->pid, SIGKILL);
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

/* Forks and execs; on return the child exists and p->exec_errno tells
 * whether exec worked. The passed fds are closed on every path. */
static int spawn(struct pd_proc *p, char *const argv[], int out_w, int err_w)
{
	int nullfd, report[2], e;
	pid_t parent = getpid(), pid;
	ssize_t n;

	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		e = -errno;
		goto out_close;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		e = -errno;
		close(nullfd);
		goto out_close;
	}

	p->start_us = pd_now_us();
	pid = fork();
	if (pid == 0) {
		close(report[0]);
		child_run(argv, parent, nullfd, out_w, err_w, report[1]);
	}
	e = pid < 0 ? -errno : 0;
	close(report[1]);
	close(nullfd);
	close(out_w);
	close(err_w);
	if (pid < 0) {
		close(report[0]);
		return e;
	}
	p->pid = pid;
	/* both sides set the group so kill(-pid) works whoever runs first */
	setpgid(pid, pid);

	/* blocks only until exec succeeds (EOF) or the child reports why not */
	do
		n = read(report[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	p->exec_errno = n == (ssize_t)sizeof(e) ? (e > 0 ? e : EIO) : 0;
	return 0;

out_close:
	close(out_w);
	close(err_w);
	return e;
}

static void abort_child(struct pd_proc *p)
{
	pid_t w;

	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	do
		w = waitpid(p->pid, NULL, 0);
	while (w < 0 && errno == EINTR);
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

#ifdef SYS_pidfd_open
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
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
	kill(-p->pid, SIGKILL);
}

void pd_proc_kill_all(void)
{
	struct pd_proc *p, *next;
	struct timespec ts = {0, 10 * 1000 * 1000};
	int left;

	for (p = procs; p; p = p->next)
		kill(-p->pid, SIGKILL);
	/* reap with a deadline: a child stuck in uninterruptible sleep must
	 * not hang the agent's shutdown */
	for (int tries = 0; tries < 200; tries++) {
		left = 0;
		for (p = procs; p; p = p->next) {
			pid_t w;

			if (p->pid <= 0)
				continue;
			w = waitpid(p->pid, NULL, WNOHANG);
			if (w == 0 || (w < 0 && errno == EINTR))
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
