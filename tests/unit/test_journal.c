/* test_journal.c - the session journal: round trips, batching, crashes,
 * cursors, tasks and attempts in blocks, and clear errors on foreign
 * files. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "journal.h"

static char dir[256];

static void jpath(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s.db", dir, name);
}

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

static pd_jresult result(uint64_t task, int status, const char *out)
{
	pd_jresult r = {.task = task, .attempt = 1, .status = status, .exit_code = status,
			.seconds = 0.5, .agent = "a1", .out = out, .out_len = out ? strlen(out) : 0,
			.error = NULL, .at_ms = 1000 + task};
	return r;
}

/* Reads a whole file into a malloc'd buffer; *n gets its size. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long sz;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)sz);
		if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
			free(p);
			p = NULL;
		}
		*n = (size_t)sz;
	}
	fclose(f);
	return p;
}

/* Replaces every occurrence of from (n bytes) in the file by to; returns
 * how many there were. */
static int patch(const char *path, const void *from, const void *to, size_t n)
{
	size_t len = 0;
	char *p = slurp(path, &len), *at;
	FILE *f;
	int count = 0;

	if (!p)
		return 0;
	for (at = p; (at = memmem(at, len - (size_t)(at - p), from, n)); at += n) {
		memcpy(at, to, n);
		count++;
	}
	if (count && (f = fopen(path, "wb"))) {
		if (fwrite(p, 1, len, f) != len)
			count = 0;
		fclose(f);
	}
	free(p);
	return count;
}

typedef struct seen {
	int n;
	uint64_t ids[64];
	uint64_t seqs[64];
	uint32_t vals[64];
	char text[64][64];
	char out[64][8];
} seen;

static const char *const cells_a[] = {"", "x,y", "Grüße € 😀", "line\nbreak", ""};
static const char *const cells_b[] = {"solo"};

static int on_task(void *arg, uint64_t id, char **cells, size_t n)
{
	seen *s = arg;

	if (id == 1) {
		CU_ASSERT_EQUAL(n, 5);
		for (size_t i = 0; i < n && i < 5; i++)
			CU_ASSERT_STRING_EQUAL(cells[i], cells_a[i]);
	} else if (id == 2) {
		CU_ASSERT_EQUAL(n, 0);
	} else if (id == 3) {
		CU_ASSERT_EQUAL(n, 1);
		CU_ASSERT_STRING_EQUAL(cells[0], "solo");
	}
	CU_ASSERT_PTR_NULL(cells[n]);
	s->ids[s->n++] = id;
	return 0;
}

static int on_result(void *arg, const pd_jresult *r)
{
	seen *s = arg;

	CU_ASSERT_FATAL(s->n < 64);
	s->ids[s->n] = r->task;
	s->seqs[s->n] = r->seq;
	s->vals[s->n] = (uint32_t)r->out_len;
	CU_ASSERT_EQUAL(r->out[r->out_len], 0);
	memcpy(s->out[s->n], r->out, r->out_len < 8 ? r->out_len : 8);
	snprintf(s->text[s->n], sizeof(s->text[0]), "%s|%zu|%s|%s", r->out, r->out_len, r->agent,
		 r->error);
	s->n++;
	return 0;
}

static int on_attempt(void *arg, uint64_t task, uint32_t attempt)
{
	seen *s = arg;

	s->ids[s->n] = task;
	s->vals[s->n++] = attempt;
	return 0;
}

static int stop_at_two(void *arg, uint64_t id, char **cells, size_t n)
{
	(void)cells;
	(void)n;
	return id == 2 ? 7 : on_task(arg, id, cells, n);
}

