/* spawn.c - see spawn.h. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"

extern char **environ;

void pd_spawn_init(pd_spawn_opts *o, char *const *argv)
{
	memset(o, 0, sizeof(*o));
	o->argv = argv;
	o->fd[0] = o->fd[1] = o->fd[2] = PD_SPAWN_KEEP;
	o->keep_fd = -1;
	o->group = PD_SPAWN_GROUP;
}

void pd_spawn_child_reset(void)
{
	/* exec resets caught signals by itself; only ignored ones and the
	 * mask survive it. These are the ones parade (or nohup) may ignore. */
	static const int sigs[] = {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM,
				   SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	sigset_t none;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void child_fail(int report, int e)
{
	ssize_t w;

	do
		w = write(report, &e, sizeof(e));
	while (w < 0 && errno == EINTR);
	_exit(127);
}

/* execve, and for a file the kernel will not run (ENOEXEC: a script
 * without "#!") /bin/sh FILE ARGS, as execvp does. */
static void exec_one(const char *file, char *const *argv, char *const *envp)
{
	size_t n = 0;

	execve(file, argv, envp);
	if (errno != ENOEXEC)
		return;
	while (argv[n])
		n++;
	if (n > 65536) {
		errno = ENOEXEC;
		return;
	}
	{
		char *shv[n + 3];

		shv[0] = (char *)"sh";
		shv[1] = (char *)file;
		for (size_t i = 1; i < n; i++)
			shv[i + 1] = argv[i];
		shv[n ? n + 1 : 2] = NULL;
		execve("/bin/sh", shv, envp);
	}
	errno = ENOEXEC;
}

/* PATH search with async-signal-safe calls only (execvp may allocate). */
static void exec_path(const char *prog, char *const *argv, char *const *envp)
{
	const char *path, *p;
	char buf[4096];
	int e = ENOENT;

	if (strchr(prog, '/')) {
		exec_one(prog, argv, envp);
		return;
	}
	path = NULL;
	for (char *const *v = envp; *v; v++)
		if (!strncmp(*v, "PATH=", 5)) {
			path = *v + 5;
			break;
		}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p), pl = strlen(prog);

		if (dl + 1 + pl + 1 <= sizeof(buf)) {
			memcpy(buf, dl ? p : ".", dl ? dl : 1);
			dl = dl ? dl : 1;
			buf[dl] = '/';
			memcpy(buf + dl + 1, prog, pl + 1);
			exec_one(buf, argv, envp);
			if (errno == ENOEXEC)
				return;
			/* keep looking past a missing or unusable entry; remember
			 * a permission problem as the reason if nothing runs */
			if (errno == EACCES)
				e = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR)
				return;
		}
		if (!end)
			break;
		p = end;
	}
	errno = e;
}

