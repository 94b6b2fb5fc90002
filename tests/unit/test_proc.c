#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "loop.h"
#include "proc.h"

/* a deep copy of one delivered result */
struct res {
	int done;
	pd_proc *p;
	uint8_t status, flags;
	int32_t exit_code, signal;
	uint64_t wall_us, cpu_us, maxrss_kb;
	char *out, *err, *error;
	uint32_t out_len, err_len;
	int stop_after; /* results to wait for before stopping the loop */
	int *counter;
};

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void res_free(struct res *r)
{
	free(r->out);
	free(r->err);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

static pd_loop *cur_loop;

static void on_done(pd_proc *p, const pd_result_msg *m, void *arg)
{
	struct res *r = arg;

	r->done++;
	r->p = p;
	r->status = m->status;
	r->flags = m->flags;
	r->exit_code = m->exit_code;
	r->signal = m->signal;
	r->wall_us = m->wall_us;
	r->cpu_us = m->cpu_us;
	r->maxrss_kb = m->maxrss_kb;
	r->out = dup_bytes(m->out, m->out_len);
	r->err = dup_bytes(m->err, m->err_len);
	r->error = dup_bytes(m->error, strlen(m->error));
	r->out_len = m->out_len;
	r->err_len = m->err_len;
	if (r->counter) {
		if (--*r->counter == 0)
			pd_loop_stop(cur_loop);
	} else {
		pd_loop_stop(cur_loop);
	}
}

static int hung;

static void on_guard(pd_loop *l, void *arg)
{
	(void)arg;
	hung = 1;
	pd_loop_stop(l);
}

static void run_loop(pd_loop *l, uint64_t guard_ms)
{
	pd_timer *g = pd_timer_new(l, on_guard, NULL);

	hung = 0;
	pd_timer_start(g, guard_ms);
	CU_ASSERT_EQUAL(pd_loop_run(l), 0);
	pd_timer_free(g);
	CU_ASSERT_FALSE(hung);
}

static pd_task_msg mktask(char **argv, uint32_t timeout_ms, uint32_t out_limit)
{
	pd_task_msg t;
	uint32_t n = 0;

	while (argv[n])
		n++;
	memset(&t, 0, sizeof(t));
	t.id = 42;
	t.attempt = 1;
	t.kind = PD_TASK_PROCESS;
	t.timeout_ms = timeout_ms;
	t.out_limit = out_limit;
	t.argc = n;
	t.argv = argv;
	return t;
}

/* Runs argv to completion; 0 if a result arrived. */
static int run(char **argv, uint32_t timeout_ms, uint32_t out_limit, struct res *r)
{
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, timeout_ms, out_limit);
	pd_proc *p = NULL;
	int rv;

	memset(r, 0, sizeof(*r));
	if (!l)
		return -ENOMEM;
	cur_loop = l;
	rv = pd_proc_start(l, &t, on_done, r, &p);
	CU_ASSERT_EQUAL(rv, 0);
	if (rv == 0) {
		CU_ASSERT_PTR_NOT_NULL(p);
		run_loop(l, 10000);
		CU_ASSERT_EQUAL(r->done, 1);
		CU_ASSERT_PTR_EQUAL(r->p, p);
	}
	pd_loop_free(l);
	return r->done == 1 ? 0 : -1;
}

/* 1 if /proc/pid is gone or a zombie (waiting up to 2 s for that). */
static int proc_dead(long pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");
		char *rp;

		if (!f)
			return 1;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		rp = strrchr(buf, ')');
		if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
			return 1;
		usleep(10000);
	}
	return 0;
}

static void test_true(void)
{
	char *argv[] = {"true", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.exit_code, 0);
		CU_ASSERT_EQUAL(r.signal, 0);
		CU_ASSERT_EQUAL(r.flags, 0);
		CU_ASSERT_STRING_EQUAL(r.error, "");
		CU_ASSERT_EQUAL(r.out_len, 0);
		CU_ASSERT_EQUAL(r.err_len, 0);
		CU_ASSERT(r.wall_us > 0);
		CU_ASSERT(r.maxrss_kb > 0);
	}
	res_free(&r);
}

static void test_exit_code(void)
{
	char *argv[] = {"sh", "-c", "exit 3", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
		CU_ASSERT_EQUAL(r.exit_code, 3);
		CU_ASSERT_EQUAL(r.signal, 0);
		CU_ASSERT_STRING_EQUAL(r.error, "");
	}
	res_free(&r);
}