static void test_roundtrip(void)
{
	char path[300], *v = NULL;
	const char bin[] = "a\0b\xff";
	pd_journal *w, *r;
	pd_jresult res;
	pd_jcounts c;
	seen s = {0};

	jpath(path, sizeof(path), "round");
	w = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_meta_set(w, "template", "echo {x}"), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(w, "schema_version", "2"), -EINVAL);
	CU_ASSERT_EQUAL(pd_journal_task(w, 1, cells_a, 5), 0);
	CU_ASSERT_EQUAL(pd_journal_task(w, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(pd_journal_task(w, 3, cells_b, 1), 0);
	CU_ASSERT_EQUAL(pd_journal_task(w, 3, cells_b, 1), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_journal_error(w), path));
	CU_ASSERT_EQUAL(pd_journal_attempt(w, 1, 1, "a1", 10), 0);
	CU_ASSERT_EQUAL(pd_journal_attempt(w, 2, 1, NULL, 11), 0);
	res = result(1, PD_ST_OK, NULL);
	res.out = bin;
	res.out_len = sizeof(bin) - 1;
	CU_ASSERT_EQUAL(pd_journal_result(w, &res), 1);
	res = result(2, PD_ST_FAILED, "");
	res.error = "exit 1";
	CU_ASSERT_EQUAL(pd_journal_result(w, &res), 1);
	CU_ASSERT(pd_journal_pending(w) >= 7);
	/* the writer sees its own pending writes */
	CU_ASSERT_EQUAL(pd_journal_counts(w, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 3);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	pd_journal_close(w);

	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_meta_get(r, "template", &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "echo {x}");
	free(v);
	CU_ASSERT_EQUAL(pd_journal_meta_get(r, "schema_version", &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "2");
	free(v);
	CU_ASSERT_EQUAL(pd_journal_meta_get(r, "nope", &v), -ENOENT);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_EQUAL(pd_journal_tasks(r, on_task, &s), 0);
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(s.ids[0], 1);
	CU_ASSERT_EQUAL(s.ids[2], 3);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_tasks(r, stop_at_two, &s), 7);
	CU_ASSERT_EQUAL(s.n, 1);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_results(r, 0, 0, 0, on_result, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_EQUAL(s.vals[0], 4);
	CU_ASSERT_EQUAL(memcmp(s.out[0], bin, 4), 0);
	CU_ASSERT_STRING_EQUAL(s.text[1], "|0|a1|exit 1");
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 3);
	CU_ASSERT_EQUAL(c.results, 2);
	CU_ASSERT_EQUAL(c.ok, 1);
	CU_ASSERT_EQUAL(c.failed, 1);
	/* writes on a reader are refused */
	CU_ASSERT_EQUAL(pd_journal_task(r, 9, cells_b, 1), -EBADF);
	CU_ASSERT_EQUAL(pd_journal_meta_set(r, "k", "v"), -EBADF);
	pd_journal_close(r);
}

static void test_duplicate_result(void)
{
	char path[300];
	pd_journal *w;
	pd_jresult r1 = result(4, PD_ST_OK, "first"), r2 = result(4, PD_ST_FAILED, "second");
	seen s = {0};

	jpath(path, sizeof(path), "dup");
	w = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_result(w, &r1), 1);
	CU_ASSERT_EQUAL(pd_journal_result(w, &r2), 0); /* same transaction */
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_result(w, &r2), 0); /* across commits */
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_results(w, 1, 0, 0, on_result, &s), 0);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_STRING_EQUAL(s.text[0], "first|5|a1|");
	pd_journal_close(w);
}

static void test_uncommitted_invisible(void)
{
	char path[300];
	pd_journal *w, *r;
	pd_jcounts c;

	jpath(path, sizeof(path), "batch");
	w = jopen(path, PD_J_CREATE);
	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_task(w, 1, cells_b, 1), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 1);
	CU_ASSERT_EQUAL(pd_journal_task(w, 2, cells_b, 1), 0);
	pd_journal_close(w); /* commits */
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 2);
	pd_journal_close(r);
}

/* A child writes tasks [100, 110) with an attempt each and commits, then
 * writes 700 more and 1100 attempts without committing (a full block of
 * each went into the open transaction, the rest is buffered), says so on
 * the pipe, and waits for its end. */
static void crash_child(const char *path, int fd, int how)
{
	pd_journal *j = NULL;
	char err[512];

	if (pd_journal_open(path, 0, &j, err, sizeof(err)) < 0)
		_exit(3);
	for (uint64_t i = 100; i < 110; i++)
		if (pd_journal_task(j, i, cells_b, 1) < 0 ||
		    pd_journal_attempt(j, i, 1, "a", 1) < 0)
			_exit(4);
	if (pd_journal_commit(j) < 0)
		_exit(5);
	for (uint64_t i = 110; i < 810; i++)
		if (pd_journal_task(j, i, cells_b, 1) < 0)
			_exit(6);
	for (uint64_t i = 0; i < 1100; i++)
		if (pd_journal_attempt(j, 100 + i % 700, 2, "a", 2) < 0)
			_exit(6);
	if (pd_journal_pending(j) != 1800)
		_exit(8);
	if (write(fd, "x", 1) != 1)
		_exit(7);
	if (how == 0)
		_exit(0);
	for (;;)
		pause();
}

static int count_attempts(void *arg, uint64_t task, uint32_t attempt)
{
	int *n = arg;

	CU_ASSERT(task >= 100 && task < 110 && attempt == 1);
	++*n;
	return 0;
}

