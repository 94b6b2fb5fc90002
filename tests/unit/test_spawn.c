/* test_spawn.c - spawn.h: real children, their descriptors, groups,
 * failures, and stopping them. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

/* argv of sh -c SCRIPT (one static array: one at a time) */
static char **sh(const char *script)
{
	static char *argv[4];

	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = (char *)script;
	argv[3] = NULL;
	return argv;
}

/* stdout and stderr come back apart; the exit status is the program's */
static void test_output(void)
{
	char out[64], err[64];
	char **argv = sh("echo hello; echo oops >&2; exit 3");

	CU_ASSERT_EQUAL(pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)), 3);
	CU_ASSERT_STRING_EQUAL(out, "hello\n");
	CU_ASSERT_STRING_EQUAL(err, "oops\n");
	/* more than fits is cut at the buffer and the rest drained, both
	 * streams at once (a child that fills stderr first must not hang) */
	argv = sh("head -c 200000 /dev/zero | tr '\\0' e >&2; echo done");
	CU_ASSERT_EQUAL(pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "done\n");
	CU_ASSERT_EQUAL(strlen(err), sizeof(err) - 1);
	/* a signal is 128+N */
	argv = sh("kill -9 $$");
	CU_ASSERT_EQUAL(pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)), 128 + 9);
}

static char *path_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};

/* a program that cannot run: the errno comes back, the child exits 127 */
static void test_exec_fails(void)
{
	char *argv[] = {"/nonexistent/parade-no-such-program", NULL};
	char *argv2[] = {"parade-no-such-program-on-path", NULL};
	char out[8], err[128];
	pd_spawn_opts o;
	pid_t pid = 0;
	int ee = 0, st = 0;

	pd_spawn_init(&o, argv);
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, ENOENT);
	CU_ASSERT_EQUAL(pd_reap(pid, &st, NULL, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 127);
	pd_spawn_init(&o, argv2);
	/* a PATH of folders this user may search: one it may not (root's own,
	 * when the suite runs as another user) makes the answer EACCES, as
	 * execvp's is; test_path covers that */
	o.envp = path_env;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, ENOENT);
	pd_reap(pid, NULL, NULL, 0);
	CU_ASSERT_EQUAL(pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)), 127);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot execute /nonexistent/parade-no-such-program"));
}

/* a found program on PATH runs; one that is not executable says EACCES */
static void test_path(void)
{
	char dir[] = "/tmp/pd-spawn-XXXXXX", file[64], *argv[] = {"pdnoexec", NULL};
	char *env[3];
	char pathvar[128];
	pd_spawn_opts o;
	pid_t pid;
	int ee = 0, fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/pdnoexec", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	snprintf(pathvar, sizeof(pathvar), "PATH=/nonexistent:%s", dir);
	env[0] = pathvar;
	env[1] = NULL;
	pd_spawn_init(&o, argv);
	o.envp = env;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, EACCES);
	pd_reap(pid, NULL, NULL, 0);
	unlink(file);
	rmdir(dir);
}

/* the child gets exactly fds 0-2 (and keep_fd as 3), its own group, the
 * environment given, and no ignored SIGTERM */
static void test_child_state(void)
{
	int p[2], extra, ee = -1;
	char buf[512] = "";
	char *env[] = {"PD_SPAWN_TEST=yes", "PATH=/usr/bin:/bin", NULL};
	char **argv = sh("printf '%s|' \"$PD_SPAWN_TEST\"; ls /proc/self/fd | sort -n | tr '\\n' ,;"
				  " printf '|%s|' \"$(ps -o pgid= -p $$ | tr -d ' ')\"; echo $$;"
				  " grep SigIgn /proc/self/status; echo x >&3");
	pd_spawn_opts o;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	extra = open("/dev/null", O_RDONLY); /* not close-on-exec: must not leak */
	signal(SIGTERM, SIG_IGN);
	pd_spawn_init(&o, argv);
	o.envp = env;
	o.fd[0] = PD_SPAWN_NULL;
	o.fd[1] = p[1];
	o.fd[2] = PD_SPAWN_NULL;
	o.keep_fd = p[1];
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	signal(SIGTERM, SIG_DFL);
	CU_ASSERT_EQUAL(ee, 0);
	close(p[1]);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(p[0]);
	close(extra);
	pd_reap(pid, NULL, NULL, 0);
	{
		char want[128];
		/* ls's own directory fd shows too: 0,1,2,3 and that one */
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "yes|0,1,2,3,"));
		CU_ASSERT_PTR_NULL(strstr(buf, "0,1,2,3,4,5,")); /* nothing else leaked */
		snprintf(want, sizeof(want), "|%d|%d", (int)pid, (int)pid);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
		/* no signal ignored; glibc's own 32 and 33 excepted, which make
		 * hands its children ignored and no process can reset */
		const char *ign = strstr(buf, "SigIgn:\t");
		CU_ASSERT_PTR_NOT_NULL_FATAL(ign);
		CU_ASSERT_EQUAL(strtoull(ign + 8, NULL, 16) & ~0x180000000ull, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\nx\n"));
	}
}

