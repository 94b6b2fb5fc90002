#include "template_sh.h"
#include "log.h"

#include <errno.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_HEREDOCS 16
#define MAX_DELIM 128

enum kind {
	K_TOP,     /* unquoted script */
	K_CMDSUB,  /* $( ... ): unquoted again */
	K_PARAM,   /* ${ ... } */
	K_BQ,      /* ` ... ` */
	K_DQ,      /* " ... " */
	K_SQ,      /* ' ... ' */
	K_DSQ,     /* $' ... ' */
	K_ARITH,   /* $(( ... )) */
	K_COMMENT, /* # ... to the line end */
	K_HEREDOC, /* a here-document's body */
};

struct frame {
	int kind;
	int dq;        /* inside double quotes (or an unquoted here-document) */
	int depth;     /* open parentheses (K_CMDSUB, K_ARITH) */
	int hd;        /* K_HEREDOC: index in heredocs */
	int linestart; /* K_HEREDOC: at the start of a body line */
};

struct heredoc {
	char delim[MAX_DELIM];
	size_t n;
	int strip;  /* <<- */
	int quoted; /* nothing in the body expands */
};

struct scan {
	const char *s;
	size_t len;
	const unsigned char *slot;
	const char *const *name;
	int *forms;
	size_t i, nph, nval;
	struct frame st[MAX_DEPTH];
	int top;
	struct heredoc hd[MAX_HEREDOCS];
	int nhd, next_hd; /* heredocs seen, the first whose body has not begun */
	char *err;
	size_t errlen;
};

static int is_ph(const struct scan *sc, size_t i)
{
	return i < sc->len && sc->slot[i] != PD_SLOT_TEXT;
}

/* The script byte at i, or 0 past the end or at a placeholder. */
static char at(const struct scan *sc, size_t i)
{
	return i < sc->len && sc->slot[i] == PD_SLOT_TEXT ? sc->s[i] : 0;
}

/* The name of the placeholder at i (i is one). */
static const char *ph_name(const struct scan *sc, size_t i)
{
	size_t k = sc->nph;

	for (size_t j = sc->i; j < i; j++)
		k += sc->slot[j] != PD_SLOT_TEXT;
	return sc->name[k];
}

static int push(struct scan *sc, int kind, int dq)
{
	struct frame *f;

	if (sc->top + 1 >= MAX_DEPTH) {
		pd_seterr(sc->err, sc->errlen, "the script nests quotes and substitutions deeper "
			  "than %d levels", MAX_DEPTH);
		return -EINVAL;
	}
	f = &sc->st[++sc->top];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->dq = dq;
	return 0;
}

static int is_meta(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' ||
	       c == ')' || c == '<' || c == '>';
}

/* The next pending here-document, if any, begins now. */
static int start_heredoc(struct scan *sc)
{
	int rv;

	if (sc->next_hd >= sc->nhd)
		return 0;
	rv = push(sc, K_HEREDOC, 1);
	if (rv < 0)
		return rv;
	sc->st[sc->top].hd = sc->next_hd++;
	sc->st[sc->top].linestart = 1;
	return 0;
}

/* At "<<" or "<<-": records the here-document whose body begins at the
 * next line. */
static int heredoc_op(struct scan *sc)
{
	size_t j = sc->i + 2;
	struct heredoc h = {0};
	char c, q;

	if (at(sc, j) == '-') {
		h.strip = 1;
		j++;
	}
	while (at(sc, j) == ' ' || at(sc, j) == '\t')
		j++;
	while (j < sc->len) {
		if (is_ph(sc, j)) {
			pd_seterr(sc->err, sc->errlen, "the script has %s in a here-document's "
				  "delimiter: use a fixed word, e.g. <<EOF", ph_name(sc, j));
			return -EINVAL;
		}
		c = sc->s[j];
		if (is_meta(c))
			break;
		if (c == '\'' || c == '"') {
			h.quoted = 1;
			q = c;
			for (j++; j < sc->len && !(at(sc, j) == q); j++) {
				if (is_ph(sc, j)) {
					pd_seterr(sc->err, sc->errlen, "the script has %s in a "
						  "here-document's delimiter: use a fixed word, "
						  "e.g. <<EOF", ph_name(sc, j));
					return -EINVAL;
				}
				if (h.n < MAX_DELIM)
					h.delim[h.n++] = sc->s[j];
			}
			j++;
			continue;
		}
		if (c == '\\') {
			h.quoted = 1;
			j++;
			if (j >= sc->len)
				break;
			if (is_ph(sc, j))
				continue; /* reported on the next pass */
			c = sc->s[j];
		}
		if (h.n < MAX_DELIM)
			h.delim[h.n++] = c;
		j++;
	}
	if (h.n >= MAX_DELIM) {
		pd_seterr(sc->err, sc->errlen, "the script has a here-document delimiter of %d "
			  "bytes or more; use a shorter word", MAX_DELIM);
		return -EINVAL;
	}
	if (sc->nhd >= MAX_HEREDOCS) {
		pd_seterr(sc->err, sc->errlen, "the script has more than %d here-documents",
			  MAX_HEREDOCS);
		return -EINVAL;
	}
	sc->hd[sc->nhd++] = h;
	sc->i = j;
	return 0;
}