static void crash_once(int how)
{
	char path[300], ch;
	pd_journal *j;
	pd_jcounts c;
	int fds[2], st, n = 0;
	pid_t pid;

	jpath(path, sizeof(path), how ? "kill9" : "exit0");
	pd_journal_close(jopen(path, PD_J_CREATE));
	/* no handle may be open across fork */
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(path, fds[1], how);
	}
	close(fds[1]);
	CU_ASSERT_EQUAL(read(fds[0], &ch, 1), 1);
	close(fds[0]);
	if (how) {
		/* another process sees the commit, not the open transaction */
		j = jopen(path, PD_J_READONLY);
		CU_ASSERT_EQUAL(pd_journal_counts(j, &c), 0);
		CU_ASSERT_EQUAL(c.tasks, 10);
		pd_journal_close(j);
		kill(pid, SIGKILL);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(how ? WIFSIGNALED(st) : (WIFEXITED(st) && WEXITSTATUS(st) == 0));
	j = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(j, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 10);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(j, count_attempts, &n), 0);
	CU_ASSERT_EQUAL(n, 10);
	pd_journal_close(j);
	/* a restarted writer carries on */
	j = jopen(path, 0);
	CU_ASSERT_EQUAL(pd_journal_task(j, 110, cells_b, 1), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(j, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 11);
	pd_journal_close(j);
}

static void test_crash(void)
{
	crash_once(0);
	crash_once(1);
}