/* a hook runs in the child; its error ends the child like a failed exec */
static int hook_fail(void *arg)
{
	return *(int *)arg;
}

static void test_hook(void)
{
	char **argv = sh("exit 0");
	int e = EPERM, ee = 0, st = 0;
	pd_spawn_opts o;
	pid_t pid;

	pd_spawn_init(&o, argv);
	o.hook = hook_fail;
	o.hook_arg = &e;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, EPERM);
	pd_reap(pid, &st, NULL, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 127);
	e = 0;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, 0);
	pd_reap(pid, &st, NULL, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* a code of the hook's own (which step failed) comes back unchanged */
	e = 3 << 16 | EACCES;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, 3 << 16 | EACCES);
	pd_reap(pid, &st, NULL, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 127);
}

/* a hook that blocks: a writer opening a FIFO nobody reads */
static int hook_block(void *arg)
{
	int fd = open((const char *)arg, O_WRONLY);

	if (fd >= 0)
		close(fd);
	return 0;
}

/* report_ms: pd_spawn stops waiting for a child stuck before exec; the
 * child goes on, and execs once it is free */
static void test_report_timeout(void)
{
	char fifo[] = "/tmp/pd-spawn-fifo-XXXXXX", path[64];
	char **argv = sh("exit 7");
	int ee = 0, st = 0, fd;
	pd_spawn_opts o;
	pid_t pid = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(fifo));
	snprintf(path, sizeof(path), "%s/f", fifo);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	pd_spawn_init(&o, argv);
	o.hook = hook_block;
	o.hook_arg = path;
	o.report_ms = 100;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, -ETIMEDOUT);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(pd_reap(pid, &st, NULL, 1), 0); /* still there */
	/* open the reading end: the hook returns, the child execs */
	fd = open(path, O_RDONLY);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(pd_reap(pid, &st, NULL, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	if (fd >= 0)
		close(fd);
	/* a child that execs in time is reported as usual */
	o.hook = NULL;
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, 0);
	pd_reap(pid, NULL, NULL, 0);
	unlink(path);
	rmdir(fifo);
}

/* stopping: one that leaves in the grace period, one that needs SIGTERM,
 * one that ignores it (SIGKILL), and a grandchild in each group */
static void test_stop_groups(void)
{
	char *quick[] = {"sleep", "0.05", NULL};
	char **term = sh("sleep 30 & wait");
	char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 30 & wait; wait", NULL};
	pid_t pids[4] = {0}, grand;
	pd_spawn_opts o;

	pd_spawn_init(&o, quick);
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pids[0], NULL), 0);
	pd_spawn_init(&o, term);
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pids[1], NULL), 0);
	pd_spawn_init(&o, stubborn);
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pids[2], NULL), 0);
	grand = pids[2];
	usleep(100000);
	pd_stop_groups(pids, 4, 300, 300);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(pids[i], 0);
	/* the whole group went: nothing of it is left (the orphaned sleep is
	 * reaped by init, which may take a moment) */
	for (int i = 0; i < 200 && kill(-grand, 0) == 0; i++)
		usleep(10000);
	CU_ASSERT_EQUAL(kill(-grand, 0), -1);
	CU_ASSERT_EQUAL(pd_kill_group(grand, 0), -ESRCH);
	CU_ASSERT_EQUAL(pd_reap(grand, NULL, NULL, 1), -ECHILD);
}

/* a leader that leaves by itself within the grace period: what it left in
 * its group is ended too (no process left behind) */
