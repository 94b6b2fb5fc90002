/* test_session_record.c - the session record (controller/session_record.c):
 * every option of run_opts.c's table written into a real journal and read
 * back the same; a damaged record refused naming the field; a journal from
 * before the record (only "argv") read through the legacy reader; the grid
 * rebuilt from a journal. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "session_record.h"

static char tmp[64];
static char seen[64][40]; /* record keys met in the round trips */
static size_t nseen;

static pd_journal *new_journal(const char *file)
{
	char path[128], err[512];
	pd_journal *j = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	unlink(path);
	CU_ASSERT_EQUAL(pd_journal_open(path, PD_J_CREATE, &j, err, sizeof(err)), 0);
	return j;
}

/* what the log said while f was its file */
static char logged[4096];
static FILE *log_to_buf(void)
{
	FILE *f = fmemopen(logged, sizeof(logged) - 1, "w");
	memset(logged, 0, sizeof(logged));
	setvbuf(f, NULL, _IONBF, 0);
	pd_log_set_file(f);
	return f;
}

static void log_back(FILE *f)
{
	fclose(f);
	pd_log_set_file(stderr);
}

/* The options o read from a record match those p was parsed into. */
static void same_opts(const pd_run_opts *p, const pd_run_opts *o)
{
	const char *k1, *k2, *v1, *v2;

	CU_ASSERT_EQUAL(o->ngiven, p->ngiven);
	for (unsigned i = 0; (k1 = pd_run_given_key(p, i, &v1)); i++) {
		k2 = pd_run_given_key(o, i, &v2);
		CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
		CU_ASSERT_STRING_EQUAL(k1, k2);
		CU_ASSERT((!v1 && !v2) || (v1 && v2 && !strcmp(v1, v2)));
		if (nseen < 64)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", k1);
	}
#define SAME(f) CU_ASSERT_EQUAL(o->f, p->f)
#define SAME_STR(f) CU_ASSERT((!o->f && !p->f) || (o->f && p->f && !strcmp(o->f, p->f)))
	SAME(workers); SAME(grid_format); SAME(limit); SAME(chunk); SAME(no_dispatcher);
	SAME(retries); SAME(crash_limit); SAME(timeout_ms); SAME(out_limit); SAME(format);
	SAME(launch); SAME(launch_set); SAME(insecure); SAME(unordered); SAME(keep_session);
	SAME(kind); SAME(coproc_json); SAME(max_frame); SAME(agent_slots); SAME(progress);
	SAME(mode); SAME(no_journal); SAME(verbose); SAME(nwords);
	SAME_STR(grid); SAME_STR(schema); SAME_STR(output); SAME_STR(listen); SAME_STR(shell);
	SAME_STR(secret_file);
	SAME_STR(name); SAME_STR(coproc);
	SAME(slurm.n); SAME(slurm.dry_run); SAME(slurm.retries); SAME(slurm.retries_set);
	SAME(ssh.nhosts);
	for (int i = 0; i < o->nwords && i < p->nwords; i++)
		CU_ASSERT_STRING_EQUAL(o->words[i], p->words[i]);
}