static void test_cursor_and_counts(void)
{
	static const uint64_t order[] = {5, 3, 9, 1, 7};
	static const int status[] = {PD_ST_OK, PD_ST_FAILED, PD_ST_TIMEOUT, PD_ST_LOST, PD_ST_OK};
	char path[300];
	pd_journal *w;
	pd_jresult r;
	pd_jcounts c;
	seen s = {0};

	jpath(path, sizeof(path), "cursor");
	w = jopen(path, PD_J_CREATE);
	for (int i = 0; i < 5; i++) {
		r = result(order[i], status[i], "o");
		CU_ASSERT_EQUAL(pd_journal_result(w, &r), 1);
		if (i == 2)
			CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	}
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_results(w, 0, 0, 2, on_result, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT(s.ids[0] == 5 && s.ids[1] == 3);
	CU_ASSERT(s.seqs[0] < s.seqs[1]);
	CU_ASSERT_EQUAL(pd_journal_results(w, 0, s.seqs[1], 2, on_result, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 4);
	CU_ASSERT(s.ids[2] == 9 && s.ids[3] == 1);
	CU_ASSERT_EQUAL(pd_journal_results(w, 0, s.seqs[3], 0, on_result, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 5);
	CU_ASSERT_EQUAL(s.ids[4], 7);
	CU_ASSERT_EQUAL(pd_journal_results(w, 0, s.seqs[4], 0, on_result, &s), 0);
	CU_ASSERT_EQUAL(s.n, 5);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_results(w, 1, 0, 0, on_result, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 5);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(s.ids[i], (uint64_t)(2 * i + 1));
	CU_ASSERT_EQUAL(pd_journal_counts(w, &c), 0);
	CU_ASSERT(c.tasks == 0 && c.results == 5 && c.ok == 2 && c.failed == 1);
	CU_ASSERT(c.timeout == 1 && c.lost == 1);
	pd_journal_close(w);
}

static void test_attempts(void)
{
	static const uint32_t a[][2] = {{1, 1}, {1, 2}, {2, 1}, {3, 1}, {3, 3}, {3, 2}, {1, 2}};
	char path[300];
	pd_journal *w;
	seen s = {0};

	jpath(path, sizeof(path), "attempts");
	w = jopen(path, PD_J_CREATE);
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		CU_ASSERT_EQUAL(pd_journal_attempt(w, a[i][0], a[i][1], "x", 5), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(w, on_attempt, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	CU_ASSERT(s.ids[0] == 1 && s.vals[0] == 2);
	CU_ASSERT(s.ids[1] == 2 && s.vals[1] == 1);
	CU_ASSERT(s.ids[2] == 3 && s.vals[2] == 3);
	pd_journal_close(w);
}

static int on_agent(void *arg, const pd_jagent *a)
{
	seen *s = arg;

	snprintf(s->text[s->n++], sizeof(s->text[0]), "%s/%s/%u/%s/%s/%s/%u/%llu/%llu/%llu",
		 a->name, a->host, a->pid, a->mode, a->slurm_job, a->slurm_step, a->slots,
		 (unsigned long long)a->joined_ms, (unsigned long long)a->left_ms,
		 (unsigned long long)a->tasks_done);
	return 0;
}

static int on_event(void *arg, uint64_t seq, uint64_t at_ms, const char *kind, const char *text)
{
	seen *s = arg;

	s->seqs[s->n] = seq;
	snprintf(s->text[s->n++], sizeof(s->text[0]), "%llu %s %s", (unsigned long long)at_ms,
		 kind, text);
	return 0;
}

static void test_agents_events(void)
{
	pd_jagent a = {.name = "n1-1", .host = "n1", .mode = "slurm", .slurm_job = "77",
		       .slurm_step = "0", .pid = 42, .slots = 4, .joined_ms = 100};
	pd_jagent b = {.name = "n2-1", .host = "n2", .mode = "ssh", .pid = 43, .slots = 2,
		       .joined_ms = 200};
	char path[300];
	int64_t ra, rb;
	pd_journal *w, *r;
	seen s = {0};

	jpath(path, sizeof(path), "agents");
	w = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_agent_join(w, &a, &ra), 0);
	CU_ASSERT_EQUAL(pd_journal_agent_join(w, &b, &rb), 0);
	CU_ASSERT_NOT_EQUAL(ra, rb);
	CU_ASSERT_EQUAL(pd_journal_agent_leave(w, ra, 900, 17), 0);
	CU_ASSERT_EQUAL(pd_journal_agent_leave(w, rb + 100, 900, 17), -ENOENT);
	CU_ASSERT_EQUAL(pd_journal_event(w, 1, "start", "run of 3 tasks"), 0);
	CU_ASSERT_EQUAL(pd_journal_event(w, 2, "warning", NULL), 0);
	CU_ASSERT_EQUAL(pd_journal_event(w, 3, "resume", "again"), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_agents(r, on_agent, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_STRING_EQUAL(s.text[0], "n1-1/n1/42/slurm/77/0/4/100/900/17");
	CU_ASSERT_STRING_EQUAL(s.text[1], "n2-1/n2/43/ssh///2/200/0/0");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_events(r, 0, on_event, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	CU_ASSERT_STRING_EQUAL(s.text[1], "2 warning ");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(pd_journal_events(r, 2, on_event, &s), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_STRING_EQUAL(s.text[0], "3 resume again");
	pd_journal_close(r);
	pd_journal_close(w);
}

static void expect_open_error(const char *path, int flags, int want, const char *text)
{
	pd_journal *j = (pd_journal *)&j;
	char err[512] = "";

	CU_ASSERT_EQUAL(pd_journal_open(path, flags, &j, err, sizeof(err)), want);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, text));
	if (!strstr(err, text))
		fprintf(stderr, "got: %s\n", err);
}

static void test_open_errors(void)
{
	char path[300], tmp[400], junk[4096];
	FILE *f;

	jpath(path, sizeof(path), "exists");
	pd_journal_close(jopen(path, PD_J_CREATE));
	expect_open_error(path, PD_J_CREATE, -EEXIST, "already exists");
	pd_journal_close(jopen(path, PD_J_READONLY)); /* untouched */
	snprintf(tmp, sizeof(tmp), "%s.new-%ld", path, (long)getpid());
	CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0); /* no litter */

	jpath(path, sizeof(path), "missing");
	expect_open_error(path, 0, -ENOENT, "No such file");
	expect_open_error(path, PD_J_READONLY, -ENOENT, "No such file");

	jpath(path, sizeof(path), "garbage");
	memset(junk, 'g', sizeof(junk));
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	expect_open_error(path, PD_J_READONLY, -EINVAL, "file is not a database");
	expect_open_error(path, 0, -EINVAL, "file is not a database");

	jpath(path, sizeof(path), "empty");
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	expect_open_error(path, PD_J_READONLY, -EINVAL, "not a parade journal");

	/* a journal from an older parade (one row per task), and a future one */
	jpath(path, sizeof(path), "v1");
	pd_journal_close(jopen(path, PD_J_CREATE));
	CU_ASSERT_FATAL(patch(path, "schema_version2", "schema_version1", 15) == 1);
	expect_open_error(path, PD_J_READONLY, -EPROTONOSUPPORT, "schema version '1'");
	expect_open_error(path, 0, -EPROTONOSUPPORT, "reads version 2");
	CU_ASSERT_FATAL(patch(path, "schema_version1", "schema_version3", 15) == 1);
	expect_open_error(path, PD_J_READONLY, -EPROTONOSUPPORT, "schema version '3'");
	expect_open_error(path, 0, -EPROTONOSUPPORT, "schema version '3'");
	/* the key in the table and in its index */
	CU_ASSERT_FATAL(patch(path, "schema_version", "schema_versioX", 14) == 2);
	expect_open_error(path, PD_J_READONLY, -EINVAL, "not a parade journal (no schema_version)");

	/* a link planted at the journal's name is never followed, and SQLite
	 * makes no -wal or -shm file beside the link's target */
	jpath(tmp, sizeof(tmp), "target");
	pd_journal_close(jopen(tmp, PD_J_CREATE));
	jpath(path, sizeof(path), "link");
	CU_ASSERT_FATAL(symlink(tmp, path) == 0);
	expect_open_error(path, 0, -ELOOP, "symbolic link");
	expect_open_error(path, PD_J_READONLY, -ELOOP, "symbolic link");
	snprintf(junk, sizeof(junk), "%s-wal", tmp);
	CU_ASSERT_NOT_EQUAL(access(junk, F_OK), 0);
	/* nor a link in place of a journal being created */
	jpath(path, sizeof(path), "link2");
	CU_ASSERT_FATAL(symlink(junk, path) == 0);
	expect_open_error(path, PD_J_CREATE, -EEXIST, "already exists");
	CU_ASSERT_NOT_EQUAL(access(junk, F_OK), 0);
}

static void test_bad_cells(void)
{
	const char *cell[] = {"CORRUPTME"};
	char path[300];
	pd_journal *w;
	const char **many;
	seen s = {0};

	jpath(path, sizeof(path), "cells");
	w = jopen(path, PD_J_CREATE);
	many = calloc(PD_JOURNAL_MAX_CELLS + 1, sizeof(*many));
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	for (size_t i = 0; i <= PD_JOURNAL_MAX_CELLS; i++)
		many[i] = "";
	CU_ASSERT_EQUAL(pd_journal_task(w, 1, many, PD_JOURNAL_MAX_CELLS + 1), -E2BIG);
	CU_ASSERT_EQUAL(pd_journal_task(w, 5, many, PD_JOURNAL_MAX_CELLS), 0);
	free(many);
	CU_ASSERT_EQUAL(pd_journal_task(w, 42, cell, 1), 0);
	pd_journal_close(w);
	/* claim ten bytes where there are nine */
	CU_ASSERT_FATAL(patch(path, "\x01\0\0\0\x09\0\0\0CORRUPTME", "\x01\0\0\0\x0a\0\0\0CORRUPTME",
			      17) == 1);
	w = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_tasks(w, on_task, &s), -EINVAL);
	CU_ASSERT_EQUAL(s.n, 1); /* task 5 came first, in a block of its own */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(pd_journal_error(w), "task block 42 (1 tasks): does not decode"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_journal_error(w), path));
	pd_journal_close(w);
}

/* Tasks are read back as ids in order with the cell "t<id>". */
typedef struct walk {
	uint64_t n, next, bad;
	uint64_t ids[4096];
} walk;

static int on_walk(void *arg, uint64_t id, char **cells, size_t n)
{
	walk *w = arg;
	char want[32];

	snprintf(want, sizeof(want), "t%llu", (unsigned long long)id);
	if (n != 1 || strcmp(cells[0], want) != 0 || cells[1] || (w->n && id <= w->ids[w->n - 1]))
		w->bad++;
	if (w->n < 4096)
		w->ids[w->n] = id;
	w->n++;
	return 0;
}

static int add_task(pd_journal *j, uint64_t id)
{
	char cell[32];
	const char *cells[] = {cell};

	snprintf(cell, sizeof(cell), "t%llu", (unsigned long long)id);
	return pd_journal_task(j, id, cells, 1);
}

/* The highest attempt of each task, in a table indexed by task. */
typedef struct maxes {
	uint32_t of[4096];
	int n, bad;
	uint64_t last;
} maxes;

static int on_max(void *arg, uint64_t task, uint32_t attempt)
{
	maxes *m = arg;

	if (task >= 4096 || (m->n && task <= m->last))
		m->bad++;
	else
		m->of[task] = attempt;
	m->last = task;
	m->n++;
	return 0;
}

/* The rows of a table as "count,count,..." (read with SQLite itself). */
static void rows_of(const char *path, const char *table, char *out, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char sql[128];
	size_t at = 0;

	out[0] = 0;
	snprintf(sql, sizeof(sql), "SELECT count FROM %s ORDER BY rowid", table);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW && at < len)
		at += (size_t)snprintf(out + at, len - at, "%s%lld", at ? "," : "",
				       sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Runs sql on the file at path through a connection of its own. */
static void exec_other(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A small result the journal refuses for a reason of its own (its table
 * renamed away by another connection) is an error naming that reason,
 * never -E2BIG (the controller takes -E2BIG as "stdout too big"); once
 * the table is back the same write is taken. */
static void test_refused_not_too_big(void)
{
	char path[300];
	pd_journal *w;
	pd_jresult r0 = result(0, PD_ST_OK, "first"), r1 = result(1, PD_ST_OK, "small");
	pd_jcounts c;
	int rv;

	jpath(path, sizeof(path), "refused");
	w = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_result(w, &r0), 1);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	exec_other(path, "ALTER TABLE results RENAME TO results_away");
	rv = pd_journal_result(w, &r1);
	CU_ASSERT(rv < 0);
	CU_ASSERT_NOT_EQUAL(rv, -E2BIG);
	CU_ASSERT(strstr(pd_journal_error(w), "no such table") != NULL);
	CU_ASSERT(strstr(pd_journal_error(w), "bytes") == NULL);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	exec_other(path, "ALTER TABLE results_away RENAME TO results");
	CU_ASSERT_EQUAL(pd_journal_result(w, &r1), 1);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(w, &c), 0);
	CU_ASSERT_EQUAL(c.results, 2);
	pd_journal_close(w);
}

static void test_blocks(void)
{
	char path[300], rows[256];
	pd_journal *w, *r;
	pd_jcounts c;
	walk wk = {0};
	maxes m = {0};

	jpath(path, sizeof(path), "blocks");
	w = jopen(path, PD_J_CREATE);
	for (uint64_t i = 0; i < 1300; i++) {
		CU_ASSERT_EQUAL(add_task(w, i), 0);
		CU_ASSERT_EQUAL(pd_journal_pending(w), i + 1);
	}
	for (uint64_t i = 0; i < 2100; i++)
		CU_ASSERT_EQUAL(pd_journal_attempt(w, i % 1300, (uint32_t)(i / 1300 + 1), "a", i),
				0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 3400);
	CU_ASSERT_EQUAL(add_task(w, 511), -EEXIST); /* written */
	CU_ASSERT_EQUAL(add_task(w, 512), -EEXIST);
	CU_ASSERT_EQUAL(add_task(w, 1299), -EEXIST); /* buffered */
	CU_ASSERT_EQUAL(pd_journal_pending(w), 3400);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 0);
	pd_journal_close(w);
	rows_of(path, "tasks", rows, sizeof(rows));
	CU_ASSERT_STRING_EQUAL(rows, "512,512,276");
	rows_of(path, "attempts", rows, sizeof(rows));
	CU_ASSERT_STRING_EQUAL(rows, "1024,1024,52");

	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_tasks(r, on_walk, &wk), 0);
	CU_ASSERT_EQUAL(wk.n, 1300);
	CU_ASSERT_EQUAL(wk.bad, 0);
	CU_ASSERT(wk.ids[0] == 0 && wk.ids[511] == 511);
	CU_ASSERT(wk.ids[512] == 512 && wk.ids[1299] == 1299);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(r, on_max, &m), 0);
	CU_ASSERT_EQUAL(m.n, 1300);
	CU_ASSERT_EQUAL(m.bad, 0);
	for (int i = 0; i < 1300; i++)
		CU_ASSERT_EQUAL(m.of[i], i < 800 ? 2 : 1);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 1300);
	pd_journal_close(r);
}

