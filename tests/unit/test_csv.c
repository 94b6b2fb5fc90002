#include "csv.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[256];

static pd_table *parse_ok(const char *text, int format)
{
	pd_table *t = NULL;
	int rv;

	err[0] = '\0';
	rv = pd_table_parse(text, strlen(text), format, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, 0);
	if (rv)
		fprintf(stderr, "\nunexpected error: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL(t);
	return t;
}

static void parse_fail(const char *text, size_t len, int format, const char *want)
{
	pd_table *t = (pd_table *)1;
	int rv;

	err[0] = '\0';
	rv = pd_table_parse(text, len, format, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (rv == 0 && t != (pd_table *)1)
		pd_table_free(t);
}

static void test_simple(void)
{
	pd_table *t = parse_ok("a,b,c\n1,2,3\n4,5,6\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->ncols, 3);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(t->header[0], "a");
	CU_ASSERT_STRING_EQUAL(t->header[2], "c");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "1");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "5");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 2), "6");
	CU_ASSERT_EQUAL(t->lines[0], 2);
	CU_ASSERT_EQUAL(t->lines[1], 3);
	pd_table_free(t);
}

static void test_quoted(void)
{
	const char *in = "name,text,n\r\n"
			 "\"x,y\",\"line1\nline2\",1\r\n"
			 "q,\"say \"\"hi\"\"\",2\r\n"
			 "\"crlf\r\ninside\",\"\",\"3\"\r\n";
	pd_table *t = parse_ok(in, PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 3);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "x,y");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "line1\nline2");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 2), "1");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "say \"hi\"");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 0), "crlf\r\ninside");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 1), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 2), "3");
	pd_table_free(t);

	/* a quote that does not start a field is an ordinary byte */
	t = parse_ok("a,b\nx\"y,\"\"\"\"\n", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "x\"y");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "\"");
	pd_table_free(t);
}

static void test_empty_fields(void)
{
	pd_table *t = parse_ok("a,b,c\n,,\n1,,\n,,3\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 3);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 2), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 0), "1");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 2), "3");
	pd_table_free(t);
}

static void test_single_column(void)
{
	pd_table *t = parse_ok("x\n1\n\n2\n\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 3);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "1");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 0), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 0), "2");
	CU_ASSERT_EQUAL(t->lines[1], 3);
	pd_table_free(t);

	/* two empty lines at the end: only the last is not a record */
	t = parse_ok("x\n1\n\n\n", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 2);
	pd_table_free(t);
}

static void test_ragged(void)
{
	const char *in = "a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n";

	parse_fail(in, strlen(in), PD_CSV, "line 7: 3 fields, header has 4");
	in = "a,b\n1,2\n1,2,3\n";
	parse_fail(in, strlen(in), PD_CSV, "line 3: 3 fields, header has 2");
	in = "a,b\n1,2\n\n3,4\n";
	parse_fail(in, strlen(in), PD_CSV, "line 3: 1 field, header has 2");
	/* ragged row counted from where it starts, past an embedded newline */
	in = "a,b\n\"x\ny\",1\n\"p\nq\"\n";
	parse_fail(in, strlen(in), PD_CSV, "line 4: 1 field, header has 2");
}

static void test_trailing_empty_line_multi(void)
{
	pd_table *t = parse_ok("a,b\n1,2\n\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 1);
	pd_table_free(t);
	t = parse_ok("a,b\r\n1,2\r\n\r\n", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 1);
	pd_table_free(t);
}

static void test_unterminated(void)
{
	const char *in = "a,b\n1,2\n3,\"open\nmore\nstuff\n";

	parse_fail(in, strlen(in), PD_CSV, "line 3: unterminated quoted field");
	in = "\"a";
	parse_fail(in, strlen(in), PD_CSV, "line 1: unterminated quoted field");
}

static void test_junk_after_quote(void)
{
	const char *in = "a,b\n1,2\n\"x\"y,3\n";

	parse_fail(in, strlen(in), PD_CSV, "line 3: unexpected character after closing quote");
	/* reported where the quote closed */
	in = "a,b\n\"x\n\"  ,3\n";
	parse_fail(in, strlen(in), PD_CSV, "line 3: unexpected character after closing quote");
}

static void test_header_errors(void)
{
	const char *in = "a,b,a\n1,2,3\n";

	parse_fail(in, strlen(in), PD_CSV, "line 1: duplicate column 'a'");
	in = "\"x\ny\",b,\"p\nq\",b\n1,2,3,4\n";
	parse_fail(in, strlen(in), PD_CSV, "line 3: duplicate column 'b'");
	in = "a,,c\n1,2,3\n";
	parse_fail(in, strlen(in), PD_CSV, "line 1: column 2 has an empty name");
	in = "\n1\n";
	parse_fail(in, strlen(in), PD_CSV, "line 1: empty header");
	parse_fail("", 0, PD_CSV, "empty input (no header)");
	parse_fail("\n", 1, PD_CSV, "empty input (no header)");
	parse_fail(NULL, 0, PD_CSV, "empty input (no header)");
}

/* Found by tests/fuzz/fuzz_template (corpus/template/header-not-utf8):
 * names that differ only in bytes that are not UTF-8 became the same JSON
 * key (U+FFFD) in the coproc JSON line and --format jsonl, so a reader saw
 * a duplicate key or one column's value under another's name. */
static void test_header_not_utf8(void)
{
	const char *in = "\x87,\xe4\n,\n";
	pd_table *t;

	parse_fail(in, strlen(in), PD_CSV, "line 1: column 1 name is not valid UTF-8");
	in = "ok,\"multi\nline\",caf\xc3\xa9,x\xed\xa0\x80\n1,2,3,4\n"; /* a surrogate */
	parse_fail(in, strlen(in), PD_CSV, "line 2: column 4 name is not valid UTF-8");
	in = "a\tb\xc3\n1\t2\n"; /* cut short */
	parse_fail(in, strlen(in), PD_TSV, "line 1: column 2 name is not valid UTF-8");
	/* cells stay bytes */
	t = parse_ok("caf\xc3\xa9,\xf0\x9f\x99\x82\n\x87,\xe4\n", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "\xe4");
	pd_table_free(t);
}

static void test_header_only(void)
{
	pd_table *t = parse_ok("a,b\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->ncols, 2);
	CU_ASSERT_EQUAL(t->nrows, 0);
	pd_table_free(t);
	t = parse_ok("a,b", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 0);
	CU_ASSERT_STRING_EQUAL(t->header[1], "b");
	pd_table_free(t);
}

static void test_nul(void)
{
	static const char in[] = "a,b\n1,2\n3,x\0y\n";
	static const char inq[] = "a,b\n\"1\n\0\",2\n";

	parse_fail(in, sizeof(in) - 1, PD_CSV, "line 3: NUL byte");
	parse_fail(inq, sizeof(inq) - 1, PD_CSV, "line 3: NUL byte");
}

static void test_crlf(void)
{
	pd_table *t = parse_ok("a,b\r\n1,2\r\n3,4\r\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(t->header[1], "b");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "2");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "4");
	CU_ASSERT_EQUAL(t->lines[1], 3);
	pd_table_free(t);
}

static void test_no_trailing_newline(void)
{
	pd_table *t = parse_ok("a,b\n1,2\n3,4", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 0), "3");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "4");
	pd_table_free(t);

	t = parse_ok("a,b\n1,\"x\"", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 1);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "x");
	pd_table_free(t);

	t = parse_ok("a,b\n1,", PD_CSV);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 1);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "");
	pd_table_free(t);
}

