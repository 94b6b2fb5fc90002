#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "output.h"
#include "progress.h"
#include "log.h"

/* Tables and schemas are built by hand so these tests do not depend on
 * csv.c or schema.c. */

typedef struct mem {
	FILE *f;
	char *buf;
	size_t len;
} mem;

static void mem_open(mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->f);
}

static const char *mem_text(mem *m)
{
	fflush(m->f);
	return m->buf ? m->buf : "";
}

static void mem_close(mem *m)
{
	fclose(m->f);
	free(m->buf);
}

#define ASSERT_TEXT(m, want)                                                                       \
	do {                                                                                       \
		const char *got_ = mem_text(m);                                                    \
		CU_ASSERT_EQUAL((m)->len, sizeof(want) - 1);                                       \
		CU_ASSERT(memcmp(got_, want, sizeof(want) - 1 < (m)->len ? sizeof(want) - 1        \
									 : (m)->len) == 0);        \
		if ((m)->len != sizeof(want) - 1 || memcmp(got_, want, (m)->len))                  \
			fprintf(stderr, "\n--- want:\n%s--- got:\n%.*s---\n", want,                \
				(int)(m)->len, got_);                                              \
	} while (0)

static pd_row_result res(int status, int exit_code, double seconds, const char *agent,
			 const char *out, size_t out_len, char *const *values, const char *error)
{
	pd_row_result r = {
		.status = status,
		.exit_code = exit_code,
		.seconds = seconds,
		.agent = agent,
		.out = out,
		.out_len = out_len,
		.values = values,
		.error = error,
	};
	return r;
}

/* ---- pd_format_parse ---- */

static void test_format_parse(void)
{
	CU_ASSERT_EQUAL(pd_format_parse("csv"), PD_FMT_CSV);
	CU_ASSERT_EQUAL(pd_format_parse("tsv"), PD_FMT_TSV);
	CU_ASSERT_EQUAL(pd_format_parse("jsonl"), PD_FMT_JSONL);
	CU_ASSERT_EQUAL(pd_format_parse("json"), -EINVAL);
	CU_ASSERT_EQUAL(pd_format_parse("CSV"), -EINVAL);
	CU_ASSERT_EQUAL(pd_format_parse(""), -EINVAL);
	CU_ASSERT_EQUAL(pd_format_parse(NULL), -EINVAL);
	/* the table's names read back as the formats they name */
	for (int f = PD_FMT_CSV; f <= PD_FMT_JSONL; f++)
		CU_ASSERT_EQUAL(pd_format_parse(pd_format_name(f)), f);
	CU_ASSERT_PTR_NULL(pd_format_name(-1));
	CU_ASSERT_PTR_NULL(pd_format_name(PD_FMT_JSONL + 1));
	{
		char *header[] = {"x"};
		pd_table t = {1, 0, header, NULL, NULL};

		CU_ASSERT_PTR_NULL(pd_output_new(stdout, PD_FMT_JSONL + 1, &t, NULL, 0));
		CU_ASSERT_PTR_NULL(pd_output_new(stdout, -1, &t, NULL, 0));
	}
}

/* ---- column collisions ---- */

static pd_schema_field sch_fields[] = {
	{"mean", PD_T_DBL},
	{"n", PD_T_INT},
	{"label", PD_T_CHR},
	{"flag", PD_T_LGL},
};
static pd_schema schema4 = {4, sch_fields};

static int check_one(const char *col, const pd_schema *schema, char *err, size_t errlen)
{
	char *header[] = {"alpha", (char *)col};
	pd_table t = {2, 0, header, NULL, NULL};

	err[0] = '\0';
	return pd_output_check_columns(&t, schema, err, errlen);
}

