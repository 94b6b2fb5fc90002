#include "template.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PC_LIT, PC_COL, PC_ROW };

/* PC_LIT: lit[a, a + n); PC_COL: column a ("{}" is column 0 of stdin). */
struct piece {
	int kind;
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

int pd_template_compile(const char *const *words, size_t nwords, const pd_table *t, int shell,
			pd_template **out, char *err, size_t errlen)
{
	struct compiler c = {0};
	struct pd_template *tp;
	size_t total = 0, w;
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
	free(tp);
}

static size_t quoted_len(const char *s, size_t len)
{
	size_t n = len + 2, i;

	for (i = 0; i < len; i++)
		if (s[i] == '\'')
			n += 3;
	return n;
}

static char *quote_into(char *d, const char *s, size_t len)
{
	size_t i;

	*d++ = '\'';
	for (i = 0; i < len; i++) {
		if (s[i] == '\'') {
			memcpy(d, "'\\''", 4);
			d += 4;
		} else {
			*d++ = s[i];
		}
	}
	*d++ = '\'';
	return d;
}

int pd_shell_quote(pd_buf *out, const char *s, size_t len)
{
	size_t n = quoted_len(s, len);
	int rv;

	/* reserve first so a failure leaves out untouched */
	rv = pd_buf_reserve(out, n);
	if (rv < 0)
		return rv;
	quote_into((char *)out->data + out->len, s, len);
	out->len += n;
	return 0;
}

/* Bytes piece p expands to (without quoting). */
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

static size_t word_len(const struct pd_template *tp, size_t w, const pd_table *t, size_t row,
		       const char *num)
{
	size_t i, n = 0, len;
	const char *v;

	for (i = tp->wstart[w]; i < tp->wstart[w + 1]; i++) {
		v = piece_value(tp, &tp->pieces[i], t, row, num, &len);
		/* {#} is only digits; leaving it bare keeps $(({#} + 1)) working */
		if (tp->shell && tp->pieces[i].kind == PC_COL)
			n += quoted_len(v, len);
		else
			n += len;
	}
	return n;
}

static char *word_write(const struct pd_template *tp, size_t w, const pd_table *t, size_t row,
			const char *num, char *d)
{
	size_t i, len;
	const char *v;

	for (i = tp->wstart[w]; i < tp->wstart[w + 1]; i++) {
		v = piece_value(tp, &tp->pieces[i], t, row, num, &len);
		if (tp->shell && tp->pieces[i].kind == PC_COL) {
			d = quote_into(d, v, len);
		} else {
			memcpy(d, v, len);
			d += len;
		}
	}
	*d++ = '\0';
	return d;
}

int pd_template_expand(const pd_template *tp, const pd_table *t, size_t row, char ***argv,
		       size_t *argc)
{
	static const char sh_prefix[] = "/bin/sh\0-c";
	char num[24] = "";
	size_t n, size, w;
	char **av, *d;

	*argv = NULL;
	*argc = 0;
	if (tp->uses_col && (!t || row >= t->nrows))
		return -EINVAL;
	if (tp->uses_row)
		snprintf(num, sizeof(num), "%zu", row + 1);

	n = tp->shell ? 3 : tp->nwords;
	size = (n + 1) * sizeof(char *);
	if (tp->shell)
		size += sizeof(sh_prefix);
	for (w = 0; w < tp->nwords; w++)
		size += word_len(tp, w, t, row, num) + 1;

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
		word_write(tp, 0, t, row, num, d);
	} else {
		for (w = 0; w < tp->nwords; w++) {
			av[w] = d;
			d = word_write(tp, w, t, row, num, d);
		}
	}
	av[n] = NULL;
	*argv = av;
	*argc = n;
	return 0;
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
		rv = pd_template_expand(tp, t, row, &words, &nwords);
		if (rv == 0)
			rv = pd_buf_join(&b, words, nwords);
		free(words);
	}
	if (rv == 0)
		rv = line_block(&b, argv, argc);
	pd_buf_free(&b);
	return rv;
}
