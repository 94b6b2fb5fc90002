/* test_launcher.c - the launcher seam (controller/launcher.h) through the
 * real core: a kind of the test's own (fake_launcher.c, registered below
 * in one line) is chosen by --launch fake:N, started by pd_run, asked for
 * its status, grown and drained by the control socket's scale, watched
 * until it gives up, and stopped; its agents are real parade-agent
 * processes that run real tasks over the session's socket. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "launcher.h"
#include "run.h"

/* fake_launcher.c */
extern const pd_launcher_ops fake_launcher;
extern unsigned fake_starts, fake_grown, fake_drained, fake_stops, fake_frees,
	fake_start_workers;
extern pid_t fake_pids[];
extern unsigned fake_npids;

static char home[256];

static void reset_fake(void)
{
	fake_starts = fake_grown = fake_drained = fake_stops = fake_frees = 0;
	fake_start_workers = 0;
	__atomic_store_n(&fake_npids, 0, __ATOMIC_SEQ_CST);
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* Every agent the fake started is gone (reaped: its pid no longer there). */
static int fake_agents_gone(void)
{
	for (unsigned i = 0; i < fake_npids; i++) {
		pid_t p = fake_pids[i] < 0 ? -fake_pids[i] : fake_pids[i];
		if (kill(p, 0) == 0)
			return 0;
	}
	return 1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static size_t count(const char *path, const char *needle)
{
	char line[512];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void test_registry(void)
{
	static const char *const builtin[] = {"local", "slurm", "ssh", "none"};
	pd_run_opts o;
	char *argv[] = {"parade run", "--launch", "nosuch:2", "--", "true", NULL};

	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_PTR_NOT_NULL(pd_launcher_find(builtin[i]));
		CU_ASSERT_PTR_EQUAL(pd_launcher_at(i), pd_launcher_find(builtin[i]));
	}
	CU_ASSERT_PTR_EQUAL(pd_launcher_find("fake"), &fake_launcher);
	CU_ASSERT_PTR_NULL(pd_launcher_find("nosuch"));
	CU_ASSERT_EQUAL(pd_launcher_register(&fake_launcher), -EEXIST);
	CU_ASSERT_EQUAL(pd_launcher_register(&pd_launcher_local), -EEXIST);
	/* a name no kind has is refused by --launch */
	CU_ASSERT_EQUAL(pd_run_parse(5, argv, PD_MODE_RUN, &o), -EINVAL);
	pd_run_opts_free(&o);
	/* nor can a launcher that never started scale */
	{
		char err[256];
		CU_ASSERT_EQUAL(pd_launcher_scale(NULL, 3, err, sizeof(err)), -ENOTSUP);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "(none)"));
	}
}

/* parade run --launch fake:3: started once with 3 workers, its agents run
 * every task, and it is stopped and freed at the end, its agents gone. */
static void test_run(void)
{
	char grid[300], out[300];
	char *argv[] = {"parade run", "--launch", "fake:3", "--grid", grid, "-o", out,
			"--no-progress", "--", "echo", "row", "{x}", NULL};
	pd_run_opts o;
	int rv;

	snprintf(grid, sizeof(grid), "%s/grid.csv", home);
	snprintf(out, sizeof(out), "%s/out.csv", home);
	write_file(grid, "x\n1\n2\n3\n4\n5\n6\n7\n");
	reset_fake();
	CU_ASSERT_EQUAL_FATAL(pd_run_parse(12, argv, PD_MODE_RUN, &o), 0);
	CU_ASSERT_STRING_EQUAL(o.launcher, "fake");
	rv = pd_run(&o);
	pd_run_opts_free(&o);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_EQUAL(fake_starts, 1);
	CU_ASSERT_EQUAL(fake_start_workers, 3);
	CU_ASSERT_EQUAL(fake_npids, 3);
	CU_ASSERT(fake_stops >= 1);
	CU_ASSERT_EQUAL(fake_frees, 1);
	CU_ASSERT_EQUAL(count(out, ",ok,"), 7);
	CU_ASSERT_EQUAL(count(out, "row 7"), 1);
	CU_ASSERT(fake_agents_gone());
}

typedef struct served {
	pd_run_opts o;
	int rv;
} served;

static void *serve_thread(void *arg)
{
	served *s = arg;

	s->rv = pd_run(&s->o);
	return NULL;
}

/* One request to the session's control socket; the reply (malloc'd). */
static char *request(const char *session, const char *req)
{
	char url[400], err[256], *reply = NULL;
	size_t rlen = 0;

	snprintf(url, sizeof(url), "ipc://%s/sessions/%s/control.sock", home, session);
	if (pd_control_request(url, req, strlen(req), 10000, &reply, &rlen, err, sizeof(err)) < 0)
		fprintf(stderr, "control request %s: %s\n", req, err);
	return reply;
}

/* The status's "launcher" object holds want; waits a while for it (agents
 * are counted alive once their processes run). */
