#include "schema.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 8

static char err[256];

static pd_schema *schema_ok(const char *spec)
{
	pd_schema *s = NULL;
	int rv;

	err[0] = '\0';
	rv = pd_schema_parse(spec, &s, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, 0);
	if (rv)
		fprintf(stderr, "\nunexpected error: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL(s);
	return s;
}

static void schema_fail(const char *spec, const char *want)
{
	pd_schema *s = (pd_schema *)1;
	int rv;

	err[0] = '\0';
	rv = pd_schema_parse(spec, &s, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (rv == 0)
		pd_schema_free(s);
}

static void free_vals(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

/* Extracts the single field of "name:type" from out and compares it. */
static void one_ok(const char *type, const char *out, const char *want)
{
	char spec[64], *v[1] = {(char *)1};
	pd_schema *s;
	int rv;

	snprintf(spec, sizeof(spec), "x:%s", type);
	s = schema_ok(spec);
	CU_ASSERT_FATAL(s != NULL);
	err[0] = '\0';
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, 0);
	if (rv) {
		fprintf(stderr, "\nunexpected error for %s '%s': %s\n", type, out, err);
	} else {
		CU_ASSERT_PTR_NOT_NULL(v[0]);
		if (v[0])
			CU_ASSERT_STRING_EQUAL(v[0], want);
		free(v[0]);
	}
	pd_schema_free(s);
}

static void one_fail(const char *type, const char *out, const char *want)
{
	char spec[64], *v[1] = {(char *)1};
	pd_schema *s;
	int rv;

	snprintf(spec, sizeof(spec), "x:%s", type);
	s = schema_ok(spec);
	CU_ASSERT_FATAL(s != NULL);
	err[0] = '\0';
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (rv == 0)
		free(v[0]);
	pd_schema_free(s);
}

static void test_parse_valid(void)
{
	pd_schema *s = schema_ok("mean:dbl,var:dbl,ks_p:dbl");

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL_FATAL(s->n, 3);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "mean");
	CU_ASSERT_STRING_EQUAL(s->fields[2].name, "ks_p");
	CU_ASSERT_EQUAL(s->fields[1].type, PD_T_DBL);
	pd_schema_free(s);

	s = schema_ok("  a : int ,\tb.c:chr,_x9:lgl , Z:dbl\t");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL_FATAL(s->n, 4);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "a");
	CU_ASSERT_EQUAL(s->fields[0].type, PD_T_INT);
	CU_ASSERT_STRING_EQUAL(s->fields[1].name, "b.c");
	CU_ASSERT_EQUAL(s->fields[1].type, PD_T_CHR);
	CU_ASSERT_STRING_EQUAL(s->fields[2].name, "_x9");
	CU_ASSERT_EQUAL(s->fields[2].type, PD_T_LGL);
	CU_ASSERT_STRING_EQUAL(s->fields[3].name, "Z");
	CU_ASSERT_EQUAL(s->fields[3].type, PD_T_DBL);
	pd_schema_free(s);

	s = schema_ok("only:chr");
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(s->n, 1);
	pd_schema_free(s);
	pd_schema_free(NULL);
}

static void test_parse_errors(void)
{
	schema_fail("mean:dbl,var:dbx",
		    "schema field 2 'var:dbx': unknown type 'dbx' (use dbl, int, chr, lgl)");
	schema_fail("a:dbl,b:int, :chr", "schema field 3: empty name");
	schema_fail("mean:dbl,var:dbl,mean:int", "schema: duplicate field 'mean'");
	schema_fail("a:dbl, mean ", "schema field 2 'mean': missing type (use name:type)");
	schema_fail("a:dbl,b:", "schema field 2 'b:': missing type (use dbl, int, chr, lgl)");
	schema_fail("a:dbl,,b:int", "schema field 2: empty field");
	schema_fail("a:dbl,", "schema field 2: empty field");
	schema_fail("1a:dbl",
		    "schema field 1 '1a:dbl': bad name '1a' (use letters, digits, '_' and '.', "
		    "not starting with a digit or '.')");
	schema_fail("a:dbl,.b:int",
		    "schema field 2 '.b:int': bad name '.b' (use letters, digits, '_' and '.', "
		    "not starting with a digit or '.')");
	schema_fail("a-b:int",
		    "schema field 1 'a-b:int': bad name 'a-b' (use letters, digits, '_' and '.', "
		    "not starting with a digit or '.')");
	schema_fail("a:DBL", "schema field 1 'a:DBL': unknown type 'DBL' (use dbl, int, chr, lgl)");
	schema_fail("", "schema: empty (expected name:type,...)");
	schema_fail("  ", "schema: empty (expected name:type,...)");
}