static void test_tsv(void)
{
	pd_table *t = parse_ok("a\tb\tc\n1,5\t\"q\"\t\n\t\t\r\n", PD_TSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->ncols, 3);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "1,5");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "\"q\"");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 2), "");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 2), "");
	pd_table_free(t);

	parse_fail("a\tb\n1\n", 6, PD_TSV, "line 2: 1 field, header has 2");
}

static void test_unicode(void)
{
	pd_table *t = parse_ok("n\xc3\xa4me,\xe2\x82\xac\n"
			       "\"gr\xc3\xbc\xc3\x9f, \xf0\x9f\x99\x82\",\xff\xfe\n",
			       PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_STRING_EQUAL(t->header[0], "n\xc3\xa4me");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "gr\xc3\xbc\xc3\x9f, \xf0\x9f\x99\x82");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "\xff\xfe");
	CU_ASSERT_EQUAL(pd_table_col(t, "\xe2\x82\xac"), 1);
	pd_table_free(t);
}

static void test_line_numbers(void)
{
	const char *in = "id,note\n"
			 "1,\"a\nb\nc\"\n"
			 "2,plain\n"
			 "\"3\r\n\",\"x\ny\"\n"
			 "4,z\n";
	pd_table *t = parse_ok(in, PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL_FATAL(t->nrows, 4);
	CU_ASSERT_EQUAL(t->lines[0], 2);
	CU_ASSERT_EQUAL(t->lines[1], 5);
	CU_ASSERT_EQUAL(t->lines[2], 6);
	CU_ASSERT_EQUAL(t->lines[3], 9);
	pd_table_free(t);
}

static void test_col(void)
{
	pd_table *t = parse_ok("alpha,beta,gamma\n1,2,3\n", PD_CSV);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(pd_table_col(t, "alpha"), 0);
	CU_ASSERT_EQUAL(pd_table_col(t, "gamma"), 2);
	CU_ASSERT_EQUAL(pd_table_col(t, "delta"), -1);
	CU_ASSERT_EQUAL(pd_table_col(t, "alph"), -1);
	CU_ASSERT_EQUAL(pd_table_col(t, ""), -1);
	pd_table_free(t);
	pd_table_free(NULL);
}

static void test_many_rows(void)
{
	size_t n = 50000, i, len = 0;
	char *buf = malloc(n * 32 + 16);
	pd_table *t = NULL;
	int rv;

	CU_ASSERT_FATAL(buf != NULL);
	len += (size_t)sprintf(buf + len, "i,sq\n");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "%zu,%zu\n", i, i * i);
	rv = pd_table_parse(buf, len, PD_CSV, &t, err, sizeof(err));
	free(buf);
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_EQUAL(t->nrows, n);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, n - 1, 0), "49999");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, n - 1, 1), "2499900001");
	CU_ASSERT_EQUAL(t->lines[n - 1], n + 1);
	pd_table_free(t);
}