static void test_check_columns(void)
{
	static const char *const fixed[] = {"status", "exit_code", "seconds", "agent", "error"};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		CU_ASSERT_EQUAL(check_one(fixed[i], NULL, err, sizeof(err)), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, fixed[i]));
		CU_ASSERT_EQUAL(check_one(fixed[i], &schema4, err, sizeof(err)), -EINVAL);
	}
	CU_ASSERT_EQUAL(check_one("status", NULL, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "grid column 'status' collides with a result column of the "
				    "same name; rename it in the grid");

	/* stdout only exists without a schema */
	CU_ASSERT_EQUAL(check_one("stdout", NULL, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'stdout'"));
	CU_ASSERT_EQUAL(check_one("stdout", &schema4, err, sizeof(err)), 0);

	/* schema fields only exist with the schema */
	CU_ASSERT_EQUAL(check_one("mean", &schema4, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'mean'"));
	CU_ASSERT_EQUAL(check_one("flag", &schema4, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(check_one("mean", NULL, err, sizeof(err)), 0);

	/* near misses are fine */
	CU_ASSERT_EQUAL(check_one("Status", NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_one("status ", NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_one("errors", &schema4, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_one("", NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");

	/* a schema field named like a fixed column */
	{
		pd_schema_field f[] = {{"x", PD_T_DBL}, {"seconds", PD_T_DBL}};
		pd_schema s = {2, f};

		CU_ASSERT_EQUAL(check_one("beta", &s, err, sizeof(err)), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "'seconds'"));
	}

	/* a tiny err buffer is still terminated */
	CU_ASSERT_EQUAL(check_one("error", NULL, err, 8), -EINVAL);
	CU_ASSERT_EQUAL(strlen(err), 7);
}

/* ---- CSV ---- */

static char *hostile_header[] = {"name", "no,te"};
static char *hostile_cells[] = {
	"a,b",		"say \"hi\"",
	"line1\nline2", "plain",
	"cr\rhere",	"",
};
static size_t hostile_lines[] = {2, 3, 5};
static pd_table hostile_grid = {2, 3, hostile_header, hostile_cells, hostile_lines};

static void write_hostile(pd_output *o)
{
	pd_row_result r;

	r = res(PD_ST_OK, 0, 1.5, "local-1", "x,y\n", 4, NULL, "");
	CU_ASSERT_EQUAL(pd_output_row(o, 0, &r), 0);
	r = res(PD_ST_FAILED, -1, 0.25, "", "", 0, NULL, "boom \"bad\"");
	CU_ASSERT_EQUAL(pd_output_row(o, 1, &r), 0);
	r = res(PD_ST_TIMEOUT, 137, 1234.0000004, "h\\t\tx", "tab\there\r\n", 10, NULL, "");
	CU_ASSERT_EQUAL(pd_output_row(o, 2, &r), 0);
}

static void test_csv_hostile(void)
{
	mem m;
	pd_output *o;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &hostile_grid, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ASSERT_TEXT(&m, "name,\"no,te\",status,exit_code,seconds,agent,stdout,error\n");
	write_hostile(o);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	CU_ASSERT_EQUAL(pd_output_written(o), 3);
	ASSERT_TEXT(&m, "name,\"no,te\",status,exit_code,seconds,agent,stdout,error\n"
			"\"a,b\",\"say \"\"hi\"\"\",ok,0,1.500000,local-1,\"x,y\n\",\n"
			"\"line1\nline2\",plain,failed,,0.250000,,,\"boom \"\"bad\"\"\"\n"
			"\"cr\rhere\",,timeout,137,1234.000000,h\\t\tx,\"tab\there\r\n\",\n");
	pd_output_free(o);
	mem_close(&m);
}

static void test_csv_schema(void)
{
	char *vals0[] = {"1.5", "3", "a \"b\", c", "TRUE"};
	char *vals1[] = {NULL, NULL, NULL, NULL};
	char *header[] = {"k"};
	char *cells[] = {"0", "1", "2"};
	pd_table grid = {1, 3, header, cells, NULL};
	pd_row_result r;
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &grid, &schema4, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	r = res(PD_ST_OK, 0, 0.5, "a", "ignored", 7, vals0, "");
	CU_ASSERT_EQUAL(pd_output_row(o, 0, &r), 0);
	r = res(PD_ST_FAILED, 1, 0.5, "a", "", 0, vals1, "field 'mean' missing");
	CU_ASSERT_EQUAL(pd_output_row(o, 1, &r), 0);
	r = res(PD_ST_LOST, -1, 0, "a", NULL, 0, NULL, "agent lost");
	CU_ASSERT_EQUAL(pd_output_row(o, 2, &r), 0);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, "k,status,exit_code,seconds,agent,mean,n,label,flag,error\n"
			"0,ok,0,0.500000,a,1.5,3,\"a \"\"b\"\", c\",TRUE,\n"
			"1,failed,1,0.500000,a,,,,,field 'mean' missing\n"
			"2,lost,,0.000000,a,,,,,agent lost\n");
	pd_output_free(o);
	mem_close(&m);
}

/* ---- TSV ---- */

static void test_tsv_escaping(void)
{
	char *header[] = {"na\tme", "path"};
	char *cells[] = {
		"a,b \"q\"", "c:\\dir\\x",
		"l1\nl2",    "cr\rend",
		"t\tab",     "",
	};
	pd_table grid = {2, 3, header, cells, NULL};
	mem m;
	pd_output *o;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_TSV, &grid, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ASSERT_TEXT(&m, "na\\tme\tpath\tstatus\texit_code\tseconds\tagent\tstdout\terror\n");
	write_hostile(o);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, "na\\tme\tpath\tstatus\texit_code\tseconds\tagent\tstdout\terror\n"
			"a,b \"q\"\tc:\\\\dir\\\\x\tok\t0\t1.500000\tlocal-1\tx,y\\n\t\n"
			"l1\\nl2\tcr\\rend\tfailed\t\t0.250000\t\t\tboom \"bad\"\n"
			"t\\tab\t\ttimeout\t137\t1234.000000\th\\\\t\\tx\ttab\\there\\r\\n\t\n");
	pd_output_free(o);
	mem_close(&m);
}

/* ---- JSON lines ---- */

static void test_jsonl_strings(void)
{
	/* café, a stray 0xff, a truncated 3-byte sequence, a surrogate, an
	 * overlong '/', then a 4-byte emoji that must pass through */
	char *header[] = {"p", "k\"ey"};
	char *cells[] = {
		"caf\xc3\xa9 \xff|\xe2\x82!|\xed\xa0\x80|\xc0\xaf|\xf0\x9f\x8e\x89",
		"tab\there\x1f",
	};
	pd_table grid = {2, 1, header, cells, NULL};
	static const char out[] = "line\n\"q\"\\\x01\0z\x7f\b\f\r";
	pd_row_result r;
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_JSONL, &grid, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ASSERT_TEXT(&m, ""); /* no header */
	r = res(PD_ST_OK, 0, 2, "a1\xfe", out, sizeof(out) - 1, NULL, "bad \\ \"x\"");
	CU_ASSERT_EQUAL(pd_output_row(o, 0, &r), 0);
	ASSERT_TEXT(&m, "{\"p\":\"caf\xc3\xa9 \\ufffd|\\ufffd!|\\ufffd\\ufffd\\ufffd|"
			"\\ufffd\\ufffd|\xf0\x9f\x8e\x89\",\"k\\\"ey\":\"tab\\there\\u001f\","
			"\"status\":\"ok\",\"exit_code\":0,\"seconds\":2.000000,"
			"\"agent\":\"a1\\ufffd\","
			"\"stdout\":\"line\\n\\\"q\\\"\\\\\\u0001\\u0000z\x7f\\b\\f\\r\","
			"\"error\":\"bad \\\\ \\\"x\\\"\"}\n");
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	pd_output_free(o);
	mem_close(&m);
}

static void test_jsonl_schema(void)
{
	char *header[] = {"i"};
	char *cells[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"};
	pd_table grid = {1, 0, header, cells, NULL};
	char *v0[] = {"1.25", "42", "x\ty\x01", "TRUE"};
	char *v1[] = {".5", "+7", "", "FALSE"};
	char *v2[] = {"NaN", "NA", NULL, "NA"};
	char *v3[] = {"1e5", "-3", "\xff", "true"};
	char *v4[] = {"Inf", "007", "n", "0"};
	char *v5[] = {"-Inf", "0", "", ""};
	char *v6[] = {"0x10", "-0", "", "F"};
	char *v7[] = {"1e999", "NA", "", "T"};
	char *v8[] = {"-0.0", "1", "", "1"};
	char *v9[] = {"0.1e-2", "1", "", "x"};
	char *v10[] = {"1.", "99999999999999999999", "", "NA"};
	char *v11[] = {"5E+3", "-9223372036854775808", "", "NA"};
	char **vals[] = {v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, NULL};
	static const char *const want[] = {
		"1.25,\"n\":42,\"label\":\"x\\ty\\u0001\",\"flag\":true",
		"0.5,\"n\":7,\"label\":\"\",\"flag\":false",
		"null,\"n\":null,\"label\":null,\"flag\":null",
		"1e5,\"n\":-3,\"label\":\"\\ufffd\",\"flag\":true",
		"null,\"n\":7,\"label\":\"n\",\"flag\":false",
		"null,\"n\":0,\"label\":\"\",\"flag\":null",
		"16,\"n\":-0,\"label\":\"\",\"flag\":false",
		"null,\"n\":null,\"label\":\"\",\"flag\":true",
		"-0.0,\"n\":1,\"label\":\"\",\"flag\":true",
		"0.1e-2,\"n\":1,\"label\":\"\",\"flag\":null",
		"1,\"n\":99999999999999999999,\"label\":\"\",\"flag\":null",
		"5E+3,\"n\":-9223372036854775808,\"label\":\"\",\"flag\":null",
		"null,\"n\":null,\"label\":null,\"flag\":null",
	};
	char expect[512];
	pd_row_result r;
	pd_output *o;
	size_t i, off;
	mem m;

	grid.nrows = sizeof(vals) / sizeof(vals[0]);
	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_JSONL, &grid, &schema4, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	off = 0;
	for (i = 0; i < grid.nrows; i++) {
		r = res(vals[i] ? PD_ST_OK : PD_ST_TIMEOUT, vals[i] ? 0 : -1, 0.125, "ag", NULL,
			0, vals[i], vals[i] ? "" : "timed out");
		CU_ASSERT_EQUAL(pd_output_row(o, i, &r), 0);
		snprintf(expect, sizeof(expect),
			 "{\"i\":\"%zu\",\"status\":\"%s\",\"exit_code\":%s,\"seconds\":0.125000,"
			 "\"agent\":\"ag\",\"mean\":%s,\"error\":\"%s\"}\n",
			 i, vals[i] ? "ok" : "timeout", vals[i] ? "0" : "null", want[i],
			 vals[i] ? "" : "timed out");
		mem_text(&m);
		CU_ASSERT_FATAL(m.len >= off);
		if (m.len - off != strlen(expect) || memcmp(m.buf + off, expect, m.len - off)) {
			fprintf(stderr, "\nrow %zu: want %s     got %.*s", i, expect,
				(int)(m.len - off), m.buf + off);
			CU_FAIL("jsonl schema row differs");
		}
		off = m.len;
	}
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	CU_ASSERT_EQUAL(pd_output_written(o), grid.nrows);
	pd_output_free(o);
	mem_close(&m);
}

/* ---- ordering ---- */

static char *ord_header[] = {"x"};
static char *ord_cells[] = {"r0", "r1", "r2", "r3", "r4"};
static pd_table ord_grid = {1, 5, ord_header, ord_cells, NULL};

#define ORD_HDR "x,status,exit_code,seconds,agent,stdout,error\n"
#define ORD_ROW(n) "r" #n ",ok,0,1.000000,a,out" #n ",\n"

static int put_ord(pd_output *o, uint64_t row)
{
	static const char *const outs[] = {"out0", "out1", "out2", "out3", "out4"};
	pd_row_result r = res(PD_ST_OK, 0, 1, "a", outs[row], 4, NULL, "");

	return pd_output_row(o, row, &r);
}

static void test_ordered(void)
{
	pd_table g = ord_grid;
	pd_output *o;
	mem m;

	g.nrows = 3;
	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &g, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ASSERT_TEXT(&m, ORD_HDR);

	CU_ASSERT_EQUAL(put_ord(o, 2), 0);
	ASSERT_TEXT(&m, ORD_HDR);
	CU_ASSERT_EQUAL(pd_output_written(o), 0);

	CU_ASSERT_EQUAL(put_ord(o, 0), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0));
	CU_ASSERT_EQUAL(pd_output_written(o), 1);

	/* buffered and not yet written: still a duplicate */
	CU_ASSERT_EQUAL(put_ord(o, 2), -EALREADY);
	/* written: a duplicate too, and nothing is added */
	CU_ASSERT_EQUAL(put_ord(o, 0), -EALREADY);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0));

	CU_ASSERT_EQUAL(put_ord(o, 1), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0) ORD_ROW(1) ORD_ROW(2));
	CU_ASSERT_EQUAL(pd_output_written(o), 3);

	CU_ASSERT_EQUAL(put_ord(o, 1), -EALREADY);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0) ORD_ROW(1) ORD_ROW(2));
	CU_ASSERT_EQUAL(pd_output_written(o), 3);
	pd_output_free(o);
	mem_close(&m);
}

static void test_ordered_long_chain(void)
{
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &ord_grid, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(put_ord(o, 4), 0);
	CU_ASSERT_EQUAL(put_ord(o, 1), 0);
	CU_ASSERT_EQUAL(put_ord(o, 3), 0);
	CU_ASSERT_EQUAL(put_ord(o, 2), 0);
	ASSERT_TEXT(&m, ORD_HDR);
	CU_ASSERT_EQUAL(put_ord(o, 0), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0) ORD_ROW(1) ORD_ROW(2) ORD_ROW(3) ORD_ROW(4));
	CU_ASSERT_EQUAL(pd_output_written(o), 5);
	CU_ASSERT_EQUAL(put_ord(o, 0), -EALREADY);
	/* out of range */
	{
		pd_row_result r = res(PD_ST_OK, 0, 1, "a", "", 0, NULL, "");

		CU_ASSERT_EQUAL(pd_output_row(o, 5, &r), -EINVAL);
	}
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	pd_output_free(o);
	mem_close(&m);
}

static void test_unordered(void)
{
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &ord_grid, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(put_ord(o, 2), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(2));
	CU_ASSERT_EQUAL(put_ord(o, 0), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(2) ORD_ROW(0));
	CU_ASSERT_EQUAL(put_ord(o, 2), -EALREADY);
	CU_ASSERT_EQUAL(put_ord(o, 4), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(2) ORD_ROW(0) ORD_ROW(4));
	CU_ASSERT_EQUAL(pd_output_written(o), 3);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(2) ORD_ROW(0) ORD_ROW(4));
	pd_output_free(o);
	mem_close(&m);
}

static void test_finish_with_gaps(void)
{
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &ord_grid, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(put_ord(o, 4), 0);
	CU_ASSERT_EQUAL(put_ord(o, 1), 0);
	CU_ASSERT_EQUAL(put_ord(o, 3), 0);
	ASSERT_TEXT(&m, ORD_HDR);
	CU_ASSERT_EQUAL(pd_output_written(o), 0);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(1) ORD_ROW(3) ORD_ROW(4));
	CU_ASSERT_EQUAL(pd_output_written(o), 3);
	pd_output_free(o);
	mem_close(&m);
}