static void round_trip(int argc, char **argv, int mode)
{
	static const char *const cols[2] = {"a", "b"};
	pd_run_opts p;
	pd_record r;
	pd_journal *j = new_journal("rt.db");
	pd_table *grid = pd_table_new(cols, 2), *back = NULL;
	char err[256];
	int level = pd_log_get_level();

	CU_ASSERT_EQUAL_FATAL(pd_run_parse(argc, argv, mode, &p), 0);
	CU_ASSERT_EQUAL(pd_record_write(j, &p, 1, grid), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	pd_log_set_level(level);
	CU_ASSERT_EQUAL(pd_record_read("rt", j, 0, &r), 0);
	CU_ASSERT_EQUAL(r.legacy, 0);
	CU_ASSERT_EQUAL(r.mode, mode);
	CU_ASSERT_EQUAL(r.stdin_input, 1);
	CU_ASSERT_EQUAL(pd_log_get_level(), level); /* -v: only for a run */
	same_opts(&p, &r.o);
	CU_ASSERT_EQUAL(pd_record_grid(j, &back, err, sizeof(err)), 0);
	CU_ASSERT(back && back->ncols == 2 && !strcmp(back->header[1], "b"));
	pd_table_free(back);
	pd_table_free(grid);
	pd_record_free(&r);
	pd_run_opts_free(&p);
	pd_journal_close(j);
}

/* Every option of the table goes into a record and comes back. */
static void test_every_option(void)
{
	char hostfile[128];
	FILE *f;
	char *slurm[] = {"parade run", "--workers", "3", "--grid", "g.csv", "--grid-format",
			 "tsv", "--limit", "7", "--chunk", "4", "--no-dispatcher", "--retries",
			 "2", "--crash-limit", "5", "--timeout", "1.5", "--schema", "a:int,b:dbl",
			 "--format", "jsonl", "-o", "out.jsonl", "--listen",
			 "tls+tcp://127.0.0.1:0", "--insecure", "--secret-file", "sec", "--unordered", "--name", "s1",
			 "--keep-session", "--no-journal", "--handler", "coproc:cat",
			 "--coproc-format", "json", "--max-frame", "4194304", "--output-limit",
			 "65536", "--slots", "2", "--no-progress", "--progress", "--launch",
			 "slurm:4", "--partition", "p", "--time", "10", "--mem", "1G", "--cpus",
			 "2", "--account", "acc", "--sbatch-arg", "--qos=low", "--slurm-retries", "5",
			 "--dry-run", "-v",
			 "--", "x", "{a}"};
	char *ssh[] = {"parade submit", "--hostfile", hostfile, "--ssh-opt",
		       "BatchMode=yes", "--tunnel-port", "2222", "--remote-agent",
		       "/opt/parade-agent", "--tunnel", "--remote-connect-file", "--launch",
		       "ssh:h1,h2", "--verbose", "--output", "o.csv", "--shell", "echo {}"};
	const char *name, *key;
	int level = pd_log_get_level();

	snprintf(hostfile, sizeof(hostfile), "%s/hosts", tmp);
	f = fopen(hostfile, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("h3 2\nuser@h4:2200\n", f);
	fclose(f);
	nseen = 0;
	round_trip((int)(sizeof(slurm) / sizeof(slurm[0])), slurm, PD_MODE_RUN);
	round_trip((int)(sizeof(ssh) / sizeof(ssh[0])), ssh, PD_MODE_SUBMIT);
	pd_log_set_level(level);
	/* every key of the table was written and read */
	for (size_t i = 0; (name = pd_run_opt_name(i, &key)); i++) {
		int found = 0;
		for (size_t k = 0; k < nseen; k++)
			found |= !strcmp(seen[k], key);
		if (!found)
			fprintf(stderr, "option --%s (record key %s) is not in the round trip\n",
				name, key);
		CU_ASSERT(found);
	}
}

/* A damaged record is refused with an error naming the field. */
static void check_damaged(const char *record, const char *want)
{
	pd_journal *j = new_journal("bad.db");
	pd_record r;
	FILE *f;
	int rv;

	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "record", record), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "argv", "[\"parade submit\",\"--\",\"true\"]"), 0);
	f = log_to_buf();
	rv = pd_record_read("bad", j, 0, &r);
	log_back(f);
	CU_ASSERT_EQUAL(rv, -EPROTO);
	if (!strstr(logged, want))
		fprintf(stderr, "logged: %s\nwanted: %s\n", logged, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(logged, "session bad: the journal's session record is damaged"));
	CU_ASSERT_PTR_NOT_NULL(strstr(logged, want));
	pd_record_free(&r);
	pd_journal_close(j);
}

static void test_damaged(void)
{
#define REC(opts, words) \
	"{\"version\":1,\"mode\":\"submit\",\"stdin\":false,\"options\":" opts ",\"words\":" words "}"
	check_damaged(REC("[[\"workers\",\"2\"],[\"chunk\",\"0\"]]", "[\"true\"]"),
		      "options[1]: --chunk '0': expected a whole number from 1 to 4096");
	check_damaged(REC("[[\"no_such\",\"1\"]]", "[\"true\"]"), "options[0]: unknown option 'no_such'");
	check_damaged(REC("[[\"unordered\",\"yes\"]]", "[\"true\"]"),
		      "options[0]: option 'unordered' takes no value");
	check_damaged(REC("[[\"chunk\"]]", "[\"true\"]"), "options[0]: option 'chunk' needs a value");
	check_damaged(REC("[[\"chunk\",4]]", "[\"true\"]"), "options[0]: expected [key] or [key, value]");
	check_damaged(REC("[]", "[1]"), "words[0]: expected a string");
	check_damaged(REC("[]", "[]"), "options: no command: put it after --");
	check_damaged(REC("{}", "[\"true\"]"), "options: expected an array");
	/* the table says which commands take an option */
	check_damaged(REC("[[\"no_journal\"]]", "[\"true\"]"),
		      "options: --no-journal is for 'parade run' only: a submitted session");
	check_damaged("{\"version\":2}", "version: expected 1");
	check_damaged("{\"version\":1,\"mode\":\"walk\"}", "mode: expected run, submit");
	check_damaged("[1,2", "not a JSON object");
}

/* collect reads the shape of a session whose host file is gone; resume
 * names the option it cannot apply. */
