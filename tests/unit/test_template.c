#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "template.h"

/* Tables are built by hand so these tests do not depend on csv.c. */
static char *grid_header[] = {"alpha", "beta", "n_sim"};
static char *grid_cells[] = {
	"a0", "b0", "10",
	"a1", "b1", "20",
};
static size_t grid_lines[] = {2, 3};
static pd_table grid = {3, 2, grid_header, grid_cells, grid_lines};

static char *stdin_header[] = {""};
static char *stdin_cells[] = {"first line", "second 'line' $x"};
static size_t stdin_lines[] = {1, 2};
static pd_table stdin_tab = {1, 2, stdin_header, stdin_cells, stdin_lines};

/* Values a shell would love to interpret; each must arrive unchanged. */
static const char *const hostile[] = {
	"plain",
	"it's",
	"'",
	"''",
	"'\\''",
	"a b  c\t d",
	"$(touch /tmp/parade_test_template_pwned)",
	"`touch /tmp/parade_test_template_pwned`",
	"$HOME ${PATH} $0 $@",
	"\"double\" \\back\\slash\\",
	"line1\nline2\n",
	"\n",
	"\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x8e\x89",
	"\xff\xfe raw bytes",
	"",
	"*",
	"-n",
	"--",
	"%s%d%%",
	"; echo injected #",
	"a|b&&c;d<>",
	"!!",
	"~root",
};
#define NHOSTILE (sizeof(hostile) / sizeof(hostile[0]))
#define PWNED "/tmp/parade_test_template_pwned"

static pd_template *compile_ok(const char *const *words, size_t n, const pd_table *t, int shell)
{
	pd_template *tp = NULL;
	char err[256] = "";
	int rv = pd_template_compile(words, n, t, shell, &tp, err, sizeof(err));

	if (rv != 0)
		fprintf(stderr, "unexpected compile error: %s\n", err);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_PTR_NOT_NULL(tp);
	return tp;
}

static void expect_error(const char *const *words, size_t n, const pd_table *t, int shell,
			 const char *msg)
{
	pd_template *tp = NULL;
	char err[256] = "";
	int rv = pd_template_compile(words, n, t, shell, &tp, err, sizeof(err));

	CU_ASSERT_EQUAL(rv, -EINVAL);
	CU_ASSERT_PTR_NULL(tp);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  '%s'\n  want: '%s'\n", err, msg);
	CU_ASSERT_STRING_EQUAL(err, msg);
	pd_template_free(tp);
}

/* Expands row and compares with the expected argv. */
static void expect_argv(const pd_template *tp, const pd_table *t, size_t row,
			const char *const *want, size_t nwant)
{
	char **av = NULL;
	size_t ac = 0, i;

	CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, t, row, &av, &ac), 0);
	CU_ASSERT_EQUAL(ac, nwant);
	for (i = 0; i < ac && i < nwant; i++) {
		if (strcmp(av[i], want[i]) != 0)
			fprintf(stderr, "\n  argv[%zu] got '%s' want '%s'\n", i, av[i], want[i]);
		CU_ASSERT_STRING_EQUAL(av[i], want[i]);
	}
	CU_ASSERT_PTR_NULL(av[ac]);
	free(av);
}

static void test_literal_words(void)
{
	const char *words[] = {"echo", "hello world", ""};
	const char *want[] = {"echo", "hello world", ""};
	pd_template *tp = compile_ok(words, 3, &grid, 0);

	expect_argv(tp, &grid, 0, want, 3);
	expect_argv(tp, &grid, 1, want, 3);
	pd_template_free(tp);
}

static void test_column_mid_word(void)
{
	const char *words[] = {"./sim", "--alpha={alpha}", "x{beta}y", "{n_sim}"};
	const char *want0[] = {"./sim", "--alpha=a0", "xb0y", "10"};
	const char *want1[] = {"./sim", "--alpha=a1", "xb1y", "20"};
	pd_template *tp = compile_ok(words, 4, &grid, 0);

	expect_argv(tp, &grid, 0, want0, 4);
	expect_argv(tp, &grid, 1, want1, 4);
	pd_template_free(tp);
}