/* Buffered rows that never get written are released by free. */
static void test_free_with_pending(void)
{
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_JSONL, &ord_grid, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(put_ord(o, 3), 0);
	CU_ASSERT_EQUAL(put_ord(o, 2), 0);
	ASSERT_TEXT(&m, "");
	pd_output_free(o);
	mem_close(&m);
}

/* The row builder: what run, collect and the control socket show of one
 * result. */
static void test_row_build(void)
{
	pd_schema *sch = NULL;
	pd_jresult jr;
	pd_row row;
	char err[256];
	mem m;
	pd_output *o;
	static char *hdr[] = {"x"};
	static char *cells[] = {"1", "2"};
	pd_table grid = {1, 2, hdr, cells, NULL};

	CU_ASSERT_EQUAL_FATAL(pd_schema_parse("a:int,b:chr", &sch, err, sizeof(err)), 0);
	memset(&jr, 0, sizeof(jr));
	jr.status = PD_ST_OK;
	jr.exit_code = 0;
	jr.seconds = 0.5;
	jr.out = "a=4\nb=hi\r\n";
	jr.out_len = strlen(jr.out);
	/* no agent, no error: "" */
	pd_row_build(&row, sch, &jr, 0);
	CU_ASSERT_EQUAL(row.r.status, PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(row.r.agent, "");
	CU_ASSERT_STRING_EQUAL(row.r.error, "");
	CU_ASSERT_EQUAL(row.r.out_len, strlen("a=4\nb=hi")); /* CRLF trimmed */
	CU_ASSERT_PTR_NOT_NULL_FATAL(row.r.values);
	CU_ASSERT_STRING_EQUAL(row.r.values[0], "4");
	CU_ASSERT_STRING_EQUAL(row.r.values[1], "hi");
	CU_ASSERT_STRING_EQUAL(row.schema_err, "");
	/* the same row in the table */
	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &grid, sch, 0);
	CU_ASSERT_EQUAL(pd_output_row(o, 1, &row.r), 0);
	pd_output_finish(o);
	pd_output_free(o);
	CU_ASSERT_STRING_EQUAL(mem_text(&m), "x,status,exit_code,seconds,agent,a,b,error\n"
					     "2,ok,0,0.500000,,4,hi,\n");
	mem_close(&m);
	pd_row_free(&row);
	CU_ASSERT_PTR_NULL(row.values);

	/* raw: the bytes as they are */
	pd_row_build(&row, NULL, &jr, PD_ROW_RAW);
	CU_ASSERT_EQUAL(row.r.out_len, jr.out_len);
	CU_ASSERT_PTR_NULL(row.r.values);
	pd_row_free(&row);

	/* stdout that does not fit: failed, and why */
	jr.out = "a=x\n";
	jr.out_len = 4;
	jr.agent = "h:1";
	pd_row_build(&row, sch, &jr, 0);
	CU_ASSERT_EQUAL(row.r.status, PD_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(row.r.agent, "h:1");
	CU_ASSERT_PTR_NOT_NULL(strstr(row.schema_err, "field 'a'"));
	pd_row_free(&row);

	/* a failed result: no fields extracted, its error kept */
	jr.status = PD_ST_TIMEOUT;
	jr.exit_code = -1;
	jr.error = "timed out";
	jr.out = NULL;
	jr.out_len = 0;
	pd_row_build(&row, sch, &jr, 0);
	CU_ASSERT_EQUAL(row.r.status, PD_ST_TIMEOUT);
	CU_ASSERT_EQUAL(row.r.exit_code, -1);
	CU_ASSERT_PTR_NULL(row.r.values);
	CU_ASSERT_STRING_EQUAL(row.r.out, "");
	CU_ASSERT_STRING_EQUAL(row.r.error, "timed out");
	CU_ASSERT_STRING_EQUAL(row.schema_err, "");
	pd_row_free(&row);
	pd_schema_free(sch);
}

static void test_empty_grid(void)
{
	char *header[] = {"x"};
	pd_table g = {1, 0, header, NULL, NULL};
	pd_row_result r = res(PD_ST_OK, 0, 1, "a", "", 0, NULL, "");
	pd_output *o;
	mem m;

	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_TSV, &g, &schema4, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(pd_output_row(o, 0, &r), -EINVAL);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	ASSERT_TEXT(&m, "x\tstatus\texit_code\tseconds\tagent\tmean\tn\tlabel\tflag\terror\n");
	pd_output_free(o);
	mem_close(&m);
}

/* Many rows in reverse order exercise the buffer without leaks. */
static void test_reverse_many(void)
{
	enum { N = 2000 };
	static char *cells[N];
	static char names[N][8];
	char *header[] = {"x"};
	pd_table g = {1, N, header, cells, NULL};
	pd_row_result r = res(PD_ST_OK, 0, 0, "", "", 0, NULL, "");
	pd_output *o;
	size_t i;
	char want[32];
	char *p;
	mem m;

	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "%zu", i);
		cells[i] = names[i];
	}
	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &g, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	for (i = N; i-- > 1;)
		CU_ASSERT_EQUAL(pd_output_row(o, i, &r), 0);
	CU_ASSERT_EQUAL(pd_output_written(o), 0);
	CU_ASSERT_EQUAL(pd_output_row(o, 0, &r), 0);
	CU_ASSERT_EQUAL(pd_output_written(o), N);
	CU_ASSERT_EQUAL(pd_output_finish(o), 0);
	mem_text(&m);
	p = strchr(m.buf, '\n') + 1;
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%zu,ok,0,0.000000,,,\n", i);
		if (strncmp(p, want, strlen(want))) {
			CU_FAIL("reverse order row out of place");
			break;
		}
		p += strlen(want);
	}
	CU_ASSERT_EQUAL(*p, '\0');
	pd_output_free(o);
	mem_close(&m);
}

