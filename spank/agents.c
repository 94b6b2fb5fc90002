/* agents.c - fork, drop privileges, exec; signal and reap by process group.
 *
 * slurmstepd is multithreaded and blocks signals (SIGTERM among them) that
 * its children inherit: the child resets both before anything else, and
 * between fork and exec makes system calls only.
 */
#include "agents.h"
#include "private.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct agent {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat field 22 */
	int gone;
};

static struct agent *agents;
static unsigned nagents, capacity;

/* What a child writes to the pipe when it cannot exec. */
enum stage {
	ST_SIGNALS,
	ST_SETSID,
	ST_REGAIN,
	ST_GROUPS,
	ST_GID,
	ST_UID,
	ST_STUCK,
	ST_MKDIR,
	ST_OPENDIR, /* a folder of dirs cannot be opened */
	ST_PRIVATE, /* a folder of dirs breaks the rule: verdict, owner, mode */
	ST_DEVNULL,
	ST_LOG,
	ST_STDIO,
	ST_EXEC
};

#define PREP_K 0xFFFFFFFFu /* failure.k of the preparation, before any agent */

struct failure {
	uint32_t k;    /* the agent */
	int32_t stage; /* enum stage */
	int32_t index; /* which dir for ST_MKDIR, ST_OPENDIR, ST_PRIVATE */
	int32_t error; /* errno */
	int32_t verdict; /* ST_PRIVATE: enum pd_private_verdict */
	uint32_t owner;  /* ST_PRIVATE: the folder's owner and mode */
	uint32_t mode;
};

/* ---- the child side: system calls only ---- */

static void __attribute__((noreturn)) child_report(int wfd, const struct failure *f)
{
	ssize_t r;

	do
		r = write(wfd, f, sizeof(*f));
	while (r < 0 && errno == EINTR);
	_exit(127);
}

static void __attribute__((noreturn)) child_fail(int wfd, unsigned k, int stage, int index)
{
	struct failure f = {k, stage, index, errno, 0, 0, 0};

	child_report(wfd, &f);
}

/* Sets this process's oom_score_adj to 0, as slurmstepd does for tasks.
 * Best effort: where /proc refuses, slurmstepd could not lower its own. */
static void reset_oom_score(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (write(fd, "0", 1) < 0 && errno == EINTR)
		;
	close(fd);
}

/* Drops to the user for good. slurmstepd calls user_init with real uid 0
 * and effective uid the user, so the saved uid is 0: regain it, then set
 * all three ids. 0, or -1 with errno and *stage. */
