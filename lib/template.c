#include "template.h"

#include "agent_cmd.h"
#include "json.h"
#include "log.h"
#include "template_sh.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PC_LIT, PC_COL, PC_ROW };

/* PC_LIT: lit[a, a + n); PC_COL: column a ("{}" is column 0 of stdin).
 * A PC_COL in a script (form >= 0) stands for positional parameter n,
 * written in that form (enum pd_sh_form). */
struct piece {
	int kind;
	int form; /* -1: the value's bytes themselves */
	size_t a;
	size_t n;
};

struct pd_template {
	int shell;
	int uses_row;
	int uses_col;
	size_t nwords;
	size_t *wstart; /* nwords + 1: word w is pieces[wstart[w], wstart[w+1]) */
	struct piece *pieces;
	char *lit;
	/* a script that refers to values: argv gets [dollar0] then the values
	 * of columns poscol[0, npos) as positional parameters posbase... */
	size_t npos, posbase;
	size_t *poscol;
	char *dollar0; /* NULL: the script has arguments after it already */
};

/* Appends the header as "a, b, c" to err (already NUL-terminated). */
static void append_columns(char *err, size_t errlen, const pd_table *t)
{
	size_t used, i;
	int n;

	if (!err || !errlen)
		return;
	used = strlen(err);
	for (i = 0; i < t->ncols && used + 1 < errlen; i++) {
		n = snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", t->header[i]);
		if (n < 0 || (size_t)n >= errlen - used)
			return;
		used += n;
	}
}

