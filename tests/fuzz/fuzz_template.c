/* fuzz_template.c - command templates (pd_template_compile, _expand,
 * _line) over a grid, and shell quoting (pd_shell_quote).
 *
 * Input: data[0] holds flags (1: shell mode, 2: stdin input, a table of
 * one unnamed column whose rows are the lines of the grid part); the rest
 * is split at NUL bytes into the grid (CSV) and up to 16 template words.
 *
 * Checks: each expansion of the first rows has at least its words and a
 * NULL end. Shell mode: /bin/sh -c SCRIPT, then $0 and the row's values as
 * parameters, and the script is the same for any values (a value never
 * becomes shell text). Argv mode: a word without braces is kept as it is;
 * when no word is an option (so no "sh -c" script is in play) each word is
 * what the rules of template.h give and nothing is appended; the coproc
 * line is those words with the values, joined by spaces; the JSON line
 * parses as an object of the row's cells; every shell-quoted cell reads back, by /bin/sh's rules for
 * '...' and \', as the same bytes. A refused template is -EINVAL with a
 * message. */
#include "template.h"
#include "buf.h"
#include "csv.h"
#include "fuzz.h"
#include "json.h"

#include <errno.h>
#include <string.h>

#define MAX_WORDS 16
#define MAX_ROWS 4

static void put(pd_buf *b, const char *s, size_t n)
{
	FUZZ_CHECK(pd_buf_append(b, s, n) == 0, "append");
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static void put_value(pd_buf *b, const char *v, int shell)
{
	if (shell)
		FUZZ_CHECK(pd_shell_quote(b, v, strlen(v)) == 0, "quote");
	else
		put(b, v, strlen(v));
}

/* The expansion of word w for row r, by template.h's rules. */
static void expand_here(pd_buf *b, const char *w, const pd_table *t, size_t r, int shell)
{
	size_t i = 0, j;
	char num[32];

	while (w[i]) {
		if ((w[i] == '{' && w[i + 1] == '{') || (w[i] == '}' && w[i + 1] == '}')) {
			put(b, w + i, 1);
			i += 2;
		} else if (w[i] == '{' && w[i + 1] == '}') {
			put_value(b, pd_table_cell(t, r, 0), shell);
			i += 2;
		} else if (w[i] == '{' && w[i + 1] == '#' && w[i + 2] == '}') {
			snprintf(num, sizeof(num), "%zu", r + 1);
			put_value(b, num, shell);
			i += 3;
		} else if (w[i] == '{') {
			for (j = i + 1; name_char(w[j]); j++)
				;
			if (j > i + 1 && w[j] == '}') {
				long c = -1;
				for (size_t k = 0; k < t->ncols; k++)
					if (strlen(t->header[k]) == j - i - 1 &&
					    !memcmp(t->header[k], w + i + 1, j - i - 1))
						c = (long)k;
				FUZZ_CHECK(c >= 0, "a compiled template names known columns");
				put_value(b, pd_table_cell(t, r, (size_t)c), shell);
				i = j + 1;
			} else {
				put(b, "{", 1);
				i++;
			}
		} else {
			put(b, w + i, 1);
			i++;
		}
	}
}

/* Reads s as /bin/sh reads one word made of '...' and \' parts. */
static void unquote(pd_buf *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (s[i] == '\\') {
			FUZZ_CHECK(i + 1 < n && s[i + 1] == '\'', "only \\' outside quotes");
			put(b, "'", 1);
			i += 2;
		} else {
			const char *e;
			FUZZ_CHECK(s[i] == '\'', "a quoted part starts with '");
			e = memchr(s + i + 1, '\'', n - i - 1);
			FUZZ_CHECK(e != NULL, "a quoted part ends with '");
			put(b, s + i + 1, (size_t)(e - s - i - 1));
			i = (size_t)(e - s) + 1;
		}
	}
}