static __attribute__((noreturn)) void child(const pd_spawn_opts *o, pid_t parent, int nullfd,
					    int report)
{
	int src[3], tmp[3], keep = -1;

	if (o->group == PD_SPAWN_GROUP && setpgid(0, 0) < 0)
		child_fail(report, errno);
	if (o->group == PD_SPAWN_SESSION && setsid() < 0)
		child_fail(report, errno);
	if (o->death_signal) {
		if (prctl(PR_SET_PDEATHSIG, o->death_signal) < 0)
			child_fail(report, errno);
		/* the parent may have died before prctl took effect */
		if (getppid() != parent)
			_exit(127);
	}
	pd_spawn_child_reset();
	/* copy the sources above 3 first, so that no dup2 overwrites one and
	 * dup2 never sees fd == target (which would keep FD_CLOEXEC) */
	if (report < 4 && (report = fcntl(report, F_DUPFD_CLOEXEC, 4)) < 0)
		_exit(127);
	for (int i = 0; i < 3; i++) {
		src[i] = o->fd[i] == PD_SPAWN_NULL ? nullfd : o->fd[i] == PD_SPAWN_KEEP ? i : o->fd[i];
		if ((tmp[i] = fcntl(src[i], F_DUPFD, 4)) < 0)
			child_fail(report, errno);
	}
	if (o->keep_fd >= 0 && (keep = fcntl(o->keep_fd, F_DUPFD, 4)) < 0)
		child_fail(report, errno);
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			child_fail(report, errno);
	if (keep >= 0 && dup2(keep, 3) < 0)
		child_fail(report, errno);
	/* the report pipe goes to 4 (close-on-exec), everything above it closes */
	if (report != 4) {
		if (dup3(report, 4, O_CLOEXEC) < 0)
			_exit(127);
		report = 4;
	}
	if (keep < 0)
		close(3);
	pd_close_from(5);
	if (o->hook) {
		int e = o->hook(o->hook_arg);
		if (e)
			child_fail(report, e);
	}
	exec_path(o->path ? o->path : o->argv[0], o->argv, o->envp ? o->envp : environ);
	child_fail(report, errno);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Whether fd has something to read (or EOF) within ms. */
static int report_ready(int fd, unsigned ms)
{
	long long end = now_ms() + ms, left;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	while ((left = end - now_ms()) > 0) {
		r = poll(&p, 1, (int)(left > 1 << 30 ? 1 << 30 : left));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* let read() find out */
	}
	return 0;
}

int pd_spawn(const pd_spawn_opts *o, pid_t *pid, int *exec_err)
{
	int report[2], nullfd = -1, e = 0, need_null = 0;
	pid_t parent = getpid(), p;
	ssize_t n;

	for (int i = 0; i < 3; i++)
		need_null |= o->fd[i] == PD_SPAWN_NULL;
	if (need_null && (nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	if (pipe2(report, O_CLOEXEC) < 0) {
		e = -errno;
		if (nullfd >= 0)
			close(nullfd);
		return e;
	}
	p = fork();
	if (p == 0) {
		close(report[0]);
		child(o, parent, nullfd, report[1]);
	}
	e = p < 0 ? -errno : 0;
	close(report[1]);
	if (nullfd >= 0)
		close(nullfd);
	if (p < 0) {
		close(report[0]);
		return e;
	}
	if (o->group == PD_SPAWN_GROUP)
		setpgid(p, p);
	*pid = p;
	if (o->report_ms && !report_ready(report[0], o->report_ms)) {
		close(report[0]);
		if (exec_err)
			*exec_err = -ETIMEDOUT;
		return 0;
	}
	/* blocks only until exec succeeds (EOF) or the child says why not */
	do
		n = read(report[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (exec_err)
		*exec_err = n == (ssize_t)sizeof(e) ? (e > 0 ? e : EIO) : 0;
	return 0;
}

int pd_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

int pd_kill_group(pid_t pid, int sig)
{
	if (pid <= 0)
		return -ESRCH;
	if (kill(-pid, sig) == 0)
		return 0;
	return kill(pid, sig) == 0 ? 0 : -errno;
}

pid_t pd_reap(pid_t pid, int *status, struct rusage *ru, int nohang)
{
	int st = 0;
	pid_t w;

	do
		w = wait4(pid, &st, nohang ? WNOHANG : 0, ru);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if (w > 0 && status)
		*status = st;
	return w;
}

int pd_spawn_exited(pid_t pid)
{
	siginfo_t si;
	int rv;

	memset(&si, 0, sizeof(si));
	do
		rv = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (rv < 0 && errno == EINTR);
	if (rv < 0)
		return -errno;
	return si.si_pid != 0;
}

int pd_gone(pid_t pid)
{
	pid_t w = pd_reap(pid, NULL, NULL, 1);

	if (w == pid)
		return 1;
	if (w == -ECHILD)
		return kill(pid, 0) < 0 && errno == ESRCH;
	return 0;
}

/* Whether pid has ended, without reaping it: our own child stays a zombie
 * until pd_stop_groups reaps it, so its pid (and its group's id) cannot be
 * taken by another process meanwhile. A process we did not start: whether
 * it is still there. */
static int ended(pid_t pid)
{
	int e = pd_spawn_exited(pid);

	if (e == -ECHILD)
		return kill(pid, 0) < 0 && errno == ESRCH;
	return e != 0;
}

static size_t running(const pid_t *pids, size_t n)
{
	size_t left = 0;

	for (size_t i = 0; i < n; i++)
		left += pids[i] > 0 && !ended(pids[i]);
	return left;
}

static void wait_ms(const pid_t *pids, size_t n, unsigned ms)
{
	struct timespec t = {0, 1000000}; /* 1 ms */

	for (unsigned i = 0; running(pids, n) && i < ms; i++)
		nanosleep(&t, NULL);
}

void pd_stop_groups(pid_t *pids, size_t n, unsigned grace_ms, unsigned term_ms)
{
	wait_ms(pids, n, grace_ms);
	if (running(pids, n)) {
		for (size_t i = 0; i < n; i++)
			if (pids[i] > 0 && !ended(pids[i]))
				pd_kill_group(pids[i], SIGTERM);
		wait_ms(pids, n, term_ms);
	}
	for (size_t i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		if (pd_reap(pids[i], NULL, NULL, 1) == -ECHILD) {
			/* not ours to reap, nor is its group's id reserved once
			 * it is gone: signalled only while it is there */
			if (!ended(pids[i])) {
				pd_kill_group(pids[i], SIGKILL);
				wait_ms(&pids[i], 1, 1000);
			}
		} else {
			/* ours, alive or a zombie (so the group's id is still
			 * its own): whatever is left in its group goes too,
			 * also when the leader left by itself */
			pd_kill_group(pids[i], SIGKILL);
			pd_reap(pids[i], NULL, NULL, 0);
		}
		pids[i] = 0;
	}
}

int pd_spawn_output(char *const *argv, char *out, size_t outlen, char *err, size_t errlen)
{
	int po[2], pe[2], st = 0, ee = 0, rv;
	struct pollfd pf[2];
	char *buf[2] = {out, err};
	size_t len[2] = {outlen, errlen}, got[2] = {0, 0};
	pd_spawn_opts o;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		rv = -errno;
		close(po[0]);
		close(po[1]);
		return rv;
	}
	pd_spawn_init(&o, argv);
	o.fd[0] = PD_SPAWN_NULL;
	o.fd[1] = po[1];
	o.fd[2] = pe[1];
	rv = pd_spawn(&o, &pid, &ee);
	close(po[1]);
	close(pe[1]);
	if (rv < 0) {
		close(po[0]);
		close(pe[0]);
		return rv;
	}
	pf[0] = (struct pollfd){.fd = po[0], .events = POLLIN};
	pf[1] = (struct pollfd){.fd = pe[0], .events = POLLIN};
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char sink[4096];
			ssize_t r;
			int room = len[i] && got[i] < len[i] - 1;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			if (room)
				r = read(pf[i].fd, buf[i] + got[i], len[i] - 1 - got[i]);
			else
				r = read(pf[i].fd, sink, sizeof(sink));
			if (r > 0 && room)
				got[i] += (size_t)r;
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(pf[i].fd);
				pf[i].fd = -1;
			}
		}
	}
	if (pf[0].fd >= 0)
		close(pf[0].fd);
	if (pf[1].fd >= 0)
		close(pf[1].fd);
	for (int i = 0; i < 2; i++)
		if (len[i])
			buf[i][got[i]] = 0;
	pd_reap(pid, &st, NULL, 0);
	if (ee) {
		if (errlen)
			snprintf(err, errlen, "cannot execute %s: %s", argv[0], strerror(ee));
		return 127;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