static int is_stdin_table(const pd_table *t)
{
	return t && t->ncols == 1 && t->header[0][0] == '\0';
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

struct compiler {
	struct pd_template *tp;
	size_t np;   /* pieces emitted */
	size_t nlit; /* literal bytes emitted */
	size_t wfirst; /* first piece of the current word */
};

static void emit_lit(struct compiler *c, const char *s, size_t n)
{
	struct piece *last = c->np > c->wfirst ? &c->tp->pieces[c->np - 1] : NULL;

	/* literals are appended in order, so a trailing literal piece can grow */
	if (!last || last->kind != PC_LIT) {
		last = &c->tp->pieces[c->np++];
		last->kind = PC_LIT;
		last->form = -1;
		last->a = c->nlit;
		last->n = 0;
	}
	memcpy(c->tp->lit + c->nlit, s, n);
	c->nlit += n;
	last->n += n;
}

static void emit(struct compiler *c, int kind, size_t a)
{
	struct piece *p = &c->tp->pieces[c->np++];

	p->kind = kind;
	p->form = -1;
	p->a = a;
	p->n = 0;
}

static int resolve(const pd_table *t, const char *name, size_t len, size_t *col, char *err,
		   size_t errlen)
{
	size_t i;

	if (!t) {
		pd_seterr(err, errlen, "template names column '%.*s' but there is no input", (int)len,
		       name);
		return -EINVAL;
	}
	if (is_stdin_table(t)) {
		pd_seterr(err, errlen,
		       "template names column '%.*s' but input comes from stdin; use {}",
		       (int)len, name);
		return -EINVAL;
	}
	for (i = 0; i < t->ncols; i++) {
		if (strlen(t->header[i]) == len && memcmp(t->header[i], name, len) == 0) {
			*col = i;
			return 0;
		}
	}
	pd_seterr(err, errlen, "template names column '%.*s', grid has: ", (int)len, name);
	append_columns(err, errlen, t);
	return -EINVAL;
}

static void whole_line_error(const pd_table *t, char *err, size_t errlen)
{
	size_t used;

	if (!t) {
		pd_seterr(err, errlen, "template uses {} but there is no input");
		return;
	}
	pd_seterr(err, errlen, "template uses {} but input is a grid with columns: ");
	append_columns(err, errlen, t);
	if (!err || !errlen)
		return;
	used = strlen(err);
	snprintf(err + used, errlen - used, "; use {column}");
}

static int compile_word(struct compiler *c, const char *w, const pd_table *t, char *err,
			size_t errlen)
{
	size_t i = 0, j, col;
	int rv;

	while (w[i]) {
		if (w[i] == '{' && w[i + 1] == '{') {
			emit_lit(c, "{", 1);
			i += 2;
		} else if (w[i] == '}' && w[i + 1] == '}') {
			emit_lit(c, "}", 1);
			i += 2;
		} else if (w[i] == '{' && w[i + 1] == '}') {
			if (!is_stdin_table(t)) {
				whole_line_error(t, err, errlen);
				return -EINVAL;
			}
			emit(c, PC_COL, 0);
			c->tp->uses_col = 1;
			i += 2;
		} else if (w[i] == '{' && w[i + 1] == '#' && w[i + 2] == '}') {
			emit(c, PC_ROW, 0);
			c->tp->uses_row = 1;
			i += 3;
		} else if (w[i] == '{') {
			for (j = i + 1; is_name_char(w[j]); j++)
				;
			if (j > i + 1 && w[j] == '}') {
				rv = resolve(t, w + i + 1, j - i - 1, &col, err, errlen);
				if (rv < 0)
					return rv;
				emit(c, PC_COL, col);
				c->tp->uses_col = 1;
				i = j + 1;
			} else {
				emit_lit(c, "{", 1);
				i++;
			}
		} else {
			/* w[i] may be a lone '}', which is literal too */
			for (j = i + 1; w[j] && w[j] != '{' && w[j] != '}'; j++)
				;
			emit_lit(c, w + i, j - i);
			i = j;
		}
	}
	return 0;
}

enum { SW_NONE = -1, SW_UNSURE = -2 };

/* argv mode: the index of the script when the program is a POSIX-like
 * shell given -c (sh -c, bash -euc, dash -o errexit -c, bash --rcfile F
 * -c), SW_NONE when it certainly has none (sh -e file.sh ARGS: the words
 * after the file are its arguments), SW_UNSURE when an option it does not
 * know hides which word is the script; *unknown is then that option. The
 * options are read as the shells read them: a cluster of letters, each of
 * o and O taking the next word, a lone '-' or '--' ending the options. */
static long shell_script_word(const char *const *words, size_t nwords, const char **unknown)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ash", "ksh", "mksh",
					     "zsh", "yash", "posh", "busybox-sh"};
	/* bash's long options; every other shell's are unknown */
	static const char *const long_flags[] = {
		"--norc",	     "--noprofile", "--login",	   "--posix",	  "--verbose",
		"--restricted",	     "--noediting", "--debugger",  "--help",	  "--version",
		"--dump-strings", "--dump-po-strings", "--protected", "--wordexp"};
	static const char *const long_args[] = {"--rcfile", "--init-file"};
	/* POSIX sh's and bash's one-letter options that take no word */
	static const char letters[] = "abcefhiklmnprstuvxBCEHP";
	const char *base = strrchr(words[0], '/');
	int known = 0, cflag = 0;
	size_t w, i;

	*unknown = NULL;
	base = base ? base + 1 : words[0];
	for (i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		known |= !strcmp(base, shells[i]);
	if (!known)
		return SW_NONE;
	for (w = 1; w < nwords; w++) {
		const char *o = words[w];
		size_t take = 0;
		if (o[0] != '-' && o[0] != '+')
			break;
		if (!strcmp(o, "--") || !strcmp(o, "-")) {
			w++;
			break;
		}
		if (o[0] == '-' && o[1] == '-') {
			int flag = 0, arg = 0;
			for (i = 0; i < sizeof(long_flags) / sizeof(long_flags[0]); i++)
				flag |= !strcmp(o, long_flags[i]);
			for (i = 0; i < sizeof(long_args) / sizeof(long_args[0]); i++)
				arg |= !strcmp(o, long_args[i]);
			if (strcmp(base, "bash") != 0 || (!flag && !arg)) {
				*unknown = o;
				return SW_UNSURE;
			}
			w += arg;
			continue;
		}
		if (!o[1]) /* a lone '+' */
			break;
		for (i = 1; o[i]; i++) {
			if (o[i] == 'o' || o[i] == 'O') {
				take++;
			} else if (!strchr(letters, o[i])) {
				*unknown = o;
				return SW_UNSURE;
			}
		}
		if (o[0] == '-' && strchr(o, 'c'))
			cflag = 1;
		w += take; /* -o OPTION, -eo OPTION, -O SHOPT */
	}
	if (w > nwords)
		w = nwords;
	return cflag && w < nwords ? (long)w : SW_NONE;
}