static void test_shape_without_files(void)
{
	char hostfile[128];
	char *argv[] = {"parade submit", "--hostfile", hostfile, "--format", "tsv", "--schema",
			"q:lgl", "--", "true"};
	pd_journal *j = new_journal("ssh.db");
	static const char *const cols[1] = {"x"};
	pd_table *grid = pd_table_new(cols, 1);
	pd_run_opts p;
	pd_record r;
	FILE *f;
	char want[512];
	int rv;

	snprintf(hostfile, sizeof(hostfile), "%s/hosts2", tmp);
	f = fopen(hostfile, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("h1\n", f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(pd_run_parse(9, argv, PD_MODE_SUBMIT, &p), 0);
	CU_ASSERT_EQUAL(pd_record_write(j, &p, 0, grid), 0);
	pd_run_opts_free(&p);
	pd_table_free(grid);
	unlink(hostfile);
	CU_ASSERT_EQUAL(pd_record_read("ssh", j, PD_REC_SHAPE, &r), 0);
	CU_ASSERT_EQUAL(r.o.format, PD_FMT_TSV);
	CU_ASSERT_STRING_EQUAL(r.o.schema, "q:lgl");
	pd_record_free(&r);
	f = log_to_buf();
	rv = pd_record_read("ssh", j, 0, &r);
	log_back(f);
	CU_ASSERT_EQUAL(rv, -EPROTO);
	/* the record is fine, the file is gone: not "damaged", and one line */
	snprintf(want, sizeof(want),
		 "session ssh: its option --hostfile %s cannot be applied: cannot read host file "
		 "%s: No such file or directory\n", hostfile, hostfile);
	if (!strstr(logged, want))
		fprintf(stderr, "logged: %s\nwanted: %s\n", logged, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(logged, want));
	CU_ASSERT_PTR_NULL(strstr(logged, "damaged"));
	CU_ASSERT_PTR_NULL(strchr(logged, '\n') ? strchr(strchr(logged, '\n') + 1, '\n') : NULL);
	pd_record_free(&r);
	pd_journal_close(j);
}

/* A launcher's setter refusing a well-formed value (its own limit) is
 * named the same way, and it says why. */
static void test_not_applied(void)
{
	const char *want = "session na: its option --cpus 9999 cannot be applied: --cpus '9999': "
			   "expected a whole number from 1 to 4096\n";
	pd_journal *j = new_journal("na.db");
	pd_record r;
	FILE *f;
	int rv;

	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "record",
					    REC("[[\"launch\",\"slurm:2\"],[\"slurm_cpus\",\"9999\"]]",
						"[\"true\"]")),
			0);
	f = log_to_buf();
	rv = pd_record_read("na", j, 0, &r);
	log_back(f);
	CU_ASSERT_EQUAL(rv, -EPROTO);
	if (!strstr(logged, want))
		fprintf(stderr, "logged: %s\n", logged);
	CU_ASSERT_PTR_NOT_NULL(strstr(logged, want));
	CU_ASSERT_PTR_NULL(strstr(logged, "damaged"));
	pd_record_free(&r);
	pd_journal_close(j);
}

/* More options than the old fixed list held (256): all parsed, written
 * and read back in order. */
static void test_many_options(void)
{
	enum { N = 1000 };
	static char *argv[2 * N + 4];
	pd_run_opts p;
	int argc = 0;

	argv[argc++] = "parade submit";
	for (int i = 0; i < N; i++) {
		argv[argc++] = "--chunk";
		argv[argc++] = i == N - 1 ? "7" : "1";
	}
	argv[argc++] = "--";
	argv[argc++] = "true";
	CU_ASSERT_EQUAL_FATAL(pd_run_parse(argc, argv, PD_MODE_SUBMIT, &p), 0);
	CU_ASSERT_EQUAL(p.ngiven, N);
	CU_ASSERT_EQUAL(p.chunk, 7);
	pd_run_opts_free(&p);
	round_trip(argc, argv, PD_MODE_SUBMIT);
}

/* Of two options a command does not take, the message is the one the
 * parser gave before the table (--dry-run's before --no-journal's),
 * whatever their order, from a command line and from a record. */