static int status_has(const char *session, const char *want)
{
	for (int i = 0; i < 100; i++) {
		char *r = request(session, "{\"op\":\"status\"}");
		int ok = r && strstr(r, want);
		if (!ok && i == 99)
			fprintf(stderr, "status: %s\nwanted: %s\n", r ? r : "(none)", want);
		free(r);
		if (ok)
			return 1;
		sleep_ms(50);
	}
	return 0;
}

/* parade serve --launch fake:2, driven over the control socket: status
 * shows the kind, target, alive and its jobs; scale up calls grow, scale
 * down drains; stop ends the run, which stops and frees the launcher. */
static void test_serve_scale(void)
{
	served s;
	pthread_t t;
	char *r;
	char *argv[] = {"parade serve", "--name", "fakeserve", "--launch", "fake:2", NULL};

	reset_fake();
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(pd_run_parse(5, argv, PD_MODE_SERVE, &s.o), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, serve_thread, &s), 0);
	CU_ASSERT(status_has("fakeserve", "\"launcher\":{\"kind\":\"fake\",\"target\":2,"
					  "\"alive\":2,\"jobs\":[{\"id\":\"fake-1\",\"state\":"
					  "\"RUNNING\"}]}"));
	r = request("fakeserve", "{\"op\":\"scale\",\"agents\":4}");
	CU_ASSERT(r && strstr(r, "\"ok\":true") && strstr(r, "\"target\":4") &&
		  strstr(r, "\"was\":2"));
	free(r);
	CU_ASSERT_EQUAL(fake_grown, 2);
	CU_ASSERT(status_has("fakeserve", "\"kind\":\"fake\",\"target\":4,\"alive\":4,"));
	r = request("fakeserve", "{\"op\":\"scale\",\"agents\":1}");
	CU_ASSERT(r && strstr(r, "\"ok\":true") && strstr(r, "\"was\":4"));
	free(r);
	CU_ASSERT_EQUAL(fake_drained, 3);
	CU_ASSERT(status_has("fakeserve", "\"kind\":\"fake\",\"target\":1,"));
	CU_ASSERT_EQUAL(fake_stops, 0);
	r = request("fakeserve", "{\"op\":\"stop\"}");
	CU_ASSERT(r && strstr(r, "\"ok\":true"));
	free(r);
	pthread_join(t, NULL);
	pd_run_opts_free(&s.o);
	CU_ASSERT_EQUAL(s.rv, 0);
	CU_ASSERT_EQUAL(fake_starts, 1);
	CU_ASSERT(fake_stops >= 1);
	CU_ASSERT_EQUAL(fake_frees, 1);
	CU_ASSERT(fake_agents_gone());
}

/* Every agent of the launcher dies: its health says it gave up, and with
 * no agent connected the run ends with status 2 (tasks not run). */
static void test_gave_up(void)
{
	served s;
	pthread_t t;
	char grid[300];
	char *argv[] = {"parade run", "--launch", "fake:2", "--handler", "sleep", "--grid", grid,
			"--no-progress", "--", "{secs}", NULL};

	snprintf(grid, sizeof(grid), "%s/sleeps.csv", home);
	write_file(grid, "secs\n30\n30\n30\n");
	reset_fake();
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(pd_run_parse(10, argv, PD_MODE_RUN, &s.o), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, serve_thread, &s), 0);
	for (int i = 0; i < 200 && __atomic_load_n(&fake_npids, __ATOMIC_SEQ_CST) < 2; i++)
		sleep_ms(20);
	CU_ASSERT_EQUAL(fake_npids, 2);
	sleep_ms(300);
	for (unsigned i = 0; i < fake_npids; i++)
		if (fake_pids[i] > 0)
			kill(-fake_pids[i], SIGKILL);
	pthread_join(t, NULL);
	pd_run_opts_free(&s.o);
	CU_ASSERT_EQUAL(s.rv, 2);
	CU_ASSERT_EQUAL(fake_stops >= 1, 1);
	CU_ASSERT_EQUAL(fake_frees, 1);
	CU_ASSERT(fake_agents_gone());
}

int main(void)
{
	const char *build = getenv("top_builddir");
	char agent[600], cmd[300];
	CU_pSuite s;
	unsigned fails;

	/* the one registration line a new kind needs (here at run time) */
	if (pd_launcher_register(&fake_launcher) < 0)
		return 2;
	snprintf(home, sizeof(home), "/tmp/test_launcher.XXXXXX");
	if (!mkdtemp(home))
		return 2;
	setenv("PARADE_HOME", home, 1);
	snprintf(agent, sizeof(agent), "%s/agent/parade-agent", build ? build : ".");
	if (access(agent, X_OK) != 0) {
		fprintf(stderr, "test_launcher: no agent program at %s\n", agent);
		return 2;
	}
	setenv("PARADE_AGENT", agent, 1);
	unsetenv("PARADE_STEP_SESSION");
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("launcher", NULL, NULL);
	CU_add_test(s, "the registry", test_registry);
	CU_add_test(s, "a run through a fake launcher", test_run);
	CU_add_test(s, "status, scale and stop over the control socket", test_serve_scale);
	CU_add_test(s, "a launcher that gives up ends the run", test_gave_up);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	if (system(cmd) != 0)
		fails++;
	return fails ? 1 : 0;
}
