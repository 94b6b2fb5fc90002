/* test_loop.c - the event loop's polling before sleep: PARADE_POLL_US,
 * events that arrive inside a polling window, and an idle loop that stops
 * polling (CPU time, not wall time: nothing here asserts speed). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

static void check_env(const char *value, int want_ok)
{
	char err[160] = "";
	int rv;

	if (value)
		setenv("PARADE_POLL_US", value, 1);
	else
		unsetenv("PARADE_POLL_US");
	rv = pd_loop_poll_env(err, sizeof(err));
	if (want_ok) {
		CU_ASSERT_EQUAL(rv, 0);
	} else {
		CU_ASSERT_EQUAL(rv, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "PARADE_POLL_US='"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "from 0 to 1000"));
	}
}

static void test_env(void)
{
	check_env(NULL, 1);
	check_env("0", 1);
	check_env("50", 1);
	check_env("1000", 1);
	check_env("", 0);
	check_env("abc", 0);
	check_env("-1", 0);
	check_env("+5", 0);
	check_env(" 5", 0);
	check_env("5x", 0);
	check_env("1001", 0);
	check_env("99999999999999999999999", 0);
	unsetenv("PARADE_POLL_US");
}

/* ---- a writer thread and a loop that counts what it reads ---- */

typedef struct feed {
	int wfd;
	int n;        /* bytes to write */
	long gap_us;  /* pause between them */
	int got;      /* bytes the loop read */
} feed;

static void *writer(void *arg)
{
	feed *f = arg;
	struct timespec ts = {f->gap_us / 1000000, (f->gap_us % 1000000) * 1000};

	for (int i = 0; i < f->n; i++) {
		nanosleep(&ts, NULL);
		if (write(f->wfd, "x", 1) != 1)
			break;
	}
	return NULL;
}

static void on_read(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	feed *f = arg;
	char buf[64];
	ssize_t r;

	(void)ev;
	r = read(fd, buf, sizeof(buf));
	if (r > 0)
		f->got += (int)r;
	if (r <= 0 || f->got >= f->n)
		pd_loop_stop(l);
}

static void on_deadline(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l); /* the test fails on the count */
}

static double thread_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Runs a loop polling up to max_us against a writer of n bytes gap_us
 * apart; returns the loop thread's CPU seconds, *got the bytes read. */
static double run_feed(uint32_t max_us, int n, long gap_us, int *got, uint64_t *hits)
{
	pd_loop *l = pd_loop_new();
	pd_timer *deadline;
	pthread_t th;
	int p[2];
	feed f;
	double cpu0, cpu;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	memset(&f, 0, sizeof(f));
	f.wfd = p[1];
	f.n = n;
	f.gap_us = gap_us;
	pd_loop_set_poll(l, max_us);
	CU_ASSERT_EQUAL(pd_loop_add(l, p[0], PD_EV_IN, on_read, &f), 0);
	deadline = pd_timer_new(l, on_deadline, NULL);
	pd_timer_start(deadline, 30000);
	cpu0 = thread_cpu_s();
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, writer, &f), 0);
	CU_ASSERT_EQUAL(pd_loop_run(l), 0);
	cpu = thread_cpu_s() - cpu0;
	*hits = pd_loop_poll_hits(l);
	close(p[1]); /* a writer still going ends on EPIPE */
	pthread_join(th, NULL);
	pd_timer_free(deadline);
	pd_loop_del(l, p[0]);
	close(p[0]);
	pd_loop_free(l);
	*got = f.got;
	return cpu;
}

/* bytes 100 µs apart: the loop polls through most gaps (its window grows
 * to 1 ms) and must still deliver each event it finds while polling */
static void test_events_while_polling(void)
{
	uint64_t hits = 0;
	int got = 0;

	run_feed(1000, 2000, 100, &got, &hits);
	CU_ASSERT_EQUAL(got, 2000);
	CU_ASSERT(hits > 0); /* the polling path was taken */
}

/* bytes 5 ms apart, far longer than the 1 ms window: after the first
 * sleeps the loop stops polling, so 100 gaps cost next to no CPU (polling
 * through each would cost ~100 ms; sleeping costs well under 1 ms each) */
static void test_idle_stops_polling(void)
{
	uint64_t hits = 1;
	int got = 0;
	double cpu = run_feed(1000, 100, 5000, &got, &hits);

	CU_ASSERT_EQUAL(got, 100);
	CU_ASSERT_EQUAL(hits, 0);
	if (cpu >= 0.04)
		fprintf(stderr, "\n  idle loop used %.3f s CPU over 100 gaps of 5 ms\n", cpu);
	CU_ASSERT(cpu < 0.04);
}

/* the same with polling off: the same answers (the plain path) */
static void test_poll_off(void)
{
	uint64_t hits = 1;
	int got = 0;

	run_feed(0, 500, 100, &got, &hits);
	CU_ASSERT_EQUAL(got, 500);
	CU_ASSERT_EQUAL(hits, 0);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("loop", NULL, NULL);
	CU_add_test(s, "PARADE_POLL_US", test_env);
	CU_add_test(s, "events found while polling", test_events_while_polling);
	CU_add_test(s, "an idle loop stops polling", test_idle_stops_polling);
	CU_add_test(s, "polling off", test_poll_off);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		int failed = (int)CU_get_number_of_failures();

		CU_cleanup_registry();
		return failed ? 1 : 0;
	}
}
