/* test_journal_retry.c - a journal whose disk refuses writes (a real
 * RLIMIT_FSIZE on this process: SQLite gets EFBIG, as it gets ENOSPC from
 * a full disk) loses nothing: every write of the failed transactions is
 * kept, writes keep coming while it fails, and once the disk takes writes
 * again one commit makes all of them durable, each once. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "codec.h"
#include "journal.h"

#define NRES 300
#define OUTLEN 3000

static char dir[256];

static pd_journal *jopen(const char *path, int flags)
{
	pd_journal *j = NULL;
	char err[512];
	int rv = pd_journal_open(path, flags, &j, err, sizeof(err));

	if (rv < 0)
		fprintf(stderr, "open %s: %d %s\n", path, rv, err);
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	return j;
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* task i's stdout: OUTLEN bytes that name it */
static void out_of(uint64_t i, char *buf)
{
	memset(buf, 'a' + (int)(i % 26), OUTLEN);
	snprintf(buf, 32, "task=%llu;", (unsigned long long)i);
	buf[strlen(buf)] = '.';
}

static int add_result(pd_journal *j, uint64_t i)
{
	char out[OUTLEN];
	pd_jresult r;

	out_of(i, out);
	memset(&r, 0, sizeof(r));
	r.task = i;
	r.attempt = 1;
	r.status = PD_ST_OK;
	r.seconds = 0.25;
	r.agent = "a1";
	r.out = out;
	r.out_len = OUTLEN;
	r.error = "";
	r.at_ms = 5000 + i;
	return pd_journal_result(j, &r);
}

typedef struct seen {
	unsigned char hit[NRES + 16];
	int bad;
	uint64_t n;
} seen;

static int check_result(void *arg, const pd_jresult *r)
{
	seen *s = arg;
	char out[OUTLEN];

	out_of(r->task, out);
	if (r->task >= NRES || s->hit[r->task]++ || r->out_len != OUTLEN ||
	    memcmp(r->out, out, OUTLEN) != 0 || strcmp(r->agent, "a1") != 0)
		s->bad++;
	s->n++;
	return 0;
}

static int count_agent(void *arg, const pd_jagent *a)
{
	int *n = arg;

	if (!strcmp(a->name, "agent-x") && a->left_ms == 7777 && a->tasks_done == 42)
		(*n)++;
	else
		*n += 1000;
	return 0;
}

static int count_event(void *arg, uint64_t seq, uint64_t at_ms, const char *kind,
		       const char *text)
{
	int *n = arg;

	(void)seq;
	(void)at_ms;
	if (!strcmp(kind, "while-failing") && !strcmp(text, "kept"))
		(*n)++;
	return 0;
}

static int count_task(void *arg, uint64_t id, char **cells, size_t n)
{
	uint64_t *next = arg;
	char want[32];

	snprintf(want, sizeof(want), "row%llu", (unsigned long long)id);
	if (id == *next && n == 1 && !strcmp(cells[0], want))
		(*next)++;
	return 0;
}