/* A commit writes a half-full block; the next tasks start another. */
static void test_half_block(void)
{
	char path[300], rows[256];
	pd_journal *w, *r;
	pd_jcounts c;
	walk wk = {0};

	jpath(path, sizeof(path), "half");
	w = jopen(path, PD_J_CREATE);
	r = jopen(path, PD_J_READONLY);
	for (uint64_t i = 0; i < 300; i++)
		CU_ASSERT_EQUAL(add_task(w, i), 0);
	CU_ASSERT_EQUAL(pd_journal_attempt(w, 3, 1, "a", 1), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 300);
	for (uint64_t i = 300; i < 900; i++)
		CU_ASSERT_EQUAL(add_task(w, i), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 300);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0); /* nothing: no empty block */
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 900);
	CU_ASSERT_EQUAL(pd_journal_tasks(r, on_walk, &wk), 0);
	CU_ASSERT(wk.n == 900 && wk.bad == 0);
	pd_journal_close(r);
	pd_journal_close(w);
	rows_of(path, "tasks", rows, sizeof(rows));
	CU_ASSERT_STRING_EQUAL(rows, "300,512,88");
	rows_of(path, "attempts", rows, sizeof(rows));
	CU_ASSERT_STRING_EQUAL(rows, "1");
}

/* Writes of all kinds mixed, committed whenever 700 are pending, as the
 * controller does. */