/* A '$' at sc->i in a state where it expands. */
static int dollar(struct scan *sc, int dsq_ok)
{
	struct frame *f = &sc->st[sc->top];
	size_t i = sc->i;
	int dq = f->kind == K_DQ || f->kind == K_HEREDOC ? 1 : f->dq;

	if (is_ph(sc, i + 1)) {
		const char *n = ph_name(sc, i + 1);
		pd_seterr(sc->err, sc->errlen, "the script has '$%s': %s is the value itself; "
			  "write %s, or ${%s} for the shell variable", n, n, n, n);
		return -EINVAL;
	}
	switch (at(sc, i + 1)) {
	case '$':
		sc->i += 2; /* $$: its own parameter, a placeholder may follow */
		return 0;
	case '\'':
		if (!dsq_ok)
			break;
		sc->i += 2;
		return push(sc, K_DSQ, 0);
	case '(':
		if (at(sc, i + 2) == '(') {
			sc->i += 3;
			return push(sc, K_ARITH, dq);
		}
		sc->i += 2;
		return push(sc, K_CMDSUB, 0);
	case '{':
		sc->i += 2;
		return push(sc, K_PARAM, dq);
	}
	sc->i++;
	return 0;
}

static int backslash(struct scan *sc)
{
	if (is_ph(sc, sc->i + 1)) {
		const char *n = ph_name(sc, sc->i + 1);
		pd_seterr(sc->err, sc->errlen, "the script has '\\%s': a backslash before a "
			  "placeholder; write %s for the value, or {%s} for the text %s", n, n, n, n);
		return -EINVAL;
	}
	sc->i += 2;
	return 0;
}

/* The k-th value placeholder (at sc->i) in the current state. */
static int value(struct scan *sc)
{
	const struct frame *f = &sc->st[sc->top];
	const char *n = sc->name[sc->nph];
	int form;

	switch (f->kind) {
	case K_TOP:
	case K_CMDSUB:
		form = PD_SH_UNQ;
		break;
	case K_PARAM:
		form = f->dq ? PD_SH_DQ : PD_SH_UNQ;
		break;
	case K_BQ:
		if (f->dq) {
			pd_seterr(sc->err, sc->errlen, "the script has %s in backquotes inside "
				  "double quotes, where no reference to it is exact: write $(...) "
				  "instead, e.g. \"$(echo %s)\"", n, n);
			return -EINVAL;
		}
		form = PD_SH_UNQ;
		break;
	case K_DQ:
	case K_COMMENT:
		form = PD_SH_DQ;
		break;
	case K_SQ:
		form = PD_SH_SQ;
		break;
	case K_HEREDOC:
		if (sc->hd[f->hd].quoted) {
			pd_seterr(sc->err, sc->errlen, "the script has %s in a here-document with a "
				  "quoted delimiter, where nothing expands: write <<%.*s instead",
				  n, (int)sc->hd[f->hd].n, sc->hd[f->hd].delim);
			return -EINVAL;
		}
		form = PD_SH_DQ;
		break;
	case K_DSQ:
		pd_seterr(sc->err, sc->errlen, "the script has %s inside $'...', which dash does "
			  "not know and where no reference to it is exact: put it outside $'...', "
			  "e.g. $'\\t'\"%s\"", n, n);
		return -EINVAL;
	default: /* K_ARITH */
		pd_seterr(sc->err, sc->errlen, "the script has %s inside $((...)), where a shell "
			  "may run a value as code: assign it and check it first, e.g. n=%s; "
			  "case $n in ''|*[!0-9]*) exit 1;; esac; echo $((n + 1))", n, n);
		return -EINVAL;
	}
	sc->forms[sc->nval++] = form;
	return 0;
}

