/* fuzz_schema.c - the --schema spec (pd_schema_parse) and a task's stdout
 * read against it (pd_schema_extract). The input is the spec, a LF, then
 * the stdout; without a LF it is only a spec (checked against a fixed
 * stdout too).
 *
 * Checks: a parsed spec has valid, unique names and known types, and
 * written back as "name:type,..." parses to the same fields. Extracted
 * values are C strings of their type (dbl by strtod or NA/NaN/Inf, int
 * within int64, lgl exactly TRUE/FALSE/NA, chr trimmed); written back as
 * "name=value" lines they extract to the same values (they are canonical).
 * On an error every value is NULL and the message names the schema or a
 * field. */
#include "schema.h"
#include "buf.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

static void put(pd_buf *b, const char *s)
{
	FUZZ_CHECK(pd_buf_append(b, s, strlen(s)) == 0, "append");
}

static int name_char(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.'));
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void check_value(int type, const char *v)
{
	char *end;

	switch (type) {
	case PD_T_DBL:
		if (strcmp(v, "NA") && strcmp(v, "NaN") && strcmp(v, "Inf") && strcmp(v, "-Inf")) {
			strtod(v, &end);
			FUZZ_CHECK(end != v && !*end, "a dbl is strtod syntax");
		}
		break;
	case PD_T_INT:
		if (strcmp(v, "NA")) {
			errno = 0;
			strtoll(v, &end, 10);
			FUZZ_CHECK(end != v && !*end && errno == 0 && !is_space(v[0]),
				   "an int is decimal within int64");
		}
		break;
	case PD_T_LGL:
		FUZZ_CHECK(!strcmp(v, "TRUE") || !strcmp(v, "FALSE") || !strcmp(v, "NA"),
			   "a lgl is TRUE, FALSE or NA");
		break;
	case PD_T_CHR:
		FUZZ_CHECK(!v[0] || (!is_space(v[0]) && !is_space(v[strlen(v) - 1])),
			   "a chr is trimmed");
		FUZZ_CHECK(!strchr(v, '\n'), "a chr is one line");
		break;
	default:
		FUZZ_CHECK(0, "a known type");
	}
}

static void check_extract(const pd_schema *s, const char *out, size_t len)
{
	char **v = calloc(s->n, sizeof(char *)), **v2 = calloc(s->n, sizeof(char *));
	char err[256];
	pd_buf b = {0};
	int rv;

	FUZZ_CHECK(v && v2, "calloc");
	err[0] = 0;
	rv = pd_schema_extract(s, out, len, v, err, sizeof(err));
	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL, "a bad stdout is -EINVAL");
		FUZZ_CHECK(!strncmp(err, "field '", 7), "the error names a field");
		for (size_t i = 0; i < s->n; i++)
			FUZZ_CHECK(!v[i], "no value is left on an error");
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		FUZZ_CHECK(v[i] != NULL, "every field has a value");
		check_value(s->fields[i].type, v[i]);
		put(&b, s->fields[i].name);
		put(&b, "=");
		put(&b, v[i]);
		put(&b, "\n");
	}
	rv = pd_schema_extract(s, (const char *)pd_buf_head(&b), pd_buf_size(&b), v2, err,
			       sizeof(err));
	if (rv < 0)
		fprintf(stderr, "re-extract: %s\n", err);
	FUZZ_CHECK(rv == 0, "canonical values extract");
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(!strcmp(v[i], v2[i]), "values are canonical");
out:
	for (size_t i = 0; i < s->n; i++) {
		free(v[i]);
		free(v2[i]);
	}
	free(v);
	free(v2);
	pd_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed[] = "x=1\ny=2.5\nz=TRUE\nname = some text \r\nmean=NA\n";
	const char *nl = memchr(data, '\n', size);
	size_t slen = nl ? (size_t)(nl - (const char *)data) : size;
	char *spec = malloc(slen + 1);
	pd_schema *s = NULL, *s2 = NULL;
	pd_buf b = {0};
	char err[256];
	int rv;

	FUZZ_CHECK(spec != NULL, "malloc");
	memcpy(spec, data, slen);
	spec[slen] = 0;
	err[0] = 0;
	rv = pd_schema_parse(spec, &s, err, sizeof(err));
	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL && !s, "a bad spec is -EINVAL with no schema");
		FUZZ_CHECK(!strncmp(err, "schema", 6), "the error names the schema");
		goto out;
	}
	FUZZ_CHECK(s->n >= 1, "a schema has fields");
	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->fields[i].name;
		FUZZ_CHECK(name_char(name[0], 1), "a name starts with a letter or _");
		for (const char *q = name + 1; *q; q++)
			FUZZ_CHECK(name_char(*q, 0), "a name is letters, digits, _ and .");
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(name, s->fields[j].name), "names are unique");
		FUZZ_CHECK(strcmp(pd_type_name(s->fields[i].type), "?"), "types are known");
		if (i)
			put(&b, ",");
		put(&b, name);
		put(&b, ":");
		put(&b, pd_type_name(s->fields[i].type));
	}
	FUZZ_CHECK(pd_buf_append(&b, "", 1) == 0, "append");
	FUZZ_CHECK(pd_schema_parse((const char *)pd_buf_head(&b), &s2, err, sizeof(err)) == 0,
		   "a written schema parses");
	FUZZ_CHECK(s2->n == s->n, "round trip keeps the fields");
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(!strcmp(s->fields[i].name, s2->fields[i].name) &&
				   s->fields[i].type == s2->fields[i].type,
			   "round trip keeps names and types");
	if (nl)
		check_extract(s, nl + 1, size - slen - 1);
	else
		check_extract(s, fixed, sizeof(fixed) - 1);
out:
	pd_schema_free(s);
	pd_schema_free(s2);
	pd_buf_free(&b);
	free(spec);
	return 0;
}