static void test_signal(void)
{
	char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
		CU_ASSERT_EQUAL(r.exit_code, -1);
		CU_ASSERT_EQUAL(r.signal, 9);
		CU_ASSERT_STRING_EQUAL(r.error, "killed by signal 9 (SIGKILL)");
	}
	res_free(&r);
}

/* The test blocks SIGUSR1 through the loop and ignores SIGPIPE: the child
 * must still get default dispositions and an empty mask. */
static void test_signal_reset(void)
{
	char *argv[] = {"sh", "-c", "kill -USR1 $$; echo survived", NULL};
	char *argv2[] = {"sh", "-c", "kill -PIPE $$; echo survived", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.signal, SIGUSR1);
		CU_ASSERT_EQUAL(r.out_len, 0);
	}
	res_free(&r);
	if (run(argv2, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.signal, SIGPIPE);
		CU_ASSERT_STRING_EQUAL(r.error, "killed by signal 13 (SIGPIPE)");
	}
	res_free(&r);
}

static void test_exec_fail(void)
{
	char *argv[] = {"parade-no-such-program-xyz", "a", NULL};
	char *argv2[] = {"/nonexistent/dir/prog", NULL};
	char *argv3[] = {"/dev/null", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
		CU_ASSERT_EQUAL(r.exit_code, 127);
		CU_ASSERT_EQUAL(r.signal, 0);
		CU_ASSERT_STRING_EQUAL(r.error, "cannot execute 'parade-no-such-program-xyz': "
		                                "No such file or directory");
	}
	res_free(&r);
	if (run(argv2, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.exit_code, 127);
		CU_ASSERT_STRING_EQUAL(r.error, "cannot execute '/nonexistent/dir/prog': "
		                                "No such file or directory");
	}
	res_free(&r);
	if (run(argv3, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.exit_code, 127);
		CU_ASSERT_STRING_EQUAL(r.error, "cannot execute '/dev/null': Permission denied");
	}
	res_free(&r);
}

static void test_timeout(void)
{
	char *argv[] = {"sh", "-c", "echo $$; exec sleep 5", NULL};
	uint64_t t0 = pd_now_us();
	struct res r;

	if (run(argv, 300, 1000, &r) == 0) {
		uint64_t el = pd_now_us() - t0;

		CU_ASSERT_EQUAL(r.status, PD_ST_TIMEOUT);
		CU_ASSERT_EQUAL(r.signal, SIGTERM);
		CU_ASSERT_STRING_EQUAL(r.error, "timed out after 0.3 s");
		CU_ASSERT(el < 1500000);
		CU_ASSERT(r.wall_us >= 300000 && r.wall_us < 1500000);
		CU_ASSERT(proc_dead(strtol(r.out, NULL, 10)));
	}
	res_free(&r);
}

/* A child ignoring SIGTERM gets SIGKILL a second later. */
static void test_timeout_kill(void)
{
	char *argv[] = {"sh", "-c", "trap '' TERM; echo $$; sleep 5; echo late", NULL};
	uint64_t t0 = pd_now_us();
	struct res r;

	if (run(argv, 2500, 1000, &r) == 0) {
		uint64_t el = pd_now_us() - t0;

		CU_ASSERT_EQUAL(r.status, PD_ST_TIMEOUT);
		CU_ASSERT_EQUAL(r.signal, SIGKILL);
		CU_ASSERT_STRING_EQUAL(r.error, "timed out after 2.5 s");
		CU_ASSERT(el >= 3400000 && el < 4500000);
		CU_ASSERT(strstr(r.out, "late") == NULL);
		CU_ASSERT(proc_dead(strtol(r.out, NULL, 10)));
	}
	res_free(&r);
}

static void test_truncate(void)
{
	char *argv[] = {"head", "-c", "5000", "/dev/zero", NULL};
	char *argv2[] = {"sh", "-c", "head -c 300000 /dev/zero >&2; printf abc", NULL};
	char *argv3[] = {"head", "-c", "1000", "/dev/zero", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.flags, PD_RF_OUT_TRUNC);
		CU_ASSERT_EQUAL(r.out_len, 1000);
	}
	res_free(&r);
	if (run(argv2, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.flags, PD_RF_ERR_TRUNC);
		CU_ASSERT_EQUAL(r.err_len, 1000);
		CU_ASSERT_EQUAL(r.out_len, 3);
		CU_ASSERT_STRING_EQUAL(r.out, "abc");
	}
	res_free(&r);
	if (run(argv3, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.flags, 0);
		CU_ASSERT_EQUAL(r.out_len, 1000);
	}
	res_free(&r);
}