/* Whether a word from first on holds a column's value. */
static int values_from(const struct pd_template *tp, size_t first)
{
	size_t i;

	for (i = tp->wstart[first]; i < tp->wstart[tp->nwords]; i++)
		if (tp->pieces[i].kind == PC_COL)
			return 1;
	return 0;
}

/* Chooses how the script word sw refers to each value (template_sh.h)
 * and numbers the columns it names as positional parameters. */
static int compile_script(struct pd_template *tp, size_t sw, const char *dollar0, size_t after,
			  const pd_table *t, char *err, size_t errlen)
{
	size_t a = tp->wstart[sw], b = tp->wstart[sw + 1], len = 0, nph = 0, k, i, j;
	char *skel = NULL, **names = NULL;
	unsigned char *slot = NULL;
	int *forms = NULL, rv = -ENOMEM;

	for (i = a; i < b; i++) {
		len += tp->pieces[i].kind == PC_LIT ? tp->pieces[i].n : 1;
		nph += tp->pieces[i].kind != PC_LIT;
	}
	skel = malloc(len + 1);
	slot = malloc(len + 1);
	names = calloc(nph + 1, sizeof(*names));
	forms = malloc((nph + 1) * sizeof(*forms));
	tp->poscol = malloc((nph + 1) * sizeof(*tp->poscol));
	if (!skel || !slot || !names || !forms || !tp->poscol)
		goto out;
	len = nph = 0;
	for (i = a; i < b; i++) {
		const struct piece *p = &tp->pieces[i];
		const char *name;
		if (p->kind == PC_LIT) {
			memcpy(skel + len, tp->lit + p->a, p->n);
			memset(slot + len, PD_SLOT_TEXT, p->n);
			len += p->n;
			continue;
		}
		name = p->kind == PC_ROW ? "#" : t->header[p->a];
		if (!(names[nph] = malloc(strlen(name) + 3)))
			goto out;
		sprintf(names[nph++], "{%s}", name);
		skel[len] = p->kind == PC_ROW ? '1' : 'x';
		slot[len++] = p->kind == PC_ROW ? PD_SLOT_ROW : PD_SLOT_VALUE;
	}
	rv = pd_sh_forms(skel, len, slot, (const char *const *)names, forms, err, errlen);
	if (rv < 0)
		goto out;
	/* one parameter per column, however often the script names it */
	tp->posbase = after ? after : 1;
	for (i = a, k = 0; i < b; i++) {
		struct piece *p = &tp->pieces[i];
		if (p->kind != PC_COL)
			continue;
		for (j = 0; j < tp->npos && tp->poscol[j] != p->a; j++)
			;
		if (j == tp->npos)
			tp->poscol[tp->npos++] = p->a;
		p->form = forms[k++];
		p->n = tp->posbase + j;
	}
	if (!after && !(tp->dollar0 = strdup(dollar0))) {
		rv = -ENOMEM;
		goto out;
	}
	rv = 0;
out:
	for (i = 0; names && i < nph; i++)
		free(names[i]);
	free(names);
	free(forms);
	free(slot);
	free(skel);
	return rv;
}