/* ---- progress ---- */

static void check_fmt(uint64_t done, uint64_t total, uint64_t failed, double el,
		      const char *want)
{
	char buf[256];

	pd_progress_format(buf, sizeof(buf), done, total, failed, el);
	CU_ASSERT_STRING_EQUAL(buf, want);
	if (strcmp(buf, want))
		fprintf(stderr, "\nwant '%s'\ngot  '%s'\n", want, buf);
}

static void test_progress_format(void)
{
	char small[10];

	check_fmt(1234, 10000, 2, 1234 / 850.3, "parade: 1234/10000 done, 2 failed, "
						"850.3 tasks/s, ETA 10s");
	check_fmt(100, 1000, 2, 10.0, "parade: 100/1000 done, 2 failed, 10.0 tasks/s, ETA 1m30s");
	check_fmt(10, 75, 0, 10.0, "parade: 10/75 done, 0 failed, 1.0 tasks/s, ETA 1m05s");
	check_fmt(12, 24, 0, 12.0, "parade: 12/24 done, 0 failed, 1.0 tasks/s, ETA 12s");
	check_fmt(1, 7201, 0, 1.0, "parade: 1/7201 done, 0 failed, 1.0 tasks/s, ETA 2h00m");
	check_fmt(1, 3, 0, 100.0, "parade: 1/3 done, 0 failed, 0.0 tasks/s, ETA 3m20s");
	check_fmt(0, 10, 0, 5.0, "parade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --");
	check_fmt(5, 10, 0, 0.0, "parade: 5/10 done, 0 failed, 0.0 tasks/s, ETA --");
	check_fmt(99, 100, 0, 0.001, "parade: 99/100 done, 0 failed, 99000.0 tasks/s, ETA 1s");
	check_fmt(10, 10, 3, 4.0, "parade: 10/10 done, 3 failed, 2.5 tasks/s, ETA 0s");
	check_fmt(0, 0, 0, 0.0, "parade: 0/0 done, 0 failed, 0.0 tasks/s, ETA 0s");
	/* a million tasks at one a day: no meaningful estimate */
	check_fmt(1, 1000000, 0, 86400.0, "parade: 1/1000000 done, 0 failed, 0.0 tasks/s, ETA --");

	memset(small, 'x', sizeof(small));
	pd_progress_format(small, sizeof(small), 1, 2, 0, 1.0);
	CU_ASSERT_STRING_EQUAL(small, "parade: 1");
}