static void test_big_output(void)
{
	char *argv[] = {"head", "-c", "3000000", "/dev/urandom", NULL};
	struct res r;

	if (run(argv, 0, 4u << 20, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.flags, 0);
		CU_ASSERT_EQUAL(r.out_len, 3000000);
	}
	res_free(&r);
}

static void test_stderr(void)
{
	char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 1", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
		CU_ASSERT_EQUAL(r.exit_code, 1);
		CU_ASSERT_STRING_EQUAL(r.out, "out\n");
		CU_ASSERT_STRING_EQUAL(r.err, "err\n");
	}
	res_free(&r);
}

static void test_stdin_null(void)
{
	char *argv[] = {"cat", NULL};
	struct res r;

	if (run(argv, 5000, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.out_len, 0);
		CU_ASSERT(r.wall_us < 2000000);
	}
	res_free(&r);
}

static void test_hostile_argv(void)
{
	char arg[] = "a\nb'c\"d $(touch /tmp/parade-pwned) `id` \\ * %s ; | \x01\xff end";
	char *argv[] = {"printf", "%s", arg, NULL};
	char *argv2[] = {"sh", "-c", "printf '[%s]' \"$@\"", "sh", "", " x ", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT_EQUAL(r.out_len, strlen(arg));
		CU_ASSERT(memcmp(r.out, arg, strlen(arg)) == 0);
	}
	res_free(&r);
	CU_ASSERT(access("/tmp/parade-pwned", F_OK) != 0);
	if (run(argv2, 0, 1000, &r) == 0)
		CU_ASSERT_STRING_EQUAL(r.out, "[][ x ]");
	res_free(&r);
}

static void test_env(void)
{
	char *argv[] = {"sh", "-c", "printf %s \"$PD_TEST_VAR\"", NULL};
	struct res r;

	setenv("PD_TEST_VAR", "hello $world", 1);
	if (run(argv, 0, 1000, &r) == 0)
		CU_ASSERT_STRING_EQUAL(r.out, "hello $world");
	res_free(&r);
	unsetenv("PD_TEST_VAR");
}

/* Only 0, 1 and 2 reach the child, even if the agent leaks an fd (the
 * glob's own directory fd is closed by the time [ -e ] runs). */
static void test_fds(void)
{
	char *argv[] = {"sh", "-c",
	                "for f in /proc/$$/fd/*; do [ -e $f ] && echo ${f##*/}; done; true", NULL};
	int leak = open("/dev/null", O_RDONLY);
	struct res r;

	CU_ASSERT(leak >= 0);
	if (run(argv, 0, 1000, &r) == 0)
		CU_ASSERT_STRING_EQUAL(r.out, "0\n1\n2\n");
	res_free(&r);
	close(leak);
}

static void test_own_group(void)
{
	char *argv[] = {"sh", "-c", "set -- $(cat /proc/$$/stat); echo $1 $5", NULL};
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		long pid = -1, pgid = -2;

		if (r.status == PD_ST_OK) {
			CU_ASSERT_EQUAL(sscanf(r.out, "%ld %ld", &pid, &pgid), 2);
			CU_ASSERT_EQUAL(pid, pgid);
		}
	}
	res_free(&r);
}

static void test_grandchild(void)
{
	char *argv[] = {"sh", "-c", "sleep 30 & echo $!", NULL};
	uint64_t t0 = pd_now_us();
	struct res r;

	if (run(argv, 0, 1000, &r) == 0) {
		long pid = strtol(r.out, NULL, 10);

		CU_ASSERT_EQUAL(r.status, PD_ST_OK);
		CU_ASSERT(pd_now_us() - t0 < 2000000);
		CU_ASSERT(pid > 1);
		if (pid > 1)
			CU_ASSERT(proc_dead(pid));
	}
	res_free(&r);
}

static void on_cancel_timer(pd_loop *l, void *arg)
{
	(void)l;
	pd_proc_cancel(arg);
}