static void test_load(void)
{
	char path[] = "/tmp/parade_test_csv_XXXXXX";
	const char *bad = "a,b\n1,2\n1\n";
	pd_table *t = NULL;
	FILE *f;
	int fd, rv;

	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("x,y\n1,\"a,b\"\n2,c", f);
	fclose(f);

	strcpy(err, "stale");
	rv = pd_table_load(path, PD_CSV, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 1), "a,b");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "c");
	pd_table_free(t);

	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(bad, f);
	fclose(f);
	t = NULL;
	rv = pd_table_load(path, PD_CSV, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(t);
	{
		char want[512];

		snprintf(want, sizeof(want), "%s: line 3: 1 field, header has 2", path);
		CU_ASSERT_STRING_EQUAL(err, want);
	}

	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fclose(f);
	rv = pd_table_load(path, PD_CSV, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	{
		char want[512];

		snprintf(want, sizeof(want), "%s: empty input (no header)", path);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	unlink(path);

	/* a short err buffer truncates instead of overflowing */
	{
		char small[8];

		rv = pd_table_load(path, PD_CSV, &t, small, sizeof(small));
		CU_ASSERT_EQUAL(rv, -ENOENT);
		CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
	}
}

static void test_load_missing(void)
{
	pd_table *t = (pd_table *)1;
	int rv;

	rv = pd_table_load("/nonexistent/dir/grid.csv", PD_CSV, &t, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -ENOENT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/dir/grid.csv: No such file or directory");
}

static void test_format_for(void)
{
	CU_ASSERT_EQUAL(pd_csv_format_for("grid.csv"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("grid.tsv"), PD_TSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("grid.tab"), PD_TSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("/data/GRID.TSV"), PD_TSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("grid.tsv.csv"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("grid.txt"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("grid"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("tsv"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for("dir.tsv/grid"), PD_CSV);
	CU_ASSERT_EQUAL(pd_csv_format_for(".tsv"), PD_TSV);
}

/* pd_table_truncate frees what it cuts (the sanitizer build's leak check
 * proves it) on a parsed table, on a parsed one grown by append, and on a
 * made one; what is kept reads as before and the table grows again. */
static void test_truncate(void)
{
	static const char *const hdr[2] = {"a", "b"};
	const char *row[2] = {"x", "y"};
	const char *text = "a,b\n1,2\n3,4\n5,6\n";
	pd_table *t = NULL;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(pd_table_parse(text, strlen(text), PD_CSV, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_table_append(t, row), 0);
	pd_table_truncate(t, 5); /* more than it has: nothing */
	CU_ASSERT_EQUAL(t->nrows, 4);
	pd_table_truncate(t, 2);
	CU_ASSERT_EQUAL(t->nrows, 2);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 1, 1), "4");
	CU_ASSERT_EQUAL(pd_table_append(t, row), 0);
	CU_ASSERT_EQUAL(t->nrows, 3);
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 2, 0), "x");
	CU_ASSERT_STRING_EQUAL(pd_table_cell(t, 0, 0), "1");
	pd_table_truncate(t, 0);
	CU_ASSERT_EQUAL(t->nrows, 0);
	CU_ASSERT_STRING_EQUAL(t->header[1], "b");
	pd_table_free(t);

	t = pd_table_new(hdr, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(pd_table_append(t, row), 0);
	pd_table_truncate(t, 3);
	CU_ASSERT_EQUAL(t->nrows, 3);
	CU_ASSERT_EQUAL(pd_table_append(t, row), 0);
	CU_ASSERT_EQUAL(t->nrows, 4);
	CU_ASSERT_EQUAL(pd_table_rename(t, 0, "c"), 0);
	pd_table_free(t);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"simple", test_simple},
		{"quoted", test_quoted},
		{"empty fields", test_empty_fields},
		{"single column", test_single_column},
		{"ragged rows", test_ragged},
		{"trailing empty line", test_trailing_empty_line_multi},
		{"unterminated quote", test_unterminated},
		{"junk after quote", test_junk_after_quote},
		{"header errors", test_header_errors},
		{"header not UTF-8", test_header_not_utf8},
		{"header only", test_header_only},
		{"NUL byte", test_nul},
		{"CRLF", test_crlf},
		{"no trailing newline", test_no_trailing_newline},
		{"TSV", test_tsv},
		{"unicode", test_unicode},
		{"line numbers", test_line_numbers},
		{"pd_table_col", test_col},
		{"many rows", test_many_rows},
		{"load", test_load},
		{"load missing", test_load_missing},
		{"format_for", test_format_for},
		{"truncate", test_truncate},
	};
	CU_pSuite suite;
	unsigned int failed;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("csv", NULL, NULL);
	if (!suite)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 2;
}
