/* agents.c - starting agents from slurmstepd through lib/spawn.h (own
 * session; the privilege drop, the log and the signal reset run as
 * pd_spawn's hook), the folder check before them, and signalling and
 * reaping them by process group.
 *
 * slurmstepd is multithreaded and blocks signals (SIGTERM among them) that
 * its children inherit: pd_spawn resets the mask, the hook every
 * disposition; between fork and exec the children make system calls only.
 */
#include "agents.h"
#include "fd.h"
#include "private.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct agent {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat field 22 */
	int gone;
	int wfd; /* the write end of its stdin pipe, or -1 */
};

static struct agent *agents;
static unsigned nagents, capacity;
static int check_failed;

/* Where a child failed: the folder check's report on its pipe, an
 * agent's in pd_spawn's exec_err (HOOK_ERR: the hook's step and errno;
 * a plain errno is the exec or pd_spawn's own set-up). */
enum stage {
	ST_EXEC = 0,
	ST_REGAIN,
	ST_GROUPS,
	ST_GID,
	ST_UID,
	ST_STUCK,
	ST_MKDIR,
	ST_OPENDIR, /* a folder of dirs cannot be opened */
	ST_PRIVATE, /* a folder of dirs breaks the rule: verdict, owner, mode */
	ST_LOG,
	ST_STDIO,
	ST_CHECKFILE /* check_file cannot be read, or is not a file */
};

#define HOOK_ERR(stage, e) ((stage) << 16 | ((e)&0xffff))

#define PREP_K 0xFFFFFFFFu /* failure.k of the preparation, before any agent */

struct failure {
	uint32_t k;      /* the agent */
	int32_t stage;   /* enum stage */
	int32_t index;   /* which dir for ST_MKDIR, ST_OPENDIR, ST_PRIVATE */
	int32_t error;   /* errno */
	int32_t verdict; /* ST_PRIVATE: enum pd_private_verdict */
	uint32_t owner;  /* ST_PRIVATE: the folder's owner and mode */
	uint32_t mode;
};

/* ---- the children: system calls only ---- */

static void __attribute__((noreturn)) child_report(int wfd, const struct failure *f)
{
	ssize_t r;

	do
		r = write(wfd, f, sizeof(*f));
	while (r < 0 && errno == EINTR);
	_exit(127);
}