static void test_stop_orphans(void)
{
	int p[2];
	char buf[32] = "";
	char **argv = sh("sleep 30 & echo $!");
	pd_spawn_opts o;
	pid_t pids[1], orphan;
	ssize_t n;

	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	pd_spawn_init(&o, argv);
	o.fd[1] = p[1];
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pids[0], NULL), 0);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	CU_ASSERT_FATAL(n > 0);
	orphan = (pid_t)atoi(buf);
	CU_ASSERT_FATAL(orphan > 0);
	pd_stop_groups(pids, 1, 2000, 300);
	CU_ASSERT_EQUAL(pids[0], 0);
	for (int i = 0; i < 200 && kill(orphan, 0) == 0; i++)
		usleep(10000);
	CU_ASSERT_EQUAL(kill(orphan, 0), -1);
}

/* a process we did not start: pd_gone watches it without reaping */
static void test_gone(void)
{
	pid_t self = getpid();

	CU_ASSERT_EQUAL(pd_gone(self), 0);
	CU_ASSERT_EQUAL(pd_gone(999999999), 1);
	CU_ASSERT(pd_pidfd(self) >= 0 || pd_pidfd(self) == -ENOSYS);
}

/* a script without "#!" runs through /bin/sh, with its arguments, as
 * execvp runs it; by path and through PATH */
static void test_noexec_script(void)
{
	char dir[] = "/tmp/pd-spawn-XXXXXX", path[128], pathenv[200], out[64], err[64];
	char *argv[] = {path, "one", "two", NULL};
	char *byname[] = {"pdscript", "three", NULL};
	char *envp[] = {pathenv, NULL};
	pd_spawn_opts o;
	int po[2], ee = -1, st = 0;
	pid_t pid;
	ssize_t n;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pdscript", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("echo \"script $#: $*\"\n", f);
	fclose(f);
	chmod(path, 0700);
	CU_ASSERT_EQUAL(pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "script 2: one two\n");

	snprintf(pathenv, sizeof(pathenv), "PATH=/nonexistent:%s", dir);
	CU_ASSERT_EQUAL_FATAL(pipe(po), 0);
	pd_spawn_init(&o, byname);
	o.envp = envp;
	o.fd[1] = po[1];
	CU_ASSERT_EQUAL(pd_spawn(&o, &pid, &ee), 0);
	close(po[1]);
	CU_ASSERT_EQUAL(ee, 0);
	n = read(po[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(po[0]);
	CU_ASSERT_STRING_EQUAL(out, "script 1: three\n");
	CU_ASSERT_EQUAL(pd_reap(pid, &st, NULL, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(path);
	rmdir(dir);
}

/* pd_spawn_exited looks without reaping: the zombie stays ours */
static void test_exited(void)
{
	pd_spawn_opts o;
	pid_t pid;
	int st = -1, ee = -1, fd;
	char *argv[] = {"sleep", "0.2", NULL};

	pd_spawn_init(&o, argv);
	CU_ASSERT_EQUAL_FATAL(pd_spawn(&o, &pid, &ee), 0);
	CU_ASSERT_EQUAL(ee, 0);
	CU_ASSERT_EQUAL(pd_spawn_exited(pid), 0);
	fd = pd_pidfd(pid);
	if (fd >= 0) {
		struct pollfd pf = {fd, POLLIN, 0};
		CU_ASSERT_EQUAL(poll(&pf, 1, 5000), 1);
		close(fd);
	} else {
		usleep(500000);
	}
	CU_ASSERT_EQUAL(pd_spawn_exited(pid), 1);
	CU_ASSERT_EQUAL(pd_spawn_exited(pid), 1); /* still there */
	CU_ASSERT_EQUAL(kill(pid, 0), 0);          /* a zombie holds the pid */
	CU_ASSERT_EQUAL(pd_reap(pid, &st, NULL, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(pd_spawn_exited(pid), -ECHILD);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("spawn", NULL, NULL);
	CU_add_test(s, "output and status", test_output);
	CU_add_test(s, "a program that cannot run", test_exec_fails);
	CU_add_test(s, "PATH search", test_path);
	CU_add_test(s, "what the child gets", test_child_state);
	CU_add_test(s, "the hook", test_hook);
	CU_add_test(s, "report_ms", test_report_timeout);
	CU_add_test(s, "stopping groups", test_stop_groups);
	CU_add_test(s, "what a leader leaves in its group", test_stop_orphans);
	CU_add_test(s, "processes we did not start", test_gone);
	CU_add_test(s, "a script without #!", test_noexec_script);
	CU_add_test(s, "exited, not reaped", test_exited);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