static void test_cancel(void)
{
	char *argv[] = {"sh", "-c", "echo $$; sleep 30", NULL};
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, 0, 1000);
	pd_proc *p = NULL;
	pd_timer *tm;
	struct res r;
	uint64_t t0 = pd_now_us();

	memset(&r, 0, sizeof(r));
	cur_loop = l;
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t, on_done, &r, &p), 0);
	tm = pd_timer_new(l, on_cancel_timer, p);
	pd_timer_start(tm, 100);
	run_loop(l, 5000);
	CU_ASSERT_EQUAL(r.done, 1);
	CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(r.error, "cancelled");
	CU_ASSERT(pd_now_us() - t0 < 1000000);
	if (r.out)
		CU_ASSERT(proc_dead(strtol(r.out, NULL, 10)));
	pd_timer_free(tm);
	pd_loop_free(l);
	res_free(&r);
}

static void test_many(void)
{
	enum { N = 40 };
	char args[N][32];
	char *argv[N][4];
	struct res r[N];
	pd_loop *l = pd_loop_new();
	int left = N;

	cur_loop = l;
	for (int i = 0; i < N; i++) {
		pd_task_msg t;
		pd_proc *p;

		snprintf(args[i], sizeof(args[i]), "echo %d; exit %d", i, i % 5);
		argv[i][0] = "sh";
		argv[i][1] = "-c";
		argv[i][2] = args[i];
		argv[i][3] = NULL;
		t = mktask(argv[i], 10000, 100);
		memset(&r[i], 0, sizeof(r[i]));
		r[i].counter = &left;
		CU_ASSERT_EQUAL(pd_proc_start(l, &t, on_done, &r[i], &p), 0);
	}
	run_loop(l, 10000);
	CU_ASSERT_EQUAL(left, 0);
	for (int i = 0; i < N; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d\n", i);
		CU_ASSERT_EQUAL(r[i].done, 1);
		CU_ASSERT_EQUAL(r[i].exit_code, i % 5);
		if (r[i].out)
			CU_ASSERT_STRING_EQUAL(r[i].out, want);
		res_free(&r[i]);
	}
	pd_loop_free(l);
}

static void on_stop(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l);
}

static void test_kill_all(void)
{
	char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, 0, 1000);
	struct res r[3];
	pd_proc *p;
	pd_timer *tm = pd_timer_new(l, on_stop, NULL);

	cur_loop = l;
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(pd_proc_start(l, &t, on_done, &r[i], &p), 0);
	pd_timer_start(tm, 200);
	CU_ASSERT_EQUAL(pd_loop_run(l), 0);
	pd_proc_kill_all();
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(r[i].done, 0);
	pd_timer_free(tm);
	pd_loop_free(l);
}

/* A task killed by a signal the agent did not send: its result is held
 * (Slurm may be ending the agent too), then reported failed as it is. */
static void test_foreign_signal(void)
{
	char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
	/* a shell whose command died of SIGINT */
	char *shell[] = {"sh", "-c", "sh -c 'kill -INT $$'; exit $?", NULL};
	/* exit 140 (128 + SIGUSR2): no reason to wait */
	char *usr2[] = {"sh", "-c", "exit 140", NULL};
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, 0, 1000);
	pd_task_msg t2 = mktask(shell, 0, 1000);
	pd_task_msg t3 = mktask(usr2, 0, 1000);
	pd_timer *tm = pd_timer_new(l, on_stop, NULL);
	pd_proc *p;
	struct res r, r2, r3;
	int left = 2, never = 100; /* r3's result does not stop the loop */

	cur_loop = l;
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	memset(&r3, 0, sizeof(r3));
	r.counter = r2.counter = &left;
	r3.counter = &never;
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t, on_done, &r, &p), 0);
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t2, on_done, &r2, &p), 0);
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t3, on_done, &r3, &p), 0);
	/* dead within 200 ms, but held for 500; exit 140 is not held */
	pd_timer_start(tm, 200);
	CU_ASSERT_EQUAL(pd_loop_run(l), 0);
	CU_ASSERT_EQUAL(r.done + r2.done, 0);
	CU_ASSERT_EQUAL(r3.done, 1);
	CU_ASSERT_EQUAL(r3.exit_code, 140);
	run_loop(l, 5000);
	CU_ASSERT_EQUAL(r.done, 1);
	CU_ASSERT_EQUAL(r.status, PD_ST_FAILED);
	CU_ASSERT_EQUAL(r.signal, SIGTERM);
	if (r.error)
		CU_ASSERT_STRING_EQUAL(r.error, "killed by signal 15 (SIGTERM)");
	CU_ASSERT_EQUAL(r2.done, 1);
	CU_ASSERT_EQUAL(r2.status, PD_ST_FAILED);
	CU_ASSERT_EQUAL(r2.exit_code, 130);
	res_free(&r);
	res_free(&r2);
	res_free(&r3);
	pd_timer_free(tm);
	pd_loop_free(l);
}