static void test_several_per_word(void)
{
	const char *words[] = {"{alpha}{beta}", "out_{alpha}_{beta}_{n_sim}.txt", "{alpha}-{alpha}"};
	const char *want[] = {"a1b1", "out_a1_b1_20.txt", "a1-a1"};
	pd_template *tp = compile_ok(words, 3, &grid, 0);

	expect_argv(tp, &grid, 1, want, 3);
	pd_template_free(tp);
}

static void test_row_number(void)
{
	const char *words[] = {"{#}", "task-{#}-{alpha}"};
	const char *want0[] = {"1", "task-1-a0"};
	const char *want1[] = {"2", "task-2-a1"};
	pd_template *tp = compile_ok(words, 2, &grid, 0);

	expect_argv(tp, &grid, 0, want0, 2);
	expect_argv(tp, &grid, 1, want1, 2);
	pd_template_free(tp);
}

static void test_row_number_large(void)
{
	static char *h[] = {""};
	static char *c[] = {"x"};
	static size_t l[] = {1};
	/* {#} alone never touches cells, so any row index works */
	pd_table t = {1, 1, h, c, l};
	const char *words[] = {"{#}"};
	const char *want[] = {"1000000"};
	pd_template *tp = compile_ok(words, 1, &t, 0);
	char **av = NULL;
	size_t ac = 0;

	CU_ASSERT_EQUAL(pd_template_expand(tp, &t, 999999, &av, &ac), 0);
	if (av) {
		CU_ASSERT_EQUAL(ac, 1);
		CU_ASSERT_STRING_EQUAL(av[0], want[0]);
	}
	free(av);
	pd_template_free(tp);
}

static void test_stdin_line(void)
{
	const char *words[] = {"run", "{}", "<{}>", "{#}:{}"};
	const char *want0[] = {"run", "first line", "<first line>", "1:first line"};
	const char *want1[] = {"run", "second 'line' $x", "<second 'line' $x>",
			       "2:second 'line' $x"};
	pd_template *tp = compile_ok(words, 4, &stdin_tab, 0);

	expect_argv(tp, &stdin_tab, 0, want0, 4);
	expect_argv(tp, &stdin_tab, 1, want1, 4);
	pd_template_free(tp);
}

static void test_brace_escapes(void)
{
	const char *words[] = {"{{alpha}}", "{{}}", "{{{alpha}}}", "a}}b{{c", "}}{{", "{{#}}"};
	const char *want[] = {"{alpha}", "{}", "{a0}", "a}b{c", "}{", "{#}"};
	pd_template *tp = compile_ok(words, 6, &grid, 0);

	expect_argv(tp, &grid, 0, want, 6);
	pd_template_free(tp);
}

static void test_lone_brace(void)
{
	const char *words[] = {"{", "a{b", "{alpha", "{ alpha}", "{al pha}", "x}", "}",
			       "{#", "{#x}", "awk {print}", "${alpha}", "{@}"};
	const char *want[] = {"{", "a{b", "{alpha", "{ alpha}", "{al pha}", "x}", "}",
			      "{#", "{#x}", "awk {print}", "$a0", "{@}"};
	pd_template *tp;

	/* "{print}" names a column; the grid has none called print */
	expect_error(words, 12, &grid, 0,
		     "template names column 'print', grid has: alpha, beta, n_sim");
	words[9] = "awk {print";
	want[9] = "awk {print";
	tp = compile_ok(words, 12, &grid, 0);
	expect_argv(tp, &grid, 0, want, 12);
	pd_template_free(tp);
}