static void test_interleaved(void)
{
	char path[300];
	pd_journal *w, *r;
	pd_jresult res;
	pd_jcounts c;
	walk wk = {0};
	maxes m = {0};
	size_t calls = 0, commits = 0;

	jpath(path, sizeof(path), "mixed");
	w = jopen(path, PD_J_CREATE);
	for (uint64_t i = 0; i < 3000; i++) {
		CU_ASSERT_EQUAL(add_task(w, i), 0);
		CU_ASSERT_EQUAL(pd_journal_attempt(w, i, 1, "a", i), 0);
		calls += 2;
		if (i >= 5) {
			res = result(i - 5, i % 2 ? PD_ST_OK : PD_ST_FAILED, "o");
			CU_ASSERT_EQUAL(pd_journal_result(w, &res), 1);
			calls++;
		}
		if (i % 100 == 0) {
			CU_ASSERT_EQUAL(pd_journal_event(w, i, "note", NULL), 0);
			calls++;
		}
		CU_ASSERT_EQUAL(pd_journal_pending(w), calls);
		if (calls >= 700) {
			CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
			calls = 0;
			commits++;
		}
	}
	for (uint64_t i = 2995; i < 3000; i++) {
		res = result(i, PD_ST_OK, "o");
		CU_ASSERT_EQUAL(pd_journal_attempt(w, i, 2, "b", i), 0);
		CU_ASSERT_EQUAL(pd_journal_result(w, &res), 1);
	}
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT(commits > 10);
	r = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT(c.tasks == 3000 && c.results == 3000 && c.ok == 1498 + 5 && c.failed == 1497);
	CU_ASSERT_EQUAL(pd_journal_tasks(r, on_walk, &wk), 0);
	CU_ASSERT(wk.n == 3000 && wk.bad == 0);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(r, on_max, &m), 0);
	CU_ASSERT(m.n == 3000 && m.bad == 0);
	CU_ASSERT(m.of[0] == 1 && m.of[2994] == 1 && m.of[2995] == 2 && m.of[2999] == 2);
	pd_journal_close(r);
	pd_journal_close(w);
}