static void check_quote(const char *v)
{
	pd_buf q = {0}, back = {0};

	FUZZ_CHECK(pd_shell_quote(&q, v, strlen(v)) == 0 && pd_buf_size(&q) >= 2, "quote");
	unquote(&back, (const char *)pd_buf_head(&q), pd_buf_size(&q));
	/* (an empty pd_buf has no data pointer: no pd_buf_head for it) */
	FUZZ_CHECK(pd_buf_size(&back) == strlen(v) &&
			   (!back.data || !memcmp(pd_buf_head(&back), v, strlen(v))),
		   "a quoted value reads back as itself");
	pd_buf_free(&q);
	pd_buf_free(&back);
}

static int ascii(const char *s)
{
	while (*s)
		if ((unsigned char)*s++ >= 0x80)
			return 0;
	return 1;
}

static void check_json_line(const pd_table *t, size_t r, const pd_template *tp)
{
	char **argv, **none;
	size_t argc;
	pd_json *doc = NULL;

	FUZZ_CHECK(pd_template_line(tp, t, r, 1, &argv, &argc) == 0 && argc == 1 && !argv[1],
		   "json line");
	FUZZ_CHECK(!strchr(argv[0], '\n'), "a json line is one line");
	FUZZ_CHECK(pd_json_parse(argv[0], strlen(argv[0]), &doc, NULL, 0) == 0, "json line parses");
	FUZZ_CHECK(pd_json_type(doc) == PD_JSON_OBJECT && pd_json_len(doc) == t->ncols,
		   "json line is an object of the columns");
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = pd_json_str(pd_json_at(doc, c), NULL);
		/* ill-formed UTF-8 becomes U+FFFD: compare ASCII text only */
		FUZZ_CHECK(pd_json_key(doc, c) && s, "json members are strings");
		if (ascii(t->header[c]))
			FUZZ_CHECK(!strcmp(pd_json_key(doc, c), t->header[c]),
				   "json keys are the header");
		if (ascii(pd_table_cell(t, r, c)))
			FUZZ_CHECK(!strcmp(s, pd_table_cell(t, r, c)), "json values are the cells");
	}
	pd_json_free(doc);
	FUZZ_CHECK(pd_template_line(tp, t, t->nrows, 1, &none, &argc) == -EINVAL && !none,
		   "a row out of range is refused");
	free(argv);
}

static int is_cell(const pd_table *t, size_t r, const char *v)
{
	for (size_t c = 0; c < t->ncols; c++)
		if (!strcmp(pd_table_cell(t, r, c), v))
			return 1;
	return 0;
}

/* Shell mode's promise: a value is never pasted into the script. The same
 * template over a table of the same columns and other, hostile values
 * must give the same script for the same row. */
static void check_script_free_of_values(const pd_table *t, size_t r, const char *word,
					const char *script)
{
	static const char *const hostile[] = {"'; rm -rf / #", "$(id)", "\"`x`\"", "a b\nc", ""};
	const char **cells = malloc(t->ncols * sizeof(*cells));
	pd_table *t2 = pd_table_new((const char *const *)t->header, t->ncols);
	pd_template *tp2 = NULL;
	char **argv;
	size_t argc;

	FUZZ_CHECK(cells && t2, "table");
	for (size_t i = 0; i <= r; i++) {
		for (size_t c = 0; c < t->ncols; c++)
			cells[c] = hostile[(i + c) % 5];
		FUZZ_CHECK(pd_table_append(t2, cells) == 0, "append");
	}
	FUZZ_CHECK(pd_template_compile(&word, 1, t2, 1, &tp2, NULL, 0) == 0,
		   "a script compiles for any values of the same columns");
	FUZZ_CHECK(pd_template_expand(tp2, t2, r, &argv, &argc) == 0, "expand");
	FUZZ_CHECK(!strcmp(argv[2], script), "the script does not depend on the values");
	free(argv);
	pd_template_free(tp2);
	pd_table_free(t2);
	free(cells);
}