static void test_unknown_column(void)
{
	const char *w1[] = {"sim", "{gama}"};
	const char *w2[] = {"sim", "x{alpha}{Alpha}"};

	expect_error(w1, 2, &grid, 0,
		     "template names column 'gama', grid has: alpha, beta, n_sim");
	expect_error(w2, 2, &grid, 0,
		     "template names column 'Alpha', grid has: alpha, beta, n_sim");
}

static void test_whole_line_misuse(void)
{
	const char *w1[] = {"sim", "{}"};
	const char *w2[] = {"sim", "{x}"};
	static char *h[] = {"a", "b"};
	static char *c[] = {"1", "2"};
	static size_t l[] = {2};
	pd_table ab = {2, 1, h, c, l};

	expect_error(w1, 2, &ab, 0,
		     "template uses {} but input is a grid with columns: a, b; use {column}");
	expect_error(w1, 2, &grid, 0,
		     "template uses {} but input is a grid with columns: alpha, beta, n_sim; "
		     "use {column}");
	expect_error(w2, 2, &stdin_tab, 0,
		     "template names column 'x' but input comes from stdin; use {}");
}

static void test_error_truncation(void)
{
	const char *w[] = {"{gama}"};
	pd_template *tp = NULL;
	char err[16];

	memset(err, 'X', sizeof(err));
	CU_ASSERT_EQUAL(pd_template_compile(w, 1, &grid, 0, &tp, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(tp);
	CU_ASSERT_EQUAL(strlen(err), sizeof(err) - 1);
	CU_ASSERT_EQUAL(pd_template_compile(w, 1, &grid, 0, &tp, NULL, 0), -EINVAL);
}

static void test_bad_word_counts(void)
{
	const char *w[] = {"echo {alpha}", "{beta}"};
	pd_template *tp = NULL;
	char err[128] = "";

	CU_ASSERT_EQUAL(pd_template_compile(w, 2, &grid, 1, &tp, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(tp);
	CU_ASSERT(strstr(err, "one word") != NULL);
	err[0] = '\0';
	CU_ASSERT_EQUAL(pd_template_compile(w, 0, &grid, 0, &tp, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(tp);
	CU_ASSERT(err[0] != '\0');
	pd_template_free(NULL);
}

/* Runs argv with stdout on a pipe; returns the bytes written (malloc'd). */
static char *run_capture(char **argv, size_t *outlen, int *status)
{
	int fd[2];
	pid_t pid;
	char *out = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	if (pipe(fd) < 0)
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			char *p = realloc(out, cap + 8192);

			if (!p)
				break;
			out = p;
			cap += 8192;
		}
		n = read(fd[0], out + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	if (!out)
		out = calloc(1, 1);
	*outlen = len;
	return out;
}

static pd_table one_value_table(const char **cell)
{
	static char *h[] = {"v"};
	static size_t l[] = {2};
	pd_table t = {1, 1, h, (char **)cell, l};

	return t;
}

static void check_run(char **av, const char *want, size_t wantlen, const char *what)
{
	size_t len = 0;
	int status = -1;
	char *out = run_capture(av, &len, &status);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (len != wantlen || memcmp(out, want, len) != 0)
		fprintf(stderr, "\n  %s: got %zu bytes '%.*s', want %zu bytes '%s'\n", what, len,
			(int)len, out, wantlen, want);
	CU_ASSERT_EQUAL(len, wantlen);
	CU_ASSERT(len == wantlen && memcmp(out, want, len) == 0);
	free(out);
}

static void test_argv_hostile(void)
{
	/* sh prints "$1" verbatim: proves the value is one argv entry, unaltered */
	const char *words[] = {"/bin/sh", "-c", "printf %s \"$1\"", "sh", "{v}"};
	const char *words2[] = {"pre{v}post", "{v}{v}"};
	size_t i;

	unlink(PWNED);
	for (i = 0; i < NHOSTILE; i++) {
		const char *cell[] = {hostile[i]};
		pd_table t = one_value_table(cell);
		pd_template *tp = compile_ok(words, 5, &t, 0);
		pd_template *tp2 = compile_ok(words2, 2, &t, 0);
		char **av = NULL;
		size_t ac = 0, vlen = strlen(hostile[i]);
		char *cat;

		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &t, 0, &av, &ac), 0);
		CU_ASSERT_EQUAL(ac, 5);
		CU_ASSERT_STRING_EQUAL(av[4], hostile[i]);
		CU_ASSERT_PTR_NULL(av[5]);
		check_run(av, hostile[i], vlen, "argv mode");
		free(av);

		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp2, &t, 0, &av, &ac), 0);
		CU_ASSERT_EQUAL(ac, 2);
		cat = malloc(2 * vlen + 8);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
		sprintf(cat, "pre%spost", hostile[i]);
		CU_ASSERT_STRING_EQUAL(av[0], cat);
		sprintf(cat, "%s%s", hostile[i], hostile[i]);
		CU_ASSERT_STRING_EQUAL(av[1], cat);
		free(cat);
		free(av);
		pd_template_free(tp);
		pd_template_free(tp2);
	}
	CU_ASSERT(access(PWNED, F_OK) != 0);
}

static void test_shell_expand_shape(void)
{
	/* values are never in the script: it refers to them as parameters */
	const char *words[] = {"echo {alpha} '{beta}' \"{alpha}\" {#} > out_{#}.txt"};
	const char *want[] = {"/bin/sh", "-c",
			      "echo \"${1}\" ''\"${2}\"'' \"${1}\" 2 > out_2.txt", "/bin/sh",
			      "a1", "b1"};
	const char *words2[] = {"echo {#} > out_{#}.txt"};
	const char *want2[] = {"/bin/sh", "-c", "echo 2 > out_2.txt"};
	pd_template *tp = compile_ok(words, 1, &grid, 1);
	pd_template *tp2 = compile_ok(words2, 1, &grid, 1);

	expect_argv(tp, &grid, 1, want, 6);
	expect_argv(tp2, &grid, 1, want2, 3);
	pd_template_free(tp);
	pd_template_free(tp2);
}

/* Every script prints the value once, exactly (the here-document adds a
 * line end, the comment and the parameter default none). */
static const struct {
	const char *script;
	const char *before, *after; /* printed around the value */
} placements[] = {
	{"printf %s {v}", "", ""},
	{"printf %s \"<\"{v}'>'", "<", ">"},
	{"printf %s \"{v}\"", "", ""},
	{"printf %s '{v}'", "", ""},
	{"printf %s \"a{v}b\" | tr -d ab", "", ""},
	{"x={v}; printf %s \"$x\"", "", ""},
	{"x=\"{v}\"; printf %s \"$x\"", "", ""},
	{"cat <<EOF\n{v}\nEOF", "", "\n"},
	{"cat <<-\"E\"OF; cat <<X\n\tignored\n\tEOF\n{v}\nX", "ignored\n", "\n"},
	{"x=`printf %s {v}; echo .`; printf %s \"${x%.}\"", "", ""},
	{"x=\"$(printf %s \"{v}\"; echo .)\"; printf %s \"${x%.}\"", "", ""},
	{"x=$(printf %s '{v}'; echo .); printf %s \"${x%.}\"", "", ""},
	{"printf %s \"${UNSET_HERE:-{v}}\"", "", ""},
	{"printf %s {v} # {v} ' \" `", "", ""},
	{"printf %s \"$#\" >/dev/null; printf %s {v}", "", ""},
	{"printf %s $${v} | sed 's/^[0-9]*//'", "", ""},
	{"echo '#'\"'\" >/dev/null; printf %s \"{v}\"", "", ""},
};

static void test_shell_placements_run(void)
{
	size_t i, j, vlen, alen;
	char *want;

	unlink(PWNED);
	for (j = 0; j < sizeof(placements) / sizeof(placements[0]); j++) {
		for (i = 0; i < NHOSTILE; i++) {
			const char *cell[] = {hostile[i]};
			const char *words[] = {placements[j].script};
			pd_table t = one_value_table(cell);
			pd_template *tp = compile_ok(words, 1, &t, 1);
			char **av = NULL;
			size_t ac = 0;

			if (!tp)
				break;
			/* tr -d ab and sed eat their letters: values without them */
			if (strchr(placements[j].script, '|') &&
			    strpbrk(hostile[i], "ab0123456789\n")) {
				pd_template_free(tp);
				continue;
			}
			vlen = strlen(hostile[i]);
			want = malloc(vlen + strlen(placements[j].before) +
				      strlen(placements[j].after) + 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(want);
			sprintf(want, "%s", placements[j].before);
			alen = strlen(want);
			memcpy(want + alen, hostile[i], vlen);
			strcpy(want + alen + vlen, placements[j].after);
			alen += strlen(placements[j].after);
			CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &t, 0, &av, &ac), 0);
			check_run(av, want, vlen + alen, placements[j].script);
			free(av);
			free(want);
			pd_template_free(tp);
		}
	}
	CU_ASSERT(access(PWNED, F_OK) != 0);
}

/* Where no reference is both safe and exact, compiling refuses and shows
 * the safe form. */
static void test_shell_refused(void)
{
	static const struct {
		const char *script;
		const char *msg;
	} bad[] = {
		{"printf %s $'\\t{v}'", "the script has {v} inside $'...', which dash does not know "
		 "and where no reference to it is exact: put it outside $'...', e.g. $'\\t'\"{v}\""},
		{"echo \"`echo {v}`\"", "the script has {v} in backquotes inside double quotes, "
		 "where no reference to it is exact: write $(...) instead, e.g. \"$(echo {v})\""},
		{"echo $(( {v} + 1 ))", "the script has {v} inside $((...)), where a shell may run "
		 "a value as code: assign it and check it first, e.g. n={v}; case $n in "
		 "''|*[!0-9]*) exit 1;; esac; echo $((n + 1))"},
		{"cat <<'END'\n{v}\nEND", "the script has {v} in a here-document with a quoted "
		 "delimiter, where nothing expands: write <<END instead"},
		{"cat <<\\END\n{v}\nEND", "the script has {v} in a here-document with a quoted "
		 "delimiter, where nothing expands: write <<END instead"},
		{"cat <<E{v}\nx\nE", "the script has {v} in a here-document's delimiter: use a "
		 "fixed word, e.g. <<EOF"},
		{"echo ${v}", "the script has '${v}': {v} is the value itself; write {v}, or "
		 "${{v}} for the shell variable"},
		{"echo \\{v}", "the script has '\\{v}': a backslash before a placeholder; write "
		 "{v} for the value, or {{v}} for the text {v}"},
		{"echo \"\\{v}\"", "the script has '\\{v}': a backslash before a placeholder; "
		 "write {v} for the value, or {{v}} for the text {v}"},
		/* found by fuzz_template: the escape inside $'...' skipped the
		 * placeholder, which then had no form (and was pasted) */
		{"echo $'a \\{v}'", "the script has '\\{v}': a backslash before a placeholder; "
		 "write {v} for the value, or {{v}} for the text {v}"},
	};
	const char *cell[] = {"x"};
	pd_table t = one_value_table(cell);
	const char *sh_c[] = {"bash", "-c", "echo $'{v}'"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *words[] = {bad[i].script};
		char msg[512];
		/* messages name the placeholder as written */
		snprintf(msg, sizeof(msg), "%s", bad[i].msg);
		expect_error(words, 1, &t, 1, msg);
	}
	/* the same scanner reads the script of an argv `sh -c` */
	expect_error(sh_c, 3, &t, 0, "the script has {v} inside $'...', which dash does not "
		     "know and where no reference to it is exact: put it outside $'...', e.g. "
		     "$'\\t'\"{v}\"");
}

/* An argv template whose program is a shell with -c gets the same
 * treatment for its script; its own arguments keep their numbers. */
static void test_argv_shell_c(void)
{
	const char *a[] = {"sh", "-c", "printf %s \"{v}\""};
	const char *want_a[] = {"sh", "-c", "printf %s \"${1}\"", "sh", "x y"};
	const char *b[] = {"/bin/bash", "-o", "pipefail", "-euc", "printf %s '{v}'", "name",
			   "{v}", "arg2"};
	const char *want_b[] = {"/bin/bash", "-o", "pipefail", "-euc",
				"printf %s ''\"${3}\"''", "name", "x y", "arg2", "x y"};
	const char *c[] = {"sh", "-e", "script.sh", "{v}"}; /* no -c: a file */
	const char *want_c[] = {"sh", "-e", "script.sh", "x y"};
	const char *d[] = {"python3", "-c", "print('{v}')"}; /* not a shell */
	const char *want_d[] = {"python3", "-c", "print('x y')"};
	const char *e[] = {"sh", "-c", "echo {#}"}; /* no values: unchanged */
	const char *want_e[] = {"sh", "-c", "echo 1"};
	/* the script is the value itself (parade serve's command column) */
	const char *f[] = {"sh", "-c", "{v}"};
	const char *want_f[] = {"sh", "-c", "x y"};
	const char *cell[] = {"x y"};
	pd_table t = one_value_table(cell);
	pd_template *tp;
	char **av = NULL;
	size_t ac = 0;

	tp = compile_ok(a, 3, &t, 0);
	expect_argv(tp, &t, 0, want_a, 5);
	/* the coproc line stays the words joined, values as they are */
	CU_ASSERT_EQUAL_FATAL(pd_template_line(tp, &t, 0, 0, &av, &ac), 0);
	CU_ASSERT_STRING_EQUAL(av[0], "sh -c printf %s \"x y\"");
	free(av);
	pd_template_free(tp);
	tp = compile_ok(b, 8, &t, 0);
	expect_argv(tp, &t, 0, want_b, 9);
	pd_template_free(tp);
	tp = compile_ok(c, 4, &t, 0);
	expect_argv(tp, &t, 0, want_c, 4);
	pd_template_free(tp);
	tp = compile_ok(d, 3, &t, 0);
	expect_argv(tp, &t, 0, want_d, 3);
	pd_template_free(tp);
	tp = compile_ok(e, 3, &t, 0);
	expect_argv(tp, &t, 0, want_e, 3);
	pd_template_free(tp);
	tp = compile_ok(f, 3, &t, 0);
	expect_argv(tp, &t, 0, want_f, 3);
	pd_template_free(tp);

	unlink(PWNED);
	for (size_t i = 0; i < NHOSTILE; i++) {
		const char *hc[] = {hostile[i]};
		const char *w[] = {"/bin/sh", "-c", "printf %s \"{v}\"'{v}'"};
		pd_table ht = one_value_table(hc);
		size_t vlen = strlen(hostile[i]);
		char *want = malloc(2 * vlen + 1);

		CU_ASSERT_PTR_NOT_NULL_FATAL(want);
		memcpy(want, hostile[i], vlen);
		memcpy(want + vlen, hostile[i], vlen);
		tp = compile_ok(w, 3, &ht, 0);
		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &ht, 0, &av, &ac), 0);
		check_run(av, want, 2 * vlen, "sh -c");
		free(av);
		free(want);
		pd_template_free(tp);
	}
	CU_ASSERT(access(PWNED, F_OK) != 0);
}