static void test_progress_draw(void)
{
	pd_progress *p;
	mem m;

	mem_open(&m);
	p = pd_progress_new(m.f, 1, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	ASSERT_TEXT(&m, "");
	pd_progress_update(p, 0, 0, 1000);
	ASSERT_TEXT(&m, "\rparade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K");
	pd_progress_update(p, 1, 0, 1100); /* too soon */
	ASSERT_TEXT(&m, "\rparade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K");
	pd_progress_update(p, 2, 0, 1200);
	ASSERT_TEXT(&m, "\rparade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K"
			"\rparade: 2/10 done, 0 failed, 10.0 tasks/s, ETA 1s\033[K");
	pd_progress_update(p, 10, 1, 1250); /* the end is drawn at once */
	pd_progress_update(p, 10, 1, 1260); /* but only once */
	ASSERT_TEXT(&m, "\rparade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K"
			"\rparade: 2/10 done, 0 failed, 10.0 tasks/s, ETA 1s\033[K"
			"\rparade: 10/10 done, 1 failed, 40.0 tasks/s, ETA 0s\033[K");
	pd_progress_free(p);
	ASSERT_TEXT(&m, "\rparade: 0/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K"
			"\rparade: 2/10 done, 0 failed, 10.0 tasks/s, ETA 1s\033[K"
			"\rparade: 10/10 done, 1 failed, 40.0 tasks/s, ETA 0s\033[K"
			"\r\033[K");
	mem_close(&m);

	mem_open(&m);
	p = pd_progress_new(m.f, 0, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	pd_progress_update(p, 1, 0, 0);
	pd_progress_update(p, 10, 0, 5000);
	pd_progress_free(p);
	ASSERT_TEXT(&m, "");
	mem_close(&m);

	pd_progress_free(NULL);
}

static int before_calls;
static void count_before(void *arg)
{
	(void)arg;
	before_calls++;
}

/* The hook runs just before rows are written, and only then (an ordered
 * row that waits for an earlier one writes nothing). */
static void test_before_hook(void)
{
	pd_table g = ord_grid;
	pd_output *o;
	mem m;

	g.nrows = 3;
	mem_open(&m);
	o = pd_output_new(m.f, PD_FMT_CSV, &g, NULL, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_EQUAL(pd_output_file(o), m.f);
	before_calls = 0;
	pd_output_set_before(o, count_before, NULL);
	CU_ASSERT_EQUAL(put_ord(o, 1), 0);
	CU_ASSERT_EQUAL(before_calls, 0);
	CU_ASSERT_EQUAL(put_ord(o, 0), 0);
	CU_ASSERT(before_calls >= 1);
	ASSERT_TEXT(&m, ORD_HDR ORD_ROW(0) ORD_ROW(1));
	pd_output_set_before(o, NULL, NULL);
	before_calls = 0;
	CU_ASSERT_EQUAL(put_ord(o, 2), 0);
	CU_ASSERT_EQUAL(before_calls, 0);
	pd_output_free(o);
	mem_close(&m);
}

/* A log line erases a drawn progress line first; the next update draws
 * it again at once, not after the redraw interval; free detaches. */
static void test_progress_erase(void)
{
	pd_progress *p;
	mem m, lg;

	mem_open(&m);
	mem_open(&lg);
	pd_log_set_file(lg.f);
	p = pd_progress_new(m.f, 1, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	pd_warn("before anything is drawn");
	ASSERT_TEXT(&m, "");
	pd_progress_update(p, 1, 0, 1000);
	ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K");
	pd_warn("a warning");
	ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K\r\033[K");
	pd_progress_erase(p); /* erased already: nothing more */
	pd_progress_update(p, 2, 0, 1010); /* within 200 ms, but it was erased */
	ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K\r\033[K"
			"\rparade: 2/10 done, 0 failed, 200.0 tasks/s, ETA 1s\033[K");
	pd_progress_update(p, 3, 0, 1020); /* drawn and too soon */
	pd_progress_erase(p);
	pd_progress_free(p);
	ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K\r\033[K"
			"\rparade: 2/10 done, 0 failed, 200.0 tasks/s, ETA 1s\033[K\r\033[K");
	pd_warn("after free: no hook left");
	ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K\r\033[K"
			"\rparade: 2/10 done, 0 failed, 200.0 tasks/s, ETA 1s\033[K\r\033[K");
	pd_log_set_file(NULL);
	mem_close(&lg);
	mem_close(&m);
	/* rows to a file that is no terminal: not attached, no hook */
	mem_open(&m);
	mem_open(&lg);
	p = pd_progress_new(m.f, 1, 10);
	{
		pd_table g = ord_grid;
		pd_output *o = pd_output_new(lg.f, PD_FMT_CSV, &g, NULL, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		pd_progress_attach(p, o);
		pd_progress_update(p, 1, 0, 1000);
		CU_ASSERT_EQUAL(put_ord(o, 0), 0);
		ASSERT_TEXT(&m, "\rparade: 1/10 done, 0 failed, 0.0 tasks/s, ETA --\033[K");
		pd_progress_free(p);
		pd_output_free(o);
	}
	mem_close(&lg);
	mem_close(&m);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"format_parse", test_format_parse},
		{"check_columns", test_check_columns},
		{"csv_hostile", test_csv_hostile},
		{"csv_schema", test_csv_schema},
		{"tsv_escaping", test_tsv_escaping},
		{"jsonl_strings", test_jsonl_strings},
		{"jsonl_schema", test_jsonl_schema},
		{"ordered", test_ordered},
		{"ordered_long_chain", test_ordered_long_chain},
		{"unordered", test_unordered},
		{"finish_with_gaps", test_finish_with_gaps},
		{"free_with_pending", test_free_with_pending},
		{"row_build", test_row_build},
		{"empty_grid", test_empty_grid},
		{"reverse_many", test_reverse_many},
		{"progress_format", test_progress_format},
		{"progress_draw", test_progress_draw},
		{"before_hook", test_before_hook},
		{"progress_erase", test_progress_erase},
	};
	CU_pSuite suite;
	unsigned failed;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("output", NULL, NULL);
	if (!suite)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 2;
}