/* One step in an unquoted state (top, $(...), ${...}, `...`). */
static int step_unquoted(struct scan *sc, struct frame *f, char c)
{
	size_t i = sc->i;
	int wordstart = i == 0 || (!is_ph(sc, i - 1) && (is_meta(sc->s[i - 1]) ||
							  sc->s[i - 1] == '`'));

	switch (c) {
	case '\\':
		return backslash(sc);
	case '\'':
		sc->i++;
		return push(sc, K_SQ, 0);
	case '"':
		sc->i++;
		return push(sc, K_DQ, 1);
	case '`':
		sc->i++;
		if (f->kind == K_BQ) {
			sc->top--;
			return 0;
		}
		return push(sc, K_BQ, f->dq);
	case '$':
		return dollar(sc, 1);
	case '#':
		sc->i++;
		if (wordstart && f->kind != K_PARAM)
			return push(sc, K_COMMENT, 0);
		return 0;
	case '(':
		f->depth += f->kind == K_CMDSUB;
		break;
	case ')':
		if (f->kind == K_CMDSUB && f->depth-- == 0) {
			sc->top--;
			sc->i++;
			return 0;
		}
		break;
	case '}':
		if (f->kind == K_PARAM) {
			sc->top--;
			sc->i++;
			return 0;
		}
		break;
	case '<':
		if (f->kind != K_PARAM && at(sc, i + 1) == '<') {
			if (at(sc, i + 2) == '<') { /* <<<: a here-string, no body */
				sc->i += 3;
				return 0;
			}
			return heredoc_op(sc);
		}
		break;
	case '\n':
		sc->i++;
		return start_heredoc(sc);
	}
	sc->i++;
	return 0;
}

/* At the start of a body line: the delimiter line ends the body. */
static int heredoc_line(struct scan *sc, struct frame *f)
{
	const struct heredoc *h = &sc->hd[f->hd];
	size_t j = sc->i, k;

	f->linestart = 0;
	if (h->strip)
		while (at(sc, j) == '\t')
			j++;
	for (k = 0; k < h->n && at(sc, j + k) == h->delim[k]; k++)
		;
	if (k < h->n || (j + k < sc->len && at(sc, j + k) != '\n'))
		return 0;
	sc->i = j + k + (j + k < sc->len);
	sc->top--;
	return start_heredoc(sc);
}

static int step_heredoc(struct scan *sc, struct frame *f, char c)
{
	if (c == '\n') {
		f->linestart = 1;
		sc->i++;
		return 0;
	}
	if (sc->hd[f->hd].quoted) {
		sc->i++;
		return 0;
	}
	switch (c) {
	case '\\':
		return backslash(sc);
	case '$':
		return dollar(sc, 0);
	case '`':
		sc->i++;
		return push(sc, K_BQ, 1);
	}
	sc->i++;
	return 0;
}

static int step(struct scan *sc)
{
	struct frame *f = &sc->st[sc->top];
	char c = sc->s[sc->i];

	if (f->kind == K_HEREDOC && f->linestart)
		return heredoc_line(sc, f);
	if (sc->slot[sc->i] != PD_SLOT_TEXT) {
		int rv = sc->slot[sc->i] == PD_SLOT_VALUE ? value(sc) : 0;
		sc->nph++;
		sc->i++;
		return rv;
	}
	switch (f->kind) {
	case K_TOP:
	case K_CMDSUB:
	case K_PARAM:
	case K_BQ:
		return step_unquoted(sc, f, c);
	case K_DQ:
		if (c == '\\')
			return backslash(sc);
		if (c == '$')
			return dollar(sc, 0);
		sc->i++;
		if (c == '"')
			sc->top--;
		else if (c == '`')
			return push(sc, K_BQ, 1);
		return 0;
	case K_SQ:
		sc->i++;
		if (c == '\'')
			sc->top--;
		return 0;
	case K_DSQ:
		if (c == '\\')
			return backslash(sc);
		sc->i++;
		if (c == '\'')
			sc->top--;
		return 0;
	case K_ARITH:
		if (c == '$')
			return dollar(sc, 0);
		if (c == '(')
			f->depth++;
		if (c == ')' && f->depth == 0 && at(sc, sc->i + 1) == ')') {
			sc->i += 2;
			sc->top--;
			return 0;
		}
		if (c == ')' && f->depth > 0)
			f->depth--;
		sc->i++;
		return 0;
	case K_COMMENT:
		if (c == '\n')
			sc->top--; /* the line end is read again: here-documents begin */
		else
			sc->i++;
		return 0;
	default:
		return step_heredoc(sc, f, c);
	}
}

int pd_sh_forms(const char *s, size_t len, const unsigned char *slot, const char *const *name,
		int *forms, char *err, size_t errlen)
{
	struct scan sc;
	int rv = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.len = len;
	sc.slot = slot;
	sc.name = name;
	sc.forms = forms;
	sc.err = err;
	sc.errlen = errlen;
	sc.st[0].kind = K_TOP;
	while (sc.i < len && rv == 0)
		rv = step(&sc);
	/* fail closed: a placeholder that some step jumped over has no form,
	 * and no value may go where the scanner did not look */
	if (rv == 0) {
		size_t nval = 0;
		for (size_t i = 0; i < len; i++)
			nval += slot[i] == PD_SLOT_VALUE;
		if (nval != sc.nval) {
			pd_seterr(err, errlen, "the script places a value where its quoting cannot be "
				  "read (%zu of %zu placeholders understood): put each placeholder "
				  "outside quotes or inside plain \"...\"", sc.nval, nval);
			rv = -EINVAL;
		}
	}
	return rv;
}