int pd_template_compile(const char *const *words, size_t nwords, const pd_table *t, int shell,
			pd_template **out, char *err, size_t errlen)
{
	struct compiler c = {0};
	struct pd_template *tp;
	const char *unknown = NULL;
	size_t total = 0, w;
	long sw;
	int rv;

	*out = NULL;
	if (nwords == 0) {
		pd_seterr(err, errlen, "empty command template");
		return -EINVAL;
	}
	if (shell && nwords != 1) {
		pd_seterr(err, errlen,
		       "shell mode takes exactly one word (the script), got %zu", nwords);
		return -EINVAL;
	}
	for (w = 0; w < nwords; w++)
		total += strlen(words[w]);

	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	tp->shell = shell;
	tp->nwords = nwords;
	/* every piece consumes at least one template byte */
	tp->wstart = malloc((nwords + 1) * sizeof(*tp->wstart));
	tp->pieces = malloc((total ? total : 1) * sizeof(*tp->pieces));
	tp->lit = malloc(total ? total : 1);
	if (!tp->wstart || !tp->pieces || !tp->lit) {
		pd_template_free(tp);
		return -ENOMEM;
	}
	c.tp = tp;
	for (w = 0; w < nwords; w++) {
		tp->wstart[w] = c.np;
		c.wfirst = c.np;
		rv = compile_word(&c, words[w], t, err, errlen);
		if (rv < 0) {
			pd_template_free(tp);
			return rv;
		}
	}
	tp->wstart[nwords] = c.np;
	/* a script that names columns gets their values as parameters; an
	 * argv script that is one placeholder alone (sh -c {command}, what
	 * `parade serve` runs) says the value is the script */
	sw = shell ? 0 : shell_script_word(words, nwords, &unknown);
	if (sw == SW_UNSURE && values_from(tp, 1)) {
		/* a value pasted into a word that the shell may run as its
		 * script would be shell code: fail closed */
		const char *base = strrchr(words[0], '/');
		pd_seterr(err, errlen,
			  "cannot tell which word of this shell command is the script (%s: "
			  "unknown option '%s'): use --shell or put -c SCRIPT first",
			  base ? base + 1 : words[0], unknown);
		pd_template_free(tp);
		return -EINVAL;
	}
	if (sw > 0 && tp->wstart[sw + 1] - tp->wstart[sw] == 1 &&
	    tp->pieces[tp->wstart[sw]].kind == PC_COL)
		sw = -1;
	for (w = sw >= 0 ? tp->wstart[sw] : 0; sw >= 0 && w < tp->wstart[sw + 1]; w++) {
		if (tp->pieces[w].kind != PC_COL)
			continue;
		rv = compile_script(tp, (size_t)sw, shell ? "/bin/sh" : words[0],
				    shell ? 0 : nwords - (size_t)sw - 1, t, err, errlen);
		if (rv < 0) {
			pd_template_free(tp);
			return rv;
		}
		break;
	}
	*out = tp;
	return 0;
}

void pd_template_free(pd_template *tp)
{
	if (!tp)
		return;
	free(tp->wstart);
	free(tp->pieces);
	free(tp->lit);
	free(tp->poscol);
	free(tp->dollar0);
	free(tp);
}

int pd_shell_quote(pd_buf *out, const char *s, size_t len)
{
	/* one quoting rule for the whole tree: the agent's command lines use it too */
	return pd_agent_cmd_quote(out, s, len);
}

/* Bytes piece p expands to (its value, not its reference). */
static const char *piece_value(const struct pd_template *tp, const struct piece *p,
			       const pd_table *t, size_t row, const char *num, size_t *len)
{
	const char *v;

	switch (p->kind) {
	case PC_LIT:
		*len = p->n;
		return tp->lit + p->a;
	case PC_ROW:
		*len = strlen(num);
		return num;
	default:
		v = pd_table_cell(t, row, p->a);
		*len = strlen(v);
		return v;
	}
}

/* The text a script holds for a value: a reference to its parameter. */
static size_t reference(const struct piece *p, char *buf, size_t len)
{
	static const char *const fmt[] = {"\"${%zu}\"", "${%zu}", "'\"${%zu}\"'"};
	int n = snprintf(buf, len, fmt[p->form], p->n);

	return n > 0 ? (size_t)n : 0;
}

/* raw: values as they are even in a script (the coproc line). */
static size_t word_len(const struct pd_template *tp, size_t w, const pd_table *t, size_t row,
		       const char *num, int raw)
{
	size_t i, n = 0, len;
	char ref[48];

	for (i = tp->wstart[w]; i < tp->wstart[w + 1]; i++) {
		/* {#} is only digits: left bare, $(({#} + 1)) works */
		if (!raw && tp->pieces[i].form >= 0)
			n += reference(&tp->pieces[i], ref, sizeof(ref));
		else
			n += (piece_value(tp, &tp->pieces[i], t, row, num, &len), len);
	}
	return n;
}

static char *word_write(const struct pd_template *tp, size_t w, const pd_table *t, size_t row,
			const char *num, int raw, char *d)
{
	size_t i, len;
	const char *v;
	char ref[48];

	for (i = tp->wstart[w]; i < tp->wstart[w + 1]; i++) {
		if (!raw && tp->pieces[i].form >= 0) {
			len = reference(&tp->pieces[i], ref, sizeof(ref));
			v = ref;
		} else {
			v = piece_value(tp, &tp->pieces[i], t, row, num, &len);
		}
		memcpy(d, v, len);
		d += len;
	}
	*d++ = '\0';
	return d;
}

