/* test_coproc_line.c - pd_template_line: the one line of a coproc task. */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