static pd_table *stdin_table(const char *text)
{
	const char *hdr[] = {""};
	pd_table *t = pd_table_new(hdr, 1);
	char *copy = strdup(text), *line, *save = NULL;

	FUZZ_CHECK(t && copy, "table");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *cells[] = {line};
		FUZZ_CHECK(pd_table_append(t, cells) == 0, "append");
	}
	free(copy);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *words[MAX_WORDS];
	char *text, *p, *end, err[512];
	size_t nwords = 0;
	pd_table *t = NULL;
	pd_template *tp = NULL;
	int shell, rv, no_options = 1;

	if (size < 1)
		return 0;
	shell = data[0] & 1;
	text = malloc(size);
	FUZZ_CHECK(text != NULL, "malloc");
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	end = text + size - 1;
	/* grid NUL word NUL word ... */
	for (p = text + strlen(text); p < end && nwords < MAX_WORDS; p += strlen(p)) {
		p++;
		words[nwords++] = p;
	}
	if (data[0] & 2) {
		t = stdin_table(text);
	} else if (pd_table_parse(text, strlen(text), PD_CSV, &t, NULL, 0) < 0) {
		goto out;
	}
	for (size_t w = 0; w < nwords; w++)
		no_options &= words[w][0] != '-';
	err[0] = 0;
	rv = pd_template_compile(words, nwords, t, shell, &tp, err, sizeof(err));
	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL && !tp && err[0], "a refused template says why");
		goto out;
	}
	for (size_t r = 0; r < t->nrows && r < MAX_ROWS; r++) {
		char **argv, **line;
		size_t argc, lc;
		pd_buf want = {0};

		FUZZ_CHECK(pd_template_expand(tp, t, r, &argv, &argc) == 0, "expand");
		FUZZ_CHECK(argc >= (shell ? 3 : nwords) && argv[argc] == NULL, "argc and NULL end");
		if (shell) {
			FUZZ_CHECK(!strcmp(argv[0], "/bin/sh") && !strcmp(argv[1], "-c"), "sh -c");
			FUZZ_CHECK(argc == 3 || !strcmp(argv[3], "/bin/sh"), "$0 is /bin/sh");
			for (size_t k = 4; k < argc; k++)
				FUZZ_CHECK(is_cell(t, r, argv[k]), "parameters are the row's values");
			check_script_free_of_values(t, r, words[0], argv[2]);
		} else {
			for (size_t w = 0; w < nwords; w++) {
				if (!strpbrk(words[w], "{}"))
					FUZZ_CHECK(!strcmp(argv[w], words[w]),
						   "a word without braces is kept");
				if (no_options) {
					pd_buf_reset(&want);
					expand_here(&want, words[w], t, r, 0);
					put(&want, "", 1);
					FUZZ_CHECK(!strcmp(argv[w], (const char *)pd_buf_head(&want)),
						   "each word is the template with the values");
				}
			}
			if (no_options)
				FUZZ_CHECK(argc == nwords, "nothing is appended without sh -c");
		}
		FUZZ_CHECK(pd_template_line(tp, t, r, 0, &line, &lc) == 0 && lc == 1 && !line[1],
			   "coproc line");
		FUZZ_CHECK(!strchr(line[0], '\n') || memchr(data, '\n', size),
			   "a coproc line has a newline only from the input");
		if (!shell) {
			/* argv mode: the words with the values as they are, joined */
			pd_buf_reset(&want);
			for (size_t w = 0; w < nwords; w++) {
				if (w)
					put(&want, " ", 1);
				expand_here(&want, words[w], t, r, 0);
			}
			put(&want, "", 1);
			FUZZ_CHECK(!strcmp(line[0], (const char *)pd_buf_head(&want)),
				   "the coproc line is the words with the values, joined by spaces");
		}
		check_json_line(t, r, tp);
		for (size_t c = 0; c < t->ncols; c++)
			check_quote(pd_table_cell(t, r, c));
		free(line);
		free(argv);
		pd_buf_free(&want);
	}
out:
	pd_template_free(tp);
	pd_table_free(t);
	free(text);
	return 0;
}