static int expand(const pd_template *tp, const pd_table *t, size_t row, int raw, char ***argv,
		  size_t *argc)
{
	static const char sh_prefix[] = "/bin/sh\0-c";
	char num[24] = "";
	size_t n, size, w, base, k;
	char **av, *d;
	const char *v;
	int params = !raw && tp->npos;

	*argv = NULL;
	*argc = 0;
	if (tp->uses_col && (!t || row >= t->nrows))
		return -EINVAL;
	if (tp->uses_row)
		snprintf(num, sizeof(num), "%zu", row + 1);

	base = tp->shell ? 3 : tp->nwords;
	n = base + (params ? tp->npos + (tp->dollar0 != NULL) : 0);
	size = (n + 1) * sizeof(char *);
	if (tp->shell)
		size += sizeof(sh_prefix);
	for (w = 0; w < tp->nwords; w++)
		size += word_len(tp, w, t, row, num, raw) + 1;
	if (params && tp->dollar0)
		size += strlen(tp->dollar0) + 1;
	for (k = 0; params && k < tp->npos; k++)
		size += strlen(pd_table_cell(t, row, tp->poscol[k])) + 1;

	av = malloc(size);
	if (!av)
		return -ENOMEM;
	d = (char *)(av + n + 1);
	if (tp->shell) {
		memcpy(d, sh_prefix, sizeof(sh_prefix));
		av[0] = d;
		av[1] = d + strlen("/bin/sh") + 1;
		d += sizeof(sh_prefix);
		av[2] = d;
		d = word_write(tp, 0, t, row, num, raw, d);
	} else {
		for (w = 0; w < tp->nwords; w++) {
			av[w] = d;
			d = word_write(tp, w, t, row, num, raw, d);
		}
	}
	for (k = base; params && k < n; k++) {
		if (tp->dollar0 && k == base)
			v = tp->dollar0;
		else
			v = pd_table_cell(t, row, tp->poscol[k - base - (tp->dollar0 != NULL)]);
		av[k] = d;
		memcpy(d, v, strlen(v) + 1);
		d += strlen(v) + 1;
	}
	av[n] = NULL;
	*argv = av;
	*argc = n;
	return 0;
}

int pd_template_expand(const pd_template *tp, const pd_table *t, size_t row, char ***argv,
		       size_t *argc)
{
	return expand(tp, t, row, 0, argv, argc);
}

/* Moves the bytes of b into a {line, NULL} block. */
static int line_block(const pd_buf *b, char ***argv, size_t *argc)
{
	size_t n = pd_buf_size(b);
	char **av = malloc(2 * sizeof(char *) + n + 1);

	if (!av)
		return -ENOMEM;
	av[0] = (char *)(av + 2);
	if (n)
		memcpy(av[0], pd_buf_head(b), n);
	av[0][n] = '\0';
	av[1] = NULL;
	*argv = av;
	*argc = 1;
	return 0;
}

int pd_template_line(const pd_template *tp, const pd_table *t, size_t row, int json,
		     char ***argv, size_t *argc)
{
	pd_buf b = {0};
	char **words = NULL;
	size_t nwords = 0;
	int rv = 0;

	*argv = NULL;
	*argc = 0;
	if (json) {
		pd_jw w;

		if (!t || row >= t->nrows)
			return -EINVAL;
		pd_jw_init(&w, &b);
		pd_jw_obj_begin(&w);
		for (size_t c = 0; c < t->ncols; c++) {
			pd_jw_key(&w, t->header[c]);
			pd_jw_str(&w, pd_table_cell(t, row, c));
		}
		pd_jw_obj_end(&w);
		rv = pd_jw_error(&w);
	} else {
		rv = expand(tp, t, row, 1, &words, &nwords);
		if (rv == 0)
			rv = pd_buf_join(&b, words, nwords);
		free(words);
	}
	if (rv == 0)
		rv = line_block(&b, argv, argc);
	pd_buf_free(&b);
	return rv;
}