static int drop_privileges(const pd_agent_spec *s, int *stage)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int root = getuid() == 0 || geteuid() == 0;

	if (root) {
		*stage = ST_REGAIN;
		if (geteuid() != 0 && seteuid(0) < 0)
			return -1;
		/* slurmstepd shields itself from the OOM killer (-1000);
		 * agents run user code like tasks, which get 0 back */
		reset_oom_score();
		*stage = ST_GROUPS;
		if (setgroups((size_t)s->ngroups, s->groups) < 0)
			return -1;
		*stage = ST_GID;
		if (setresgid(s->gid, s->gid, s->gid) < 0)
			return -1;
		*stage = ST_UID;
		if (setresuid(s->uid, s->uid, s->uid) < 0)
			return -1;
	}
	*stage = ST_STUCK;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -1;
	errno = EPERM;
	if (ru != s->uid || eu != s->uid || su != s->uid)
		return -1;
	if (root && (rg != s->gid || eg != s->gid || sg != s->gid))
		return -1;
	if (s->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Closes every descriptor from 3 up, except keep (> 2). */
static void close_inherited(int keep)
{
	struct rlimit rl;
	int max = 1 << 16;

#ifdef SYS_close_range
	if ((keep == 3 || syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20))
		max = (int)rl.rlim_cur;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

static void __attribute__((noreturn))
child(const pd_agent_spec *s, unsigned k, const char *logpath, int wfd)
{
	struct sigaction sa;
	sigset_t none;
	int stage, in, out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP, glibc's own: refused */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(wfd, k, ST_SIGNALS, 0);
	if (setsid() < 0)
		child_fail(wfd, k, ST_SETSID, 0);
	if (drop_privileges(s, &stage) < 0)
		child_fail(wfd, k, stage, 0);
	umask(s->umask);
	in = open("/dev/null", O_RDONLY | O_NOCTTY);
	if (in < 0)
		child_fail(wfd, k, ST_DEVNULL, 0);
	if (logpath)
		out = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY, 0600);
	else
		out = open("/dev/null", O_WRONLY | O_NOCTTY);
	if (out < 0)
		child_fail(wfd, k, logpath ? ST_LOG : ST_DEVNULL, 0);
	/* in was opened first: out is never 0, so in survives dup2(out, 1/2) */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		child_fail(wfd, k, ST_STDIO, 0);
	close_inherited(wfd);
	execve(s->path, s->argv, s->envp);
	child_fail(wfd, k, ST_EXEC, 0);
}

/* Before any agent: as the user, makes each folder of s->dirs and checks
 * it (lib/private.h: the user's, not writable by group or others; no
 * link after the first, which may be a link the user made), then removes
 * s->stale. A failure is reported on wfd (k PREP_K). */
static void __attribute__((noreturn)) prepare_child(const pd_agent_spec *s, int wfd)
{
	struct failure f = {PREP_K, 0, 0, 0, 0, 0, 0};
	struct stat st;
	int stage, fd;

	if (drop_privileges(s, &stage) < 0)
		child_fail(wfd, PREP_K, stage, 0);
	umask(s->umask);
	for (int i = 0; i < 4 && s->dirs[i]; i++) {
		if (mkdir(s->dirs[i], 0700) < 0 && errno != EEXIST)
			child_fail(wfd, PREP_K, ST_MKDIR, i);
		fd = open(s->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | (i ? O_NOFOLLOW : 0));
		f.index = i;
		f.stage = ST_PRIVATE;
		if (fd < 0 && i && (errno == ELOOP || errno == ENOTDIR) &&
		    lstat(s->dirs[i], &st) == 0 && S_ISLNK(st.st_mode)) {
			f.verdict = PD_PRIVATE_LINK;
			child_report(wfd, &f);
		}
		if (fd < 0 && errno == ENOTDIR) {
			f.verdict = PD_PRIVATE_NOTDIR;
			child_report(wfd, &f);
		}
		if (fd < 0 || fstat(fd, &st) < 0)
			child_fail(wfd, PREP_K, ST_OPENDIR, i);
		close(fd);
		f.verdict = pd_private_judge(&st, s->uid);
		f.owner = (uint32_t)st.st_uid;
		f.mode = (uint32_t)st.st_mode;
		if (f.verdict != PD_PRIVATE_OK)
			child_report(wfd, &f);
	}
	if (s->stale)
		(void)unlink(s->stale);
	_exit(0);
}

/* ---- the slurmstepd side ---- */

/* State and start time of pid from /proc. 0 or -errno. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p, *save = NULL;
	ssize_t n;
	int fd, field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	for (char *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save), field++) {
		if (field == 3)
			*state = t[0];
		if (field == 22) {
			*start = strtoull(t, NULL, 10);
			return 0;
		}
	}
	return -EIO;
}

/* Whether agent a still runs. The start time is checked first: once
 * slurmstepd's own wait3() has reaped an agent its pid may belong to
 * someone else, who must be neither signalled nor reaped. A zombie counts
 * as gone (and is reaped here). */
static int alive(struct agent *a)
{
	unsigned long long start = 0;
	char state = '?';
	int status;

	if (a->gone)
		return 0;
	if (proc_stat(a->pid, &state, &start) < 0 || start != a->start) {
		a->gone = 1;
		return 0;
	}
	if (state == 'Z' || state == 'X') {
		(void)waitpid(a->pid, &status, WNOHANG);
		a->gone = 1;
		return 0;
	}
	return 1;
}

static const char *stage_text(int stage)
{
	switch (stage) {
	case ST_SIGNALS:
		return "cannot reset the signal mask";
	case ST_SETSID:
		return "cannot start a session";
	case ST_REGAIN:
		return "cannot regain root to switch to the user";
	case ST_GROUPS:
		return "cannot set the user's groups";
	case ST_GID:
		return "cannot set the user's group id";
	case ST_UID:
		return "cannot set the user id";
	case ST_STUCK:
		return "privileges did not drop to the user";
	case ST_MKDIR:
		return "cannot create";
	case ST_OPENDIR:
		return "cannot open";
	case ST_PRIVATE:
		return "refused";
	case ST_DEVNULL:
		return "cannot open /dev/null";
	case ST_LOG:
		return "cannot open its log";
	case ST_STDIO:
		return "cannot set up stdin/stdout/stderr";
	case ST_EXEC:
		return "cannot execute";
	}
	return "failed";
}

static void describe(const pd_agent_spec *s, const struct failure *f, char *err, size_t errlen)
{
	const char *what = "";
	int dir = f->index >= 0 && f->index < 4 && s->dirs[f->index];

	if (f->stage == ST_PRIVATE && dir) {
		pd_private_message(f->verdict, s->dirs[f->index], (uid_t)f->owner,
				   (mode_t)f->mode, err, errlen);
		return;
	}
	if ((f->stage == ST_MKDIR || f->stage == ST_OPENDIR) && dir)
		what = s->dirs[f->index];
	else if (f->stage == ST_EXEC)
		what = s->path;
	else if (f->stage == ST_LOG && s->logdir)
		what = s->logdir;
	if (f->k == PREP_K)
		snprintf(err, errlen, "%s%s%s: %s", stage_text(f->stage), *what ? " " : "", what,
			 strerror(f->error));
	else
		snprintf(err, errlen, "agent %u: %s%s%s: %s", (unsigned)f->k,
			 stage_text(f->stage), *what ? " " : "", what, strerror(f->error));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads failure records until every child has exec'd or exited (EOF) or
 * the deadline. Returns the failures counted; marks those agents gone. */
static unsigned collect(int rfd, const pd_agent_spec *s, unsigned first, unsigned n, char *err,
                        size_t errlen)
{
	uint64_t deadline = now_ms() + s->timeout_ms;
	unsigned failed = 0;
	struct failure f;

	for (;;) {
		struct pollfd pfd = {rfd, POLLIN, 0};
		uint64_t t = now_ms();
		ssize_t r;
		int pr;

		if (t >= deadline) {
			if (!failed)
				snprintf(err, errlen, "agents still starting after %u ms",
				         s->timeout_ms);
			break;
		}
		pr = poll(&pfd, 1, (int)(deadline - t));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		r = read(rfd, &f, sizeof(f));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(f))
			break; /* EOF: every child exec'd or exited */
		if (f.k >= n)
			continue;
		if (!failed++)
			describe(s, &f, err, errlen);
		if (!agents[first + f.k].gone) {
			int status;
			while (waitpid(agents[first + f.k].pid, &status, 0) < 0 && errno == EINTR)
				;
			agents[first + f.k].gone = 1;
		}
	}
	return failed;
}

/* Runs prepare_child and waits for it. 0 only when it exited 0 without a
 * report; else -1 with err: the check fails closed (a child killed, or
 * one that could not send its report, started no agent unchecked). */
static int prepare(const pd_agent_spec *s, const int p[2], char *err, size_t errlen)
{
	struct pollfd pfd = {p[0], POLLIN, 0};
	struct failure f;
	pid_t pid = fork(), w;
	int st = 0;

	if (pid == 0)
		prepare_child(s, p[1]);
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		return -1;
	}
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w < 0) {
		snprintf(err, errlen, "the folder check did not complete: cannot wait for it: %s",
			 strerror(errno));
		return -1;
	}
	/* the child is gone: a report it wrote is in the pipe already */
	if (poll(&pfd, 1, 0) > 0 && read(p[0], &f, sizeof(f)) == (ssize_t)sizeof(f)) {
		describe(s, &f, err, errlen);
		return -1;
	}
	if (WIFSIGNALED(st)) {
		snprintf(err, errlen, "the folder check did not complete: it was ended by signal %d",
			 WTERMSIG(st));
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen,
			 "the folder check did not complete: it exited with status %d and no report",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

unsigned pd_agents_start(const pd_agent_spec *s, unsigned n, char *err, size_t errlen)
{
	unsigned first = nagents, forked = 0, failed;
	char logpath[4200];
	int p[2];

	if (!n)
		return 0;
	if (nagents + n > capacity) {
		struct agent *a = realloc(agents, (nagents + n) * sizeof(*a));
		if (!a) {
			snprintf(err, errlen, "out of memory");
			return n;
		}
		agents = a;
		capacity = nagents + n;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		return n;
	}
	if (p[1] < 3) { /* the child's stdio goes to 0-2 */
		int fd = fcntl(p[1], F_DUPFD_CLOEXEC, 3);
		close(p[1]);
		p[1] = fd;
		if (fd < 0) {
			snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
			close(p[0]);
			return n;
		}
	}
	if ((s->dirs[0] || s->stale) && prepare(s, p, err, errlen) < 0) {
		close(p[0]);
		close(p[1]);
		return n;
	}
	for (unsigned k = 0; k < n; k++) {
		pid_t pid;

		if (s->logdir)
			snprintf(logpath, sizeof(logpath), "%s/agent-%u-%u.log", s->logdir,
			         s->nodeid, k);
		pid = fork();
		if (pid < 0) {
			snprintf(err, errlen, "cannot fork agent %u: %s", k, strerror(errno));
			break;
		}
		if (pid == 0)
			child(s, k, s->logdir ? logpath : NULL, p[1]);
		agents[nagents].pid = pid;
		agents[nagents].start = 0;
		agents[nagents].gone = 0;
		nagents++;
		forked++;
	}
	close(p[1]);
	failed = collect(p[0], s, first, forked, err, errlen) + (n - forked);
	close(p[0]);
	for (unsigned i = first; i < nagents; i++) {
		char state;
		if (!agents[i].gone && proc_stat(agents[i].pid, &state, &agents[i].start) < 0)
			agents[i].gone = 1;
	}
	return failed;
}

unsigned pd_agents_alive(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nagents; i++)
		n += (unsigned)alive(&agents[i]);
	return n;
}

void pd_agents_signal(int sig)
{
	for (unsigned i = 0; i < nagents; i++)
		if (alive(&agents[i]) && kill(-agents[i].pid, sig) < 0 && errno == ESRCH)
			(void)kill(agents[i].pid, sig);
}

unsigned pd_agents_wait(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	unsigned n;

	while ((n = pd_agents_alive()) > 0 && now_ms() < end) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return n;
}

void pd_agents_stop(unsigned grace_ms)
{
	if (!pd_agents_alive())
		return;
	pd_agents_signal(SIGTERM);
	if (pd_agents_wait(grace_ms) == 0)
		return;
	pd_agents_signal(SIGKILL);
	pd_agents_wait(1000);
}

pid_t pd_agents_pid(unsigned i)
{
	return i < nagents ? agents[i].pid : -1;
}

void pd_agents_forget(void)
{
	free(agents);
	agents = NULL;
	nagents = capacity = 0;
}