static void test_disk_refuses_writes(void)
{
	char path[300], wal[310];
	struct rlimit old, lim;
	pd_journal *j, *r;
	pd_jagent a;
	pd_jcounts c;
	int64_t row = 0;
	uint64_t next = 0;
	int rv, nagents = 0, nevents = 0;
	seen s;

	snprintf(path, sizeof(path), "%s/full.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	j = jopen(path, PD_J_CREATE);
	for (uint64_t i = 0; i < 10; i++) {
		char cell[32];
		const char *cells[1] = {cell};
		snprintf(cell, sizeof(cell), "row%llu", (unsigned long long)i);
		CU_ASSERT_EQUAL(pd_journal_task(j, i, cells, 1), 0);
	}
	CU_ASSERT_EQUAL_FATAL(pd_journal_commit(j), 0);

	/* from now on no file of this process grows by more than a little */
	CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)(size_of(wal) > size_of(path) ? size_of(wal) : size_of(path)) + 8192;
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);

	memset(&a, 0, sizeof(a));
	a.name = "agent-x";
	a.slots = 1;
	a.joined_ms = 1;
	CU_ASSERT_EQUAL(pd_journal_agent_join(j, &a, &row), 0);
	for (uint64_t i = 0; i < NRES / 2; i++)
		CU_ASSERT_EQUAL(add_result(j, i), 1);
	CU_ASSERT_EQUAL(pd_journal_event(j, 10, "while-failing", "kept"), 0);
	rv = pd_journal_commit(j);
	CU_ASSERT(rv < 0);
	CU_ASSERT(strstr(pd_journal_error(j), path) != NULL);
	CU_ASSERT(pd_journal_pending(j) >= NRES / 2);

	/* the session goes on: more writes while the disk still refuses */
	for (uint64_t i = NRES / 2; i < NRES; i++)
		CU_ASSERT_EQUAL(add_result(j, i), 1);
	for (uint64_t i = 10; i < 20; i++) {
		char cell[32];
		const char *cells[1] = {cell};
		snprintf(cell, sizeof(cell), "row%llu", (unsigned long long)i);
		CU_ASSERT_EQUAL(pd_journal_task(j, i, cells, 1), 0);
		CU_ASSERT_EQUAL(pd_journal_attempt(j, i, 2, "agent-x", 20 + i), 0);
	}
	CU_ASSERT_EQUAL(pd_journal_agent_leave(j, row, 7777, 42), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "state", "still-here"), 0);
	CU_ASSERT(pd_journal_commit(j) < 0);
	CU_ASSERT(pd_journal_commit(j) < 0);

	/* a reader sees only what was committed before */
	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 10);
	CU_ASSERT_EQUAL(c.results, 0);
	pd_journal_close(r);

	/* room again: one commit takes everything, once */
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &old), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(j), 0);
	CU_ASSERT_EQUAL(add_result(j, 7), 0); /* it has its result */
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	pd_journal_close(j);

	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 20);
	CU_ASSERT_EQUAL(c.results, NRES);
	CU_ASSERT_EQUAL(c.ok, NRES);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_results(r, 1, 0, 0, check_result, &s), 0);
	CU_ASSERT_EQUAL(s.n, NRES);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(pd_journal_tasks(r, count_task, &next), 0);
	CU_ASSERT_EQUAL(next, 20);
	CU_ASSERT_EQUAL(pd_journal_agents(r, count_agent, &nagents), 0);
	CU_ASSERT_EQUAL(nagents, 1);
	CU_ASSERT_EQUAL(pd_journal_events(r, 0, count_event, &nevents), 0);
	CU_ASSERT_EQUAL(nevents, 1);
	{
		char *v = NULL;
		CU_ASSERT_EQUAL(pd_journal_meta_get(r, "state", &v), 0);
		CU_ASSERT(v && !strcmp(v, "still-here"));
		free(v);
	}
	pd_journal_close(r);
}

/* A result too big for the journal is refused up front, naming the limit,
 * and breaks nothing: the next write and commit work. */
static void test_too_big(void)
{
	char path[300];
	pd_journal *j;
	pd_jresult r;
	pd_jcounts c;

	snprintf(path, sizeof(path), "%s/big.db", dir);
	j = jopen(path, PD_J_CREATE);
	memset(&r, 0, sizeof(r));
	r.task = 0;
	r.out = "x";
	r.out_len = (size_t)PD_JOURNAL_MAX_BLOB + 1;
	CU_ASSERT_EQUAL(pd_journal_result(j, &r), -E2BIG);
	CU_ASSERT(strstr(pd_journal_error(j), "67108864") != NULL);
	r.out_len = 1;
	CU_ASSERT_EQUAL(pd_journal_result(j, &r), 1);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(j, &c), 0);
	CU_ASSERT_EQUAL(c.results, 1);
	pd_journal_close(j);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/pd-test-jretry-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("journal retry", NULL, NULL);
	CU_add_test(s, "a disk that refuses writes loses nothing", test_disk_refuses_writes);
	CU_add_test(s, "a result too big for the journal", test_too_big);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return fails ? 1 : 0;
}