/* A held result is dropped when the agent stops meanwhile (the controller
 * requeues the task as lost), and a CANCEL of it reports it cancelled. */
static void test_foreign_signal_stop(void)
{
	char *argv[] = {"sh", "-c", "kill -KILL $$", NULL};
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, 0, 1000);
	pd_timer *tm = pd_timer_new(l, on_stop, NULL);
	pd_proc *p, *q;
	struct res r, c;

	cur_loop = l;
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t, on_done, &r, &p), 0);
	t.id = 43;
	CU_ASSERT_EQUAL_FATAL(pd_proc_start(l, &t, on_done, &c, &q), 0);
	pd_timer_start(tm, 200);
	CU_ASSERT_EQUAL(pd_loop_run(l), 0);
	CU_ASSERT_EQUAL(r.done + c.done, 0);
	pd_proc_cancel(q);
	CU_ASSERT_EQUAL(c.done, 0); /* from the loop, not from within */
	run_loop(l, 5000);
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(c.status, PD_ST_FAILED);
	if (c.error)
		CU_ASSERT_STRING_EQUAL(c.error, "cancelled");
	/* stopped before 500 ms: nothing reported, nothing killed by pid 0 */
	if (r.done == 0) {
		pd_proc_kill_all();
		CU_ASSERT_EQUAL(r.done, 0);
	}
	res_free(&r);
	res_free(&c);
	pd_timer_free(tm);
	pd_loop_free(l);
}

static void test_bad_task(void)
{
	char *argv[] = {"true", NULL};
	char *empty[] = {NULL};
	pd_loop *l = pd_loop_new();
	pd_task_msg t = mktask(argv, 0, 10);
	pd_task_msg e = mktask(empty, 0, 10);
	pd_proc *p = (pd_proc *)&t;
	struct res r;

	t.kind = PD_TASK_SLEEP;
	CU_ASSERT_EQUAL(pd_proc_start(l, &t, on_done, &r, &p), -EINVAL);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(pd_proc_start(l, &e, on_done, &r, &p), -EINVAL);
	CU_ASSERT_PTR_NULL(p);
	pd_loop_free(l);
}

static void on_usr1(pd_loop *l, int signo, void *arg)
{
	(void)l;
	(void)signo;
	(void)arg;
}

/* Runs last: every child has been reaped. */
static void test_no_children(void)
{
	errno = 0;
	CU_ASSERT_EQUAL(waitpid(-1, NULL, WNOHANG), -1);
	CU_ASSERT_EQUAL(errno, ECHILD);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"true", test_true},
	    {"exit code", test_exit_code},
	    {"signal", test_signal},
	    {"signal reset", test_signal_reset},
	    {"a signal the agent did not send: held", test_foreign_signal},
	    {"a held result: cancelled, or dropped at stop", test_foreign_signal_stop},
	    {"exec failure", test_exec_fail},
	    {"timeout", test_timeout},
	    {"timeout kill", test_timeout_kill},
	    {"truncate", test_truncate},
	    {"big output", test_big_output},
	    {"stderr", test_stderr},
	    {"stdin null", test_stdin_null},
	    {"hostile argv", test_hostile_argv},
	    {"environment", test_env},
	    {"fds", test_fds},
	    {"own group", test_own_group},
	    {"grandchild", test_grandchild},
	    {"cancel", test_cancel},
	    {"many", test_many},
	    {"kill all", test_kill_all},
	    {"bad task", test_bad_task},
	    {"no children", test_no_children},
	};
	pd_loop *sl;
	CU_pSuite s;
	unsigned fails;

	/* a process using pd_loop_signal has these blocked; an agent may
	 * ignore SIGPIPE */
	sl = pd_loop_new();
	if (!sl || pd_loop_signal(sl, SIGUSR1, on_usr1, NULL) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	/* "no such program" must hold on every PATH entry: a PATH with folders
	 * this user may not search (root's own, when the suite runs as another
	 * user) makes execvp's answer EACCES */
	setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("proc", NULL, NULL);
	if (!s)
		return 1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	pd_loop_free(sl);
	return fails ? 1 : 0;
}