/* Ids added later by submit, or out of order: duplicates are found in the
 * blocks, written or buffered. */
static void test_appended(void)
{
	char path[300], rows[256];
	pd_journal *w;
	pd_jcounts c;
	walk wk = {0};

	jpath(path, sizeof(path), "submit");
	w = jopen(path, PD_J_CREATE);
	for (uint64_t i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(add_task(w, i), 0);
	pd_journal_close(w);
	/* a resumed writer learns where the tasks end */
	w = jopen(path, 0);
	CU_ASSERT_EQUAL(add_task(w, 0), -EEXIST);
	CU_ASSERT_EQUAL(add_task(w, 99), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_journal_error(w), "task 99 is recorded already"));
	CU_ASSERT_EQUAL(pd_journal_pending(w), 0);
	CU_ASSERT_EQUAL(add_task(w, 100), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(add_task(w, 101), 0); /* one submit, one commit */
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(add_task(w, 100), -EEXIST);
	/* a gap, then ids into it */
	CU_ASSERT_EQUAL(add_task(w, 200), 0);
	CU_ASSERT_EQUAL(add_task(w, 200), -EEXIST);
	CU_ASSERT_EQUAL(add_task(w, 150), 0);
	CU_ASSERT_EQUAL(add_task(w, 151), 0);
	CU_ASSERT_EQUAL(add_task(w, 150), -EEXIST);
	for (uint64_t i = 152; i < 200; i++)
		CU_ASSERT_EQUAL(add_task(w, i), 0);
	CU_ASSERT_EQUAL(add_task(w, 200), -EEXIST); /* the gap is full */
	CU_ASSERT_EQUAL(add_task(w, 201), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 52);
	CU_ASSERT_EQUAL(pd_journal_tasks(w, on_walk, &wk), 0);
	CU_ASSERT(wk.n == 154 && wk.bad == 0);
	CU_ASSERT(wk.ids[101] == 101 && wk.ids[102] == 150 && wk.ids[153] == 201);
	CU_ASSERT_EQUAL(pd_journal_counts(w, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 154);
	pd_journal_close(w);
	rows_of(path, "tasks", rows, sizeof(rows));
	CU_ASSERT_STRING_EQUAL(rows, "100,1,1,50,1,1");
}

/* The writer's reads see what it buffered; other handles see nothing
 * until a commit; the reads commit nothing. */
static void test_writer_reads_buffered(void)
{
	char path[300];
	pd_journal *w, *r;
	pd_jcounts c;
	walk wk = {0};
	maxes m = {0};

	jpath(path, sizeof(path), "ownreads");
	w = jopen(path, PD_J_CREATE);
	r = jopen(path, PD_J_READONLY);
	for (uint64_t i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(add_task(w, i), 0);
	for (uint64_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(pd_journal_attempt(w, i, 3, "a", i), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 15);
	CU_ASSERT_EQUAL(pd_journal_counts(w, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 10);
	CU_ASSERT_EQUAL(add_task(w, 10), 0);
	CU_ASSERT_EQUAL(pd_journal_tasks(w, on_walk, &wk), 0);
	CU_ASSERT(wk.n == 11 && wk.bad == 0);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(w, on_max, &m), 0);
	CU_ASSERT(m.n == 5 && m.bad == 0 && m.of[4] == 3);
	CU_ASSERT_EQUAL(pd_journal_pending(w), 16);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 0);
	memset(&m, 0, sizeof(m));
	CU_ASSERT_EQUAL(pd_journal_attempts_max(r, on_max, &m), 0);
	CU_ASSERT_EQUAL(m.n, 0);
	CU_ASSERT_EQUAL(pd_journal_commit(w), 0);
	CU_ASSERT_EQUAL(pd_journal_counts(r, &c), 0);
	CU_ASSERT_EQUAL(c.tasks, 11);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(r, on_max, &m), 0);
	CU_ASSERT_EQUAL(m.n, 5);
	pd_journal_close(r);
	pd_journal_close(w);
}

static void test_bad_attempts(void)
{
	char path[300];
	pd_journal *w;
	maxes m = {0};

	jpath(path, sizeof(path), "badattempts");
	w = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_attempt(w, 1, 1, "CORRUPTAGENT", 5), 0);
	pd_journal_close(w);
	/* an agent name a byte longer than the block */
	CU_ASSERT_FATAL(patch(path, "\x0c\0\0\0CORRUPTAGENT", "\x0d\0\0\0CORRUPTAGENT", 16) == 1);
	w = jopen(path, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_attempts_max(w, on_max, &m), -EINVAL);
	CU_ASSERT_EQUAL(m.n, 0);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(pd_journal_error(w), "attempt block 1 (1 attempts): does not decode"));
	pd_journal_close(w);
}