static void test_refusal_order(void)
{
	static char *a1[] = {"parade submit", "--no-journal", "--launch", "slurm:1", "--dry-run",
			     "--", "true"};
	static char *a2[] = {"parade serve", "--dry-run", "--launch", "slurm:1", "--no-journal"};
	char buf[4096];
	pd_run_opts p;
	FILE *f;
	int rv, saved = dup(2);

	/* the command line: messages on stderr */
	f = tmpfile();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	rv = pd_run_parse(7, a1, PD_MODE_SUBMIT, &p);
	pd_run_opts_free(&p);
	CU_ASSERT_EQUAL(rv, -EINVAL);
	rv = pd_run_parse(5, a2, PD_MODE_SERVE, &p);
	pd_run_opts_free(&p);
	CU_ASSERT_EQUAL(rv, -EINVAL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	memset(buf, 0, sizeof(buf));
	rewind(f);
	CU_ASSERT(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf,
			       "parade submit: --dry-run goes with 'parade run' (it prints the "
			       "script and submits nothing)\n"
			       "parade serve: --dry-run goes with 'parade run' (it prints the "
			       "script and submits nothing)\n");
	/* a record */
	check_damaged(REC("[[\"no_journal\"],[\"launch\",\"slurm:1\"],[\"slurm_dry_run\"]]",
			  "[\"true\"]"),
		      "options: --dry-run goes with 'parade run'");
	check_damaged(REC("[[\"slurm_dry_run\"],[\"launch\",\"slurm:1\"],[\"no_journal\"]]",
			  "[\"true\"]"),
		      "options: --dry-run goes with 'parade run'");
}

/* A journal from before the record: only "argv" (and "mode"). */
static void test_legacy(void)
{
	pd_journal *j = new_journal("old.db");
	pd_record r;
	FILE *f;
	int rv;

	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "mode", "submit"), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "stdin", "1"), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "argv", "[\"parade submit\",\"--chunk\",\"3\","
					     "\"--schema\",\"y:int\",\"--format\",\"tsv\",\"--\","
					     "\"echo\",\"{}\"]"), 0);
	CU_ASSERT_EQUAL(pd_record_read("old", j, 0, &r), 0);
	CU_ASSERT_EQUAL(r.legacy, 1);
	CU_ASSERT_EQUAL(r.mode, PD_MODE_SUBMIT);
	CU_ASSERT_EQUAL(r.stdin_input, 1);
	CU_ASSERT_EQUAL(r.o.chunk, 3);
	CU_ASSERT_EQUAL(r.o.format, PD_FMT_TSV);
	CU_ASSERT_STRING_EQUAL(r.o.schema, "y:int");
	CU_ASSERT_EQUAL(r.o.nwords, 2);
	pd_record_free(&r);
	/* #11's "schema" and "format" serve a collect without the command line */
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "argv", "[\"parade submit\",\"--gone\"]"), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "schema", "z:dbl"), 0);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "format", "jsonl"), 0);
	CU_ASSERT_EQUAL(pd_record_read("old", j, PD_REC_SHAPE, &r), 0);
	CU_ASSERT_EQUAL(r.o.format, PD_FMT_JSONL);
	CU_ASSERT_STRING_EQUAL(r.o.schema, "z:dbl");
	pd_record_free(&r);
	/* resume needs the command line: one that no longer parses is named */
	f = log_to_buf();
	rv = pd_record_read("old", j, 0, &r);
	log_back(f);
	CU_ASSERT_EQUAL(rv, -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(logged, "session old: its recorded command line no longer parses"));
	pd_record_free(&r);
	pd_journal_close(j);
}

static int add_task(pd_journal *j, uint64_t id, const char *a, const char *b)
{
	const char *cells[2] = {a, b};
	return pd_journal_task(j, id, cells, 2);
}

/* The grid comes back with its recorded columns and tasks in order. */
static void test_grid(void)
{
	pd_journal *j = new_journal("grid.db");
	pd_table *t = NULL;
	char err[512];

	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "columns", "[\"a\",\"b\"]"), 0);
	CU_ASSERT_EQUAL(add_task(j, 0, "1", "x"), 0);
	CU_ASSERT_EQUAL(add_task(j, 1, "2", "y"), 0);
	CU_ASSERT_EQUAL(pd_journal_commit(j), 0);
	CU_ASSERT_EQUAL_FATAL(pd_record_grid(j, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t->ncols, 2);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(t->header[1], "b");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "y");
	pd_table_free(t);
	CU_ASSERT_EQUAL(pd_journal_meta_set(j, "columns", "{}"), 0);
	CU_ASSERT_EQUAL(pd_record_grid(j, &t, err, sizeof(err)), -EPROTO);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "column list is missing or damaged"));
	pd_journal_close(j);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;
	char cmd[128];

	snprintf(tmp, sizeof(tmp), "/tmp/test_record.XXXXXX");
	if (!mkdtemp(tmp))
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("session_record", NULL, NULL);
	CU_add_test(s, "every option in a record and back", test_every_option);
	CU_add_test(s, "a damaged record names the field", test_damaged);
	CU_add_test(s, "collect without the files the options name", test_shape_without_files);
	CU_add_test(s, "an option that cannot be applied", test_not_applied);
	CU_add_test(s, "more options than 256", test_many_options);
	CU_add_test(s, "which refusal wins", test_refusal_order);
	CU_add_test(s, "a journal from before the record", test_legacy);
	CU_add_test(s, "the grid from a journal", test_grid);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp);
	if (system(cmd) != 0)
		return 2;
	return failed ? 1 : 0;
}