/* bash's options that take a word (--rcfile FILE, -O OPT) and a lone
 * '-' that ends the options are stepped over, so the script is found and
 * its values become parameters; a shell command whose script cannot be
 * told with certainty is refused when its words hold values. */
static void test_argv_shell_options(void)
{
	static const struct {
		const char *w[8];
		size_t n;
	} ok[] = {
		{{"/bin/bash", "--rcfile", "/dev/null", "-c", "printf %s {v}"}, 5},
		{{"/bin/bash", "--init-file", "/dev/null", "--norc", "-c", "printf %s {v}"}, 6},
		{{"/bin/bash", "-O", "extglob", "+O", "nullglob", "-c", "printf %s {v}"}, 7},
		{{"/bin/bash", "-eo", "pipefail", "-c", "printf %s {v}"}, 5},
		{{"/bin/bash", "-c", "-", "printf %s {v}"}, 4},
		{{"/bin/sh", "-c", "--", "printf %s {v}"}, 4},
	};
	static const struct {
		const char *w[6];
		size_t n;
		const char *msg;
	} bad[] = {
		{{"bash", "--frobnicate", "x", "-c", "printf %s {v}"}, 5,
		 "cannot tell which word of this shell command is the script (bash: unknown "
		 "option '--frobnicate'): use --shell or put -c SCRIPT first"},
		{{"zsh", "--emulate", "sh", "-c", "echo {v}"}, 5,
		 "cannot tell which word of this shell command is the script (zsh: unknown "
		 "option '--emulate'): use --shell or put -c SCRIPT first"},
		{{"mksh", "-T", "-", "-c", "echo {v}"}, 5,
		 "cannot tell which word of this shell command is the script (mksh: unknown "
		 "option '-T'): use --shell or put -c SCRIPT first"},
	};
	/* no values after the unknown option: nothing to protect */
	const char *plain[] = {"bash", "--frobnicate", "-c", "echo {#}"};
	const char *want_plain[] = {"bash", "--frobnicate", "-c", "echo 1"};
	size_t i, k;
	pd_template *tp;
	char **av = NULL;
	size_t ac = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *cell[] = {"x"};
		pd_table t = one_value_table(cell);
		expect_error(bad[i].w, bad[i].n, &t, 0, bad[i].msg);
	}
	{
		const char *cell[] = {"x"};
		pd_table t = one_value_table(cell);
		tp = compile_ok(plain, 4, &t, 0);
		expect_argv(tp, &t, 0, want_plain, 4);
		pd_template_free(tp);
	}
	unlink(PWNED);
	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		for (i = 0; i < NHOSTILE; i++) {
			const char *cell[] = {hostile[i]};
			pd_table t = one_value_table(cell);

			tp = compile_ok(ok[k].w, ok[k].n, &t, 0);
			if (!tp)
				continue;
			CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &t, 0, &av, &ac), 0);
			/* the value is never pasted into the script */
			CU_ASSERT_STRING_EQUAL(av[ok[k].n - 1], "printf %s \"${1}\"");
			check_run(av, hostile[i], strlen(hostile[i]), ok[k].w[1]);
			free(av);
			pd_template_free(tp);
		}
	}
	CU_ASSERT(access(PWNED, F_OK) != 0);
}