/* The durable copy (a network PARADE_HOME): what was committed, in
 * rollback mode, readable read-only beside a writer that goes on (what
 * is pending is committed first); a
 * second copy with nothing new is skipped; a copy into a folder that is
 * not there fails with a message naming the file, and the old copy stays. */
static void test_copy(void)
{
	char path[300], copy[300], err[512];
	pd_jresult r1 = result(0, 0, "one"), r2 = result(1, 0, "two");
	const char *row[] = {"a"};
	long long stamp = -1;
	pd_journal *j, *c;
	pd_jcounts n;
	unsigned char hdr[20];
	FILE *f;

	jpath(path, sizeof(path), "copysrc");
	jpath(copy, sizeof(copy), "copydst");
	j = jopen(path, PD_J_CREATE);
	CU_ASSERT_EQUAL(pd_journal_task(j, 0, row, 1), 0);
	CU_ASSERT_EQUAL(pd_journal_task(j, 1, row, 1), 0);
	CU_ASSERT_EQUAL(pd_journal_result(j, &r1), 1);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	CU_ASSERT_EQUAL(pd_journal_copy(j, copy, &stamp, err, sizeof(err)), 0);
	f = fopen(copy, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	CU_ASSERT_EQUAL(hdr[18], 1); /* rollback journal, not WAL (2) */
	CU_ASSERT_EQUAL(hdr[19], 1);
	c = jopen(copy, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(c, &n), 0);
	CU_ASSERT_EQUAL(n.tasks, 2);
	CU_ASSERT_EQUAL(n.results, 1);
	pd_journal_close(c);
	CU_ASSERT_EQUAL(pd_journal_copy(j, copy, &stamp, err, sizeof(err)), 1);
	/* a pending write: committed by the copy, and in it */
	CU_ASSERT_EQUAL(pd_journal_result(j, &r2), 1);
	CU_ASSERT_EQUAL(pd_journal_copy(j, copy, &stamp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_journal_pending(j), 0);
	c = jopen(copy, PD_J_READONLY);
	CU_ASSERT_EQUAL(pd_journal_counts(c, &n), 0);
	CU_ASSERT_EQUAL(n.results, 2);
	pd_journal_close(c);
	snprintf(path, sizeof(path), "%s/no-such-folder/copy.db", dir);
	err[0] = 0;
	CU_ASSERT(pd_journal_copy(j, path, NULL, err, sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-folder"));
	pd_journal_close(j);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/pd-test-journal-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("journal", NULL, NULL);
	CU_add_test(s, "round trip", test_roundtrip);
	CU_add_test(s, "duplicate result", test_duplicate_result);
	CU_add_test(s, "uncommitted is invisible", test_uncommitted_invisible);
	CU_add_test(s, "writer crash", test_crash);
	CU_add_test(s, "cursor and counts", test_cursor_and_counts);
	CU_add_test(s, "attempts", test_attempts);
	CU_add_test(s, "agents and events", test_agents_events);
	CU_add_test(s, "open errors", test_open_errors);
	CU_add_test(s, "bad cells", test_bad_cells);
	CU_add_test(s, "blocks of 512 tasks and 1024 attempts", test_blocks);
	CU_add_test(s, "commit with a half-full block", test_half_block);
	CU_add_test(s, "interleaved writes", test_interleaved);
	CU_add_test(s, "ids appended later", test_appended);
	CU_add_test(s, "the writer reads what it buffered", test_writer_reads_buffered);
	CU_add_test(s, "bad attempt block", test_bad_attempts);
	CU_add_test(s, "a result refused, not for its size", test_refused_not_too_big);
	CU_add_test(s, "the durable copy", test_copy);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return fails ? 1 : 0;
}
