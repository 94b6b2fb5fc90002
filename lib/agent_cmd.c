/* agent_cmd.c - parade-agent's command line and environment (see
 * agent_cmd.h). Libc only: compiled into the SPANK plugin too. */
#include "agent_cmd.h"

#include <errno.h>
#include <string.h>

/* How a value is written in the shell form. */
enum { V_NONE = 0, V_WORD, V_CONNECT, V_BARE, V_QUOTED };

struct item {
	const char *opt; /* the option, or NULL (argv[0]) */
	const char *val; /* its value, or NULL (a flag) */
	int kind;        /* V_*, for the shell form */
};

#define MAX_ITEMS 14

static void utoa(unsigned v, char *buf)
{
	char tmp[16];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(tmp));
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
}

/* The command line as a list: both forms walk it. Returns the number of
 * items, or -EINVAL. num holds the numbers' text. */
static int items(const pd_agent_cmd *c, struct item *it, char num[2][16])
{
	int n = 0;

	if (!c->program || !c->program[0] || (!c->url && !c->connect))
		return -EINVAL;
	it[n++] = (struct item){NULL, c->program, V_WORD};
	if (c->url)
		it[n++] = (struct item){"--url", c->url, V_WORD};
	else
		it[n++] = (struct item){"--connect", c->connect, V_CONNECT};
	if (c->local)
		it[n++] = (struct item){"--local", NULL, V_NONE};
	if (c->wait_connect)
		it[n++] = (struct item){"--wait-connect", NULL, V_NONE};
	if (c->exit_on_eof)
		it[n++] = (struct item){"--exit-on-eof", NULL, V_NONE};
	if (c->stay)
		it[n++] = (struct item){"--stay", NULL, V_NONE};
	if (c->follow)
		it[n++] = (struct item){"--follow", NULL, V_NONE};
	if (c->mode)
		it[n++] = (struct item){"--mode", c->mode, V_BARE};
	if (c->slots) {
		utoa(c->slots, num[0]);
		it[n++] = (struct item){"--slots", num[0], V_BARE};
	}
	if (c->grace_s) {
		utoa(c->grace_s, num[1]);
		it[n++] = (struct item){"--grace", num[1], V_BARE};
	}
	if (c->id)
		it[n++] = (struct item){"--id", c->id, V_QUOTED};
	if (c->verbose)
		it[n++] = (struct item){"-v", NULL, V_NONE};
	if (c->coproc)
		it[n++] = (struct item){"--coproc", c->coproc, V_QUOTED};
	return n;
}

int pd_agent_cmd_argv(const pd_agent_cmd *c, pd_agent_argv *out)
{
	struct item it[MAX_ITEMS];
	int n = items(c, it, out->num);
	size_t k = 0;

	out->argv[0] = NULL;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (it[i].opt)
			out->argv[k++] = (char *)it[i].opt;
		if (it[i].val)
			out->argv[k++] = (char *)it[i].val;
	}
	out->argv[k] = NULL;
	return 0;
}

int pd_agent_cmd_quote(pd_buf *out, const char *s, size_t len)
{
	size_t n = len + 2;
	char *d;
	int rv;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\'')
			n += 3;
	/* reserve first so that a failure leaves out untouched */
	rv = pd_buf_reserve(out, n);
	if (rv < 0)
		return rv;
	d = (char *)out->data + out->len;
	*d++ = '\'';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'') {
			memcpy(d, "'\\''", 4);
			d += 4;
		} else {
			*d++ = s[i];
		}
	}
	*d = '\'';
	out->len += n;
	return 0;
}

static int app(pd_buf *b, const char *s)
{
	return pd_buf_append(b, s, strlen(s));
}

/* A word for the shell: as it is when nothing in it is special (a leading
 * ~/ kept unquoted so that the shell expands it), else quoted. */
static int word(pd_buf *b, const char *s)
{
	const char *p = s;

	if (!strncmp(p, "~/", 2))
		p += 2;
	if (*s && strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                    "_./+,:=@%-") == strlen(p))
		return app(b, s);
	return pd_agent_cmd_quote(b, s, strlen(s));
}

static int value(pd_buf *b, const struct item *it, unsigned flags)
{
	switch (it->kind) {
	case V_CONNECT:
		if (flags & PD_AGENT_SH_CONNECT_RAW)
			return app(b, it->val);
		/* fall through */
	case V_WORD:
		if (flags & PD_AGENT_SH_WORDS)
			return word(b, it->val);
		/* fall through */
	case V_QUOTED:
		return pd_agent_cmd_quote(b, it->val, strlen(it->val));
	default:
		return app(b, it->val);
	}
}

int pd_agent_cmd_shell(const pd_agent_cmd *c, unsigned flags, pd_buf *out)
{
	struct item it[MAX_ITEMS];
	char num[2][16];
	int n = items(c, it, num), rv = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (it[i].opt) {
			rv |= app(out, " ");
			rv |= app(out, it[i].opt);
		}
		if (it[i].val) {
			if (i)
				rv |= app(out, " ");
			rv |= value(out, &it[i], flags);
		}
	}
	return rv < 0 ? -ENOMEM : 0;
}

int pd_agent_env_add(pd_agent_env *e, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char *d;

	if (!nl || strchr(name, '='))
		return -EINVAL;
	if (e->n >= PD_AGENT_ENV_MAX)
		return -E2BIG;
	if (nl + 1 + vl + 1 > sizeof(e->store) - e->used)
		return -ENAMETOOLONG;
	d = e->store + e->used;
	memcpy(d, name, nl);
	d[nl] = '=';
	memcpy(d + nl + 1, value, vl + 1);
	e->envp[e->n++] = d;
	e->envp[e->n] = NULL;
	e->used += nl + 1 + vl + 1;
	return 0;
}