static void test_shell_hostile_run(void)
{
	const char *words[] = {"printf %s {v}"};
	const char *words2[] = {"printf %s \"<\"{v}'>'"};
	const char *words3[] = {"x={v}; printf %s \"$x\""};
	size_t i;

	unlink(PWNED);
	for (i = 0; i < NHOSTILE; i++) {
		const char *cell[] = {hostile[i]};
		pd_table t = one_value_table(cell);
		size_t vlen = strlen(hostile[i]);
		pd_template *tp = compile_ok(words, 1, &t, 1);
		pd_template *tp2 = compile_ok(words2, 1, &t, 1);
		pd_template *tp3 = compile_ok(words3, 1, &t, 1);
		char **av = NULL;
		size_t ac = 0;
		char *wrapped;

		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &t, 0, &av, &ac), 0);
		CU_ASSERT_EQUAL(ac, 5);
		CU_ASSERT_STRING_EQUAL(av[0], "/bin/sh");
		CU_ASSERT_STRING_EQUAL(av[1], "-c");
		CU_ASSERT_STRING_EQUAL(av[2], "printf %s \"${1}\"");
		CU_ASSERT_STRING_EQUAL(av[3], "/bin/sh");
		CU_ASSERT_STRING_EQUAL(av[4], hostile[i]);
		CU_ASSERT_PTR_NULL(av[5]);
		check_run(av, hostile[i], vlen, "shell mode");
		free(av);

		wrapped = malloc(vlen + 3);
		CU_ASSERT_PTR_NOT_NULL_FATAL(wrapped);
		sprintf(wrapped, "<%s>", hostile[i]);
		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp2, &t, 0, &av, &ac), 0);
		check_run(av, wrapped, vlen + 2, "shell mode, mid-word");
		free(av);
		free(wrapped);

		CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp3, &t, 0, &av, &ac), 0);
		check_run(av, hostile[i], vlen, "shell mode, assignment");
		free(av);

		pd_template_free(tp);
		pd_template_free(tp2);
		pd_template_free(tp3);
	}
	CU_ASSERT(access(PWNED, F_OK) != 0);
}