static void test_type_name(void)
{
	CU_ASSERT_STRING_EQUAL(pd_type_name(PD_T_DBL), "dbl");
	CU_ASSERT_STRING_EQUAL(pd_type_name(PD_T_INT), "int");
	CU_ASSERT_STRING_EQUAL(pd_type_name(PD_T_CHR), "chr");
	CU_ASSERT_STRING_EQUAL(pd_type_name(PD_T_LGL), "lgl");
	CU_ASSERT_STRING_EQUAL(pd_type_name(42), "?");
	CU_ASSERT_STRING_EQUAL(pd_type_name(-1), "?");
}

static void test_extract_dbl(void)
{
	one_ok("dbl", "x=1.5\n", "1.5");
	one_ok("dbl", "x=-2e-10\n", "-2e-10");
	one_ok("dbl", "x=.5", ".5");
	one_ok("dbl", "x=42\n", "42");
	one_ok("dbl", "x=NA\n", "NA");
	one_ok("dbl", "x=NaN\n", "NaN");
	one_ok("dbl", "x=Inf\n", "Inf");
	one_ok("dbl", "x=-Inf\n", "-Inf");
	one_ok("dbl", "x=inf\n", "inf");
	one_ok("dbl", "x=0x1p3\n", "0x1p3");
	one_fail("dbl", "x=abc\n", "field 'x': 'abc' is not a dbl");
	one_fail("dbl", "x=1.5abc\n", "field 'x': '1.5abc' is not a dbl");
	one_fail("dbl", "x=1.5 2\n", "field 'x': '1.5 2' is not a dbl");
	one_fail("dbl", "x=\n", "field 'x': '' is not a dbl");
	one_fail("dbl", "x=na\n", "field 'x': 'na' is not a dbl");
}

static void test_extract_int(void)
{
	one_ok("int", "x=42\n", "42");
	one_ok("int", "x=-7\n", "-7");
	one_ok("int", "x=+7\n", "+7");
	one_ok("int", "x=NA\n", "NA");
	one_ok("int", "x=9223372036854775807\n", "9223372036854775807");
	one_ok("int", "x=-9223372036854775808\n", "-9223372036854775808");
	one_fail("int", "x=1.5\n", "field 'x': '1.5' is not an int");
	one_fail("int", "x=1e3\n", "field 'x': '1e3' is not an int");
	one_fail("int", "x=-\n", "field 'x': '-' is not an int");
	one_fail("int", "x=0x10\n", "field 'x': '0x10' is not an int");
	one_fail("int", "x=Inf\n", "field 'x': 'Inf' is not an int");
	one_fail("int", "x=9223372036854775808\n",
		 "field 'x': '9223372036854775808' is not an int (outside int64 range)");
	one_fail("int", "x=-99999999999999999999\n",
		 "field 'x': '-99999999999999999999' is not an int (outside int64 range)");
}

static void test_extract_lgl(void)
{
	one_ok("lgl", "x=TRUE\n", "TRUE");
	one_ok("lgl", "x=true\n", "TRUE");
	one_ok("lgl", "x=T\n", "TRUE");
	one_ok("lgl", "x=1\n", "TRUE");
	one_ok("lgl", "x=FALSE\n", "FALSE");
	one_ok("lgl", "x=false\n", "FALSE");
	one_ok("lgl", "x=F\n", "FALSE");
	one_ok("lgl", "x=0\n", "FALSE");
	one_ok("lgl", "x=NA\n", "NA");
	one_fail("lgl", "x=maybe\n", "field 'x': 'maybe' is not a lgl");
	one_fail("lgl", "x=True\n", "field 'x': 'True' is not a lgl");
	one_fail("lgl", "x=2\n", "field 'x': '2' is not a lgl");
}

static void test_extract_chr(void)
{
	one_ok("chr", "x=hello world\n", "hello world");
	one_ok("chr", "x=a=b=c\n", "a=b=c");
	one_ok("chr", "x=\n", "");
	one_ok("chr", "x=  padded\t \n", "padded");
	one_ok("chr", "x=NA\n", "NA");
	one_ok("chr", "x=caf\xc3\xa9\n", "caf\xc3\xa9");
}

