/* test_coproc_line.c - pd_template_line: the one line of a coproc task,
 * and the lines the agent's coproc handler refuses to send. */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "coproc.h"
#include "loop.h"
#include "template.h"

static char *hdr[] = {"alpha", "beta", "note"};
static char *cells[] = {
	"0.5", "2", "plain",
	"1", "3", "say \"hi\"\\ then\nnew\tline",
};
static size_t lines[] = {2, 3};
static pd_table grid = {3, 2, hdr, cells, lines};

static char *stdin_hdr[] = {"input"};
static char *stdin_cells[] = {"a b  c"};
static size_t stdin_lines[] = {1};
static pd_table stdin_tab = {1, 1, stdin_hdr, stdin_cells, stdin_lines};

/* Compiles words against t, builds row's line, checks it is want. */
static void check(const pd_table *t, const char *const *words, size_t n, size_t row, int json,
		  const char *want)
{
	pd_template *tp = NULL;
	char err[256], **argv = NULL;
	size_t argc = 0;

	CU_ASSERT_EQUAL_FATAL(pd_template_compile(words, n, t, 0, &tp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pd_template_line(tp, t, row, json, &argv, &argc), 0);
	CU_ASSERT_EQUAL(argc, 1);
	CU_ASSERT_PTR_NULL(argv[1]);
	CU_ASSERT_STRING_EQUAL(argv[0], want);
	free(argv);
	pd_template_free(tp);
}

static void test_join(void)
{
	const char *w[] = {"{alpha}", "{beta}", "x{#}"};
	check(&grid, w, 3, 0, 0, "0.5 2 x1");
	check(&grid, w, 3, 1, 0, "1 3 x2");
}

static void test_no_quoting(void)
{
	const char *w[] = {"n=", "{note}"};
	/* values go in byte for byte, spaces and newlines too */
	check(&grid, w, 2, 1, 0, "n= say \"hi\"\\ then\nnew\tline");
}

static void test_single_word(void)
{
	const char *w[] = {"{input}"};
	check(&stdin_tab, w, 1, 0, 0, "a b  c");
}

static void test_empty_words(void)
{
	const char *w[] = {"", "{alpha}", ""};
	check(&grid, w, 3, 0, 0, " 0.5 ");
}

static void test_json(void)
{
	const char *w[] = {"-"};
	check(&grid, w, 1, 0, 1, "{\"alpha\":\"0.5\",\"beta\":\"2\",\"note\":\"plain\"}");
	/* escaped, and never a raw newline: one line whatever the values */
	check(&grid, w, 1, 1, 1,
	      "{\"alpha\":\"1\",\"beta\":\"3\",\"note\":\"say \\\"hi\\\"\\\\ then\\nnew\\tline\"}");
}

static void test_bad_row(void)
{
	const char *w[] = {"{alpha}"};
	pd_template *tp = NULL;
	char err[256], **argv = (char **)1;
	size_t argc = 7;

	CU_ASSERT_EQUAL_FATAL(pd_template_compile(w, 1, &grid, 0, &tp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_template_line(tp, &grid, 2, 0, &argv, &argc), -EINVAL);
	CU_ASSERT_PTR_NULL(argv);
	CU_ASSERT_EQUAL(argc, 0);
	argv = (char **)1;
	CU_ASSERT_EQUAL(pd_template_line(tp, &grid, 2, 1, &argv, &argc), -EINVAL);
	CU_ASSERT_PTR_NULL(argv);
	pd_template_free(tp);
}

/* ---- what a real coprocess is sent (agent/coproc.c) ---- */

struct answers {
	pd_loop *loop;
	unsigned n;
	uint64_t id[4];
	uint8_t status[4];
	char text[4][256];
};

static void on_answer(const pd_result_msg *r, void *arg)
{
	struct answers *a = arg;

	if (a->n < 4) {
		a->id[a->n] = r->id;
		a->status[a->n] = r->status;
		if (r->status == PD_ST_OK)
			snprintf(a->text[a->n], sizeof(a->text[0]), "%.*s", (int)r->out_len,
				 r->out);
		else
			snprintf(a->text[a->n], sizeof(a->text[0]), "%s", r->error);
	}
	a->n++;
	pd_loop_stop(a->loop);
}

static void on_deadline(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l);
}

/* Sends line as task id to c; with wait, runs the loop until an answer
 * comes (or 10 s, a hung test and not a speed check). */
static void send_line(pd_coproc *c, struct answers *a, uint64_t id, const char *line)
{
	char *argv[] = {(char *)line, NULL};
	pd_task_msg t = {id, 1, PD_TASK_COPROC, 0, 1 << 16, 1, argv};
	unsigned before = a->n;
	pd_timer *deadline = pd_timer_new(a->loop, on_deadline, NULL);

	int rv = pd_coproc_run(c, &t);

	CU_ASSERT_EQUAL(rv, 0);
	if (rv < 0) {
		fprintf(stderr, "task %llu: pd_coproc_run: %s\n", (unsigned long long)id,
			strerror(-rv));
		pd_timer_free(deadline);
		return;
	}
	pd_timer_start(deadline, 10000);
	while (a->n == before && pd_timer_active(deadline))
		pd_loop_run(a->loop);
	pd_timer_free(deadline);
}

/* A coprocess that, like R's readLines, ends a line at CR as well as at
 * LF (tr makes every CR an LF before the shell reads lines): a row value
 * holding "\r" must never reach it, or the answers shift by a row. */
static void test_line_ends_refused(void)
{
	struct answers a;
	pd_coproc *c = NULL;

	memset(&a, 0, sizeof(a));
	a.loop = pd_loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(a.loop);
	CU_ASSERT_EQUAL_FATAL(pd_coproc_new(a.loop,
					    "stdbuf -o0 tr '\\r' '\\n' | "
					    "while IFS= read -r l; do echo \"got $l\"; done",
					    1, on_answer, &a, &c),
			      0);
	send_line(c, &a, 1, "first");
	send_line(c, &a, 2, "one\rtwo");
	send_line(c, &a, 3, "three\nfour");
	send_line(c, &a, 4, "last");
	CU_ASSERT_EQUAL(a.n, 4);
	CU_ASSERT_EQUAL(a.id[0], 1);
	CU_ASSERT_EQUAL(a.status[0], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(a.text[0], "got first\n");
	CU_ASSERT_EQUAL(a.id[1], 2);
	CU_ASSERT_EQUAL(a.status[1], PD_ST_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.text[1], "carriage return"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a.text[1], "--coproc-format json"));
	CU_ASSERT_EQUAL(a.id[2], 3);
	CU_ASSERT_EQUAL(a.status[2], PD_ST_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.text[2], "newline"));
	/* the coprocess saw neither: the next row gets its own answer */
	CU_ASSERT_EQUAL(a.id[3], 4);
	CU_ASSERT_EQUAL(a.status[3], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(a.text[3], "got last\n");
	pd_coproc_free(c);
	pd_loop_free(a.loop);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"words joined by single spaces", test_join},
		{"values not quoted", test_no_quoting},
		{"single word", test_single_word},
		{"empty words", test_empty_words},
		{"json row", test_json},
		{"row out of range", test_bad_row},
		{"CR and LF in a line are refused", test_line_ends_refused},
	};
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("coproc_line", NULL, NULL);
	if (!s)
		goto fail;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 2;
}