/* The folder check's failure at stage (and dir index), with errno. */
static void __attribute__((noreturn)) child_fail(int wfd, int stage, int index)
{
	struct failure f = {PREP_K, stage, index, errno, 0, 0, 0};

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

/* What the hook of agent k needs; prepared before pd_spawn forks. */
struct hook_arg {
	const pd_agent_spec *s;
	const char *logpath; /* NULL: stdout and stderr stay /dev/null */
};

/* pd_spawn's hook, in the agent's child just before exec (its own session,
 * the mask reset, stdin and stdout/stderr on /dev/null, every other
 * descriptor but pd_spawn's close-on-exec report pipe closed): resets
 * every disposition, drops to the user, sets the umask and, as the user,
 * sends stdout and stderr to the log. 0 or HOOK_ERR(stage, errno). */
static int agent_hook(void *arg)
{
	const struct hook_arg *h = arg;
	struct sigaction sa;
	int stage, out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP, glibc's own: refused */
	if (drop_privileges(h->s, &stage) < 0)
		return HOOK_ERR(stage, errno);
	umask(h->s->umask);
	if (!h->logpath)
		return 0;
	out = open(h->logpath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
	           0600);
	if (out < 0)
		return HOOK_ERR(ST_LOG, errno);
	/* out is above 2 (0-2 are open): dup2 clears close-on-exec */
	if (dup2(out, 1) < 0 || dup2(out, 2) < 0)
		return HOOK_ERR(ST_STDIO, errno);
	close(out);
	return 0;
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
		child_fail(wfd, stage, 0);
	umask(s->umask);
	for (int i = 0; i < 4 && s->dirs[i]; i++) {
		if (mkdir(s->dirs[i], 0700) < 0 && errno != EEXIST)
			child_fail(wfd, ST_MKDIR, i);
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
			child_fail(wfd, ST_OPENDIR, i);
		close(fd);
		f.verdict = pd_private_judge(&st, s->uid);
		f.owner = (uint32_t)st.st_uid;
		f.mode = (uint32_t)st.st_mode;
		if (f.verdict != PD_PRIVATE_OK)
			child_report(wfd, &f);
	}
	if (s->check_file) {
		fd = open(s->check_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			child_fail(wfd, ST_CHECKFILE, 0);
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			errno = EINVAL;
			child_fail(wfd, ST_CHECKFILE, 0);
		}
		close(fd);
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

	if (a->gone)
		return 0;
	if (proc_stat(a->pid, &state, &start) < 0 || start != a->start) {
		a->gone = 1;
		return 0;
	}
	if (state == 'Z' || state == 'X') {
		(void)pd_reap(a->pid, NULL, NULL, 1);
		a->gone = 1;
		return 0;
	}
	return 1;
}

static const char *stage_text(int stage)
{
	switch (stage) {
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
	case ST_LOG:
		return "cannot open its log";
	case ST_STDIO:
		return "cannot set up stdin/stdout/stderr";
	case ST_CHECKFILE:
		return "cannot read";
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
		pd_private_message(f->verdict, s->dirs[f->index], (uid_t)f->owner, (mode_t)f->mode,
		                   err, errlen);
		return;
	}
	if ((f->stage == ST_MKDIR || f->stage == ST_OPENDIR) && dir)
		what = s->dirs[f->index];
	else if (f->stage == ST_EXEC)
		what = s->path;
	else if (f->stage == ST_LOG && s->logdir)
		what = s->logdir;
	else if (f->stage == ST_CHECKFILE && s->check_file)
		what = s->check_file;
	if (f->stage == ST_CHECKFILE && f->error == EINVAL) {
		snprintf(err, errlen, "%s is not a regular file (a parade connection file)", what);
		return;
	}
	if (f->k == PREP_K)
		snprintf(err, errlen, "%s%s%s: %s", stage_text(f->stage), *what ? " " : "", what,
		         strerror(f->error));
	else
		snprintf(err, errlen, "agent %u: %s%s%s: %s", (unsigned)f->k, stage_text(f->stage),
		         *what ? " " : "", what, strerror(f->error));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs prepare_child and waits for it. 0 only when it exited 0 without a
 * report; else -1 with err: the check fails closed (a child killed, or
 * one that could not send its report, started no agent unchecked). */
static int prepare(const pd_agent_spec *s, char *err, size_t errlen)
{
	struct pollfd pfd;
	struct failure f;
	int p[2], st = 0, rv = -1;
	pid_t pid, w;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	/* a child that runs the check and _exits: no exec, so not pd_spawn */
	pid = fork();
	if (pid == 0)
		prepare_child(s, p[1]);
	close(p[1]);
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		goto out;
	}
	w = pd_reap(pid, &st, NULL, 0);
	if (w < 0) {
		snprintf(err, errlen, "the folder check did not complete: cannot wait for it: %s",
		         strerror((int)-w));
		goto out;
	}
	/* the child is gone: a report it wrote is in the pipe already */
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	if (poll(&pfd, 1, 0) > 0 && read(p[0], &f, sizeof(f)) == (ssize_t)sizeof(f)) {
		check_failed = f.stage == ST_CHECKFILE;
		describe(s, &f, err, errlen);
		goto out;
	}
	if (WIFSIGNALED(st)) {
		snprintf(err, errlen,
		         "the folder check did not complete: it was ended by signal %d",
		         WTERMSIG(st));
		goto out;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(
		    err, errlen,
		    "the folder check did not complete: it exited with status %d and no report",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		goto out;
	}
	rv = 0;
out:
	close(p[0]);
	return rv;
}

/* A pipe (both ends close-on-exec) holding text; the read end is for the
 * agent. 0 or -1 with errno. */
static int stdin_pipe(const char *text, int p[2])
{
	size_t len = strlen(text);
	int e;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	/* far below a pipe's capacity: this never blocks */
	if ((e = pd_write_all(p[1], text, len)) < 0) {
		close(p[0]);
		close(p[1]);
		errno = -e;
		return -1;
	}
	return 0;
}

static void close_pipes(void)
{
	for (unsigned i = 0; i < nagents; i++)
		if (agents[i].wfd >= 0) {
			close(agents[i].wfd);
			agents[i].wfd = -1;
		}
}

/* Starts agent k through pd_spawn, waiting for its exec until deadline.
 * 1 when it is known to have failed (reaped; *f says why), 0 when it
 * runs or is still starting (*late set), -1 when no child was made
 * (err says why). */
static int start_one(const pd_agent_spec *s, unsigned k, uint64_t deadline, struct failure *f,
                     int *late, char *err, size_t errlen)
{
	char logpath[4200];
	struct hook_arg h = {s, NULL};
	uint64_t t = now_ms();
	pd_spawn_opts o;
	pid_t pid;
	int ee = 0, rv, in[2] = {-1, -1};

	if (s->stdin_text && stdin_pipe(s->stdin_text, in) < 0) {
		snprintf(err, errlen, "cannot start agent %u: cannot make its stdin: %s", k,
		         strerror(errno));
		return -1;
	}
	if (s->logdir) {
		if (s->logname)
			snprintf(logpath, sizeof(logpath), "%s/%s", s->logdir, s->logname);
		else
			snprintf(logpath, sizeof(logpath), "%s/agent-%u-%u.log", s->logdir,
			         s->nodeid, k);
		h.logpath = logpath;
	}
	pd_spawn_init(&o, s->argv);
	o.path = s->path;
	o.envp = s->envp;
	o.group = PD_SPAWN_SESSION;
	o.fd[0] = o.fd[1] = o.fd[2] = PD_SPAWN_NULL;
	if (in[0] >= 0)
		o.fd[0] = in[0];
	o.hook = agent_hook;
	o.hook_arg = &h;
	/* past the deadline each agent is still started, not waited for */
	o.report_ms = deadline > t ? (unsigned)(deadline - t) : 1;
	rv = pd_spawn(&o, &pid, &ee);
	if (in[0] >= 0)
		close(in[0]);
	if (rv < 0) {
		if (in[1] >= 0)
			close(in[1]);
		snprintf(err, errlen, "cannot start agent %u: %s", k, strerror(-rv));
		return -1;
	}
	agents[nagents++] = (struct agent){pid, 0, 0, in[1]};
	if (ee == -ETIMEDOUT) {
		*late = 1;
		return 0;
	}
	if (!ee)
		return 0;
	*f = (struct failure){k, ee >> 16, 0, ee & 0xffff, 0, 0, 0};
	(void)pd_reap(pid, NULL, NULL, 0); /* it exits 127 at once */
	agents[nagents - 1].gone = 1;
	return 1;
}

unsigned pd_agents_start(const pd_agent_spec *s, unsigned n, char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + s->timeout_ms;
	unsigned first = nagents, started = 0, failed = 0;
	struct failure f;
	int late = 0, r;

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
	check_failed = 0;
	if ((s->dirs[0] || s->stale || s->check_file) && prepare(s, err, errlen) < 0)
		return n;
	for (unsigned k = 0; k < n; k++, started++) {
		r = start_one(s, k, deadline, &f, &late, failed ? NULL : err, failed ? 0 : errlen);
		if (r < 0)
			break;
		if (r > 0 && !failed++)
			describe(s, &f, err, errlen);
	}
	if (late && !failed && started == n) /* a start that failed outright says why itself */
		snprintf(err, errlen, "agents still starting after %u ms", s->timeout_ms);
	for (unsigned i = first; i < nagents; i++) {
		char state;
		if (!agents[i].gone && proc_stat(agents[i].pid, &state, &agents[i].start) < 0)
			agents[i].gone = 1;
	}
	return failed + (n - started);
}

int pd_agents_check_failed(void)
{
	return check_failed;
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
		if (alive(&agents[i]))
			(void)pd_kill_group(agents[i].pid, sig);
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
	close_pipes();
}

pid_t pd_agents_pid(unsigned i)
{
	return i < nagents ? agents[i].pid : -1;
}

void pd_agents_forget(void)
{
	close_pipes();
	free(agents);
	agents = NULL;
	nagents = capacity = 0;
}