static void test_extract_multi(void)
{
	pd_schema *s = schema_ok("mean:dbl,n:int,ok:lgl,label:chr");
	const char *out = "starting up\n"
			  "mean=1.0\n"
			  "debug: x=3 and more\n"
			  "n=10\n"
			  "unknown=zzz\n"
			  "ok=T\n"
			  "label=run A\n"
			  "mean=2.5\n";
	char *v[MAXF];
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(v[0], "2.5");
	CU_ASSERT_STRING_EQUAL(v[1], "10");
	CU_ASSERT_STRING_EQUAL(v[2], "TRUE");
	CU_ASSERT_STRING_EQUAL(v[3], "run A");
	free_vals(v, s->n);
	pd_schema_free(s);
}

static void test_missing(void)
{
	pd_schema *s = schema_ok("mean:dbl,var:dbl");
	const char *out = "mean=1\nvariance=2\nvar 3\n";
	char *v[MAXF] = {(char *)1, (char *)1};
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_PTR_NULL(v[1]);
	CU_ASSERT_STRING_EQUAL(err, "field 'var' missing");

	/* a later bad value also leaves every slot NULL */
	out = "mean=1\nvar=oops\n";
	v[0] = v[1] = (char *)1;
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_PTR_NULL(v[1]);
	CU_ASSERT_STRING_EQUAL(err, "field 'var': 'oops' is not a dbl");

	rv = pd_schema_extract(s, "", 0, v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "field 'mean' missing");
	pd_schema_free(s);
}

static void test_crlf(void)
{
	pd_schema *s = schema_ok("a:int,b:chr,c:lgl");
	const char *out = "a=5\r\nb=text here\r\nc=false\r\n";
	char *v[MAXF];
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(v[0], "5");
	CU_ASSERT_STRING_EQUAL(v[1], "text here");
	CU_ASSERT_STRING_EQUAL(v[2], "FALSE");
	free_vals(v, s->n);
	pd_schema_free(s);
}

static void test_last_wins(void)
{
	pd_schema *s = schema_ok("x:int");
	const char *out = "x=1\nx=oops\nx=3";
	char *v[MAXF];
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	/* an earlier bad value does not matter once overridden */
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(v[0], "3");
	free(v[0]);

	out = "x=1\nx=2.5\n";
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "field 'x': '2.5' is not an int");

	/* len bounds the scan; the rest of the buffer is not looked at */
	out = "x=1\nx=2\n";
	rv = pd_schema_extract(s, out, 4, v, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(v[0], "1");
	free(v[0]);
	pd_schema_free(s);
}

static void test_trimmed(void)
{
	pd_schema *s = schema_ok("mean:dbl,flag:lgl");
	const char *out = "  mean =  3.25  \n\tflag\t=\tT \r\n";
	char *v[MAXF];
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	rv = pd_schema_extract(s, out, strlen(out), v, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_STRING_EQUAL(v[0], "3.25");
	CU_ASSERT_STRING_EQUAL(v[1], "TRUE");
	free_vals(v, s->n);
	pd_schema_free(s);
}

static void test_nul_in_value(void)
{
	static const char out[] = "x=ab\0cd\n";
	pd_schema *s = schema_ok("x:chr");
	char *v[MAXF] = {(char *)1};
	int rv;

	CU_ASSERT_FATAL(s != NULL);
	rv = pd_schema_extract(s, out, sizeof(out) - 1, v, err, sizeof(err));
	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_STRING_EQUAL(err, "field 'x': value contains a NUL byte");
	pd_schema_free(s);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"parse valid", test_parse_valid},
		{"parse errors", test_parse_errors},
		{"type names", test_type_name},
		{"extract dbl", test_extract_dbl},
		{"extract int", test_extract_int},
		{"extract lgl", test_extract_lgl},
		{"extract chr", test_extract_chr},
		{"extract several", test_extract_multi},
		{"missing field", test_missing},
		{"CRLF", test_crlf},
		{"last wins", test_last_wins},
		{"spaces trimmed", test_trimmed},
		{"NUL in value", test_nul_in_value},
	};
	CU_pSuite suite;
	unsigned int failed;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("schema", NULL, NULL);
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