static void test_shell_stdin_run(void)
{
	const char *words[] = {"printf '%s|' {} {#}"};
	pd_template *tp = compile_ok(words, 1, &stdin_tab, 1);
	char **av = NULL;
	size_t ac = 0;
	const char *want = "second 'line' $x|2|";

	CU_ASSERT_EQUAL_FATAL(pd_template_expand(tp, &stdin_tab, 1, &av, &ac), 0);
	check_run(av, want, strlen(want), "shell stdin");
	free(av);
	pd_template_free(tp);
}

static void check_quote(const char *in, size_t len, const char *want)
{
	pd_buf b = {0};

	CU_ASSERT_EQUAL(pd_shell_quote(&b, in, len), 0);
	CU_ASSERT_EQUAL(pd_buf_size(&b), strlen(want));
	CU_ASSERT(pd_buf_size(&b) == strlen(want) &&
		  memcmp(pd_buf_head(&b), want, strlen(want)) == 0);
	pd_buf_free(&b);
}

static void test_shell_quote(void)
{
	pd_buf b = {0};

	check_quote("it's", 4, "'it'\\''s'");
	check_quote("'", 1, "''\\'''");
	check_quote("''", 2, "''\\'''\\'''");
	check_quote("", 0, "''");
	check_quote("a b$c", 5, "'a b$c'");
	/* len, not NUL, ends the input */
	check_quote("abc'def", 3, "'abc'");

	/* appends after existing content */
	CU_ASSERT_EQUAL(pd_buf_append(&b, "x=", 2), 0);
	CU_ASSERT_EQUAL(pd_shell_quote(&b, "don't", 5), 0);
	CU_ASSERT_EQUAL(pd_buf_size(&b), 2 + 10);
	CU_ASSERT(memcmp(pd_buf_head(&b), "x='don'\\''t'", 12) == 0);
	pd_buf_free(&b);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"literal words", test_literal_words},
		{"column in the middle of a word", test_column_mid_word},
		{"several placeholders per word", test_several_per_word},
		{"row number", test_row_number},
		{"row number large", test_row_number_large},
		{"stdin whole line", test_stdin_line},
		{"brace escapes", test_brace_escapes},
		{"lone brace kept", test_lone_brace},
		{"unknown column", test_unknown_column},
		{"{} misuse", test_whole_line_misuse},
		{"error truncation", test_error_truncation},
		{"bad word counts", test_bad_word_counts},
		{"argv mode hostile values", test_argv_hostile},
		{"shell expand shape", test_shell_expand_shape},
		{"shell mode hostile values run", test_shell_hostile_run},
		{"shell mode: every placement runs exactly", test_shell_placements_run},
		{"shell mode: unsafe placements refused", test_shell_refused},
		{"argv sh -c: the script's values as parameters", test_argv_shell_c},
		{"argv shell options: the script found or refused", test_argv_shell_options},
		{"shell mode stdin run", test_shell_stdin_run},
		{"pd_shell_quote", test_shell_quote},
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("template", NULL, NULL);
	if (!s)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
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
