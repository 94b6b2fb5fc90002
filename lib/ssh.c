/* ssh.c - the ssh launch mode's pure parts (see ssh.h): options, hosts and
 * host files, the ssh command line and the remote command, judging how a
 * session ended. The connection text is in ssh_text.c. */
#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "log.h"

/* ---- options and host files ---- */

static int bad_chars(const char *s, size_t n, int host)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (host ? !(isalnum(c) || strchr("._-:%", c)) : (c <= ' ' || c >= 0x7f || c == '@'))
			return 1;
	}
	return 0;
}

int pd_ssh_host_parse(const char *s, size_t len, pd_ssh_host *h, char *err, size_t errlen)
{
	const char *at = memrchr(s, '@', len), *c;
	size_t hs = 0, he = len, ps = len; /* host in [hs, he), port in [ps, len) */

	memset(h, 0, sizeof(*h));
	if (at) {
		size_t n = (size_t)(at - s);
		if (n == 0) {
			snprintf(err, errlen, "empty user name");
			return -EINVAL;
		}
		if (n >= sizeof(h->user) || bad_chars(s, n, 0) || s[0] == '-') {
			snprintf(err, errlen, "bad user name '%.*s'", (int)n, s);
			return -EINVAL;
		}
		memcpy(h->user, s, n);
		hs = n + 1;
	}
	if (hs < len && s[hs] == '[') {
		hs++;
		c = memchr(s + hs, ']', len - hs);
		if (!c) {
			snprintf(err, errlen, "missing ']' after the IPv6 address");
			return -EINVAL;
		}
		he = (size_t)(c - s);
		if (he + 1 < len) {
			if (s[he + 1] != ':') {
				snprintf(err, errlen, "unexpected '%.*s' after ']'",
					 (int)(len - he - 1), s + he + 1);
				return -EINVAL;
			}
			ps = he + 2;
		}
	} else if (hs < len && (c = memchr(s + hs, ':', len - hs)) &&
		   !memchr(c + 1, ':', len - (size_t)(c - s) - 1)) {
		/* one colon: host:port (two or more: a bare IPv6 address) */
		he = (size_t)(c - s);
		ps = he + 1;
	}
	if (he == hs) {
		snprintf(err, errlen, "empty host name");
		return -EINVAL;
	}
	if (he - hs >= sizeof(h->host) || bad_chars(s + hs, he - hs, 1) || s[hs] == '-') {
		snprintf(err, errlen, "bad host name '%.*s'", (int)(he - hs), s + hs);
		return -EINVAL;
	}
	memcpy(h->host, s + hs, he - hs);
	if (ps < len || (ps == len && he < len && s[len - 1] == ':')) {
		unsigned long v = 0;
		size_t n = len - ps, i;
		for (i = 0; i < n && i < 6 && isdigit((unsigned char)s[ps + i]); i++)
			v = v * 10 + (unsigned long)(s[ps + i] - '0');
		if (n == 0 || i != n || v == 0 || v > 65535) {
			snprintf(err, errlen, "bad port '%.*s' (expected 1 to 65535)", (int)n, s + ps);
			return -EINVAL;
		}
		h->port = (unsigned)v;
	}
	return 0;
}

void pd_ssh_host_name(const pd_ssh_host *h, char *out, size_t outlen)
{
	int v6 = strchr(h->host, ':') != NULL;
	char port[16] = "";

	if (h->port)
		snprintf(port, sizeof(port), ":%u", h->port);
	snprintf(out, outlen, "%s%s%s%s%s%s", h->user, h->user[0] ? "@" : "",
		 v6 && h->port ? "[" : "", h->host, v6 && h->port ? "]" : "", port);
}

static int add_host(pd_ssh_opts *o, const pd_ssh_host *h)
{
	if (o->nhosts == o->cap) {
		size_t n = o->cap ? o->cap * 2 : 8;
		pd_ssh_host *v = realloc(o->hosts, n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->hosts = v;
		o->cap = n;
	}
	o->hosts[o->nhosts++] = *h;
	return 0;
}

static int parse_slots(const char *s, size_t n, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (n > 6 && !strncmp(s, "slots=", 6)) {
		s += 6;
		n -= 6;
	}
	for (i = 0; i < n && i < 5 && isdigit((unsigned char)s[i]); i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (n == 0 || i != n || v == 0 || v > PD_SSH_MAX_SLOTS)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int pd_hostfile_parse(const char *name, const char *text, size_t len, pd_ssh_opts *o, char *err,
		      size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0, added = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *le, *f[3];
		size_t fl[3], nf = 0;
		pd_ssh_host h;
		char why[300];

		lineno++;
		le = eol ? eol : end;
		if (memchr(p, '#', (size_t)(le - p)))
			le = memchr(p, '#', (size_t)(le - p));
		for (const char *q = p; q < le && nf < 3;) {
			while (q < le && isspace((unsigned char)*q))
				q++;
			if (q == le)
				break;
			f[nf] = q;
			while (q < le && !isspace((unsigned char)*q))
				q++;
			fl[nf] = (size_t)(q - f[nf]);
			nf++;
		}
		p = eol ? eol + 1 : end;
		if (nf == 0)
			continue;
		if (nf == 3) {
			snprintf(err, errlen, "%s: line %u: unexpected '%.*s' (expected "
				 "[user@]host[:port] [slots])", name, lineno, (int)fl[2], f[2]);
			return -EINVAL;
		}
		if (pd_ssh_host_parse(f[0], fl[0], &h, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: line %u: %s", name, lineno, why);
			return -EINVAL;
		}
		if (nf == 2 && parse_slots(f[1], fl[1], &h.slots) < 0) {
			snprintf(err, errlen, "%s: line %u: bad slots '%.*s' (expected 1 to %d)",
				 name, lineno, (int)fl[1], f[1], PD_SSH_MAX_SLOTS);
			return -EINVAL;
		}
		if (add_host(o, &h) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		added++;
	}
	if (!added) {
		snprintf(err, errlen, "%s: no hosts in it", name);
		return -EINVAL;
	}
	return 0;
}

int pd_hostfile_load(const char *path, pd_ssh_opts *o, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	pd_buf b = {0};
	char chunk[4096];
	size_t n;
	int rv;

	if (!f) {
		rv = -errno;
		snprintf(err, errlen, "cannot read host file %s: %s", path, strerror(-rv));
		return rv;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (pd_buf_append(&b, chunk, n) < 0) {
			fclose(f);
			pd_buf_free(&b);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (ferror(f)) {
		rv = -EIO;
		snprintf(err, errlen, "cannot read host file %s", path);
	} else {
		rv = pd_hostfile_parse(path, (const char *)pd_buf_head(&b), pd_buf_size(&b), o, err,
				       errlen);
	}
	fclose(f);
	pd_buf_free(&b);
	return rv;
}

int pd_ssh_opt_err(pd_ssh_opts *o, const char *name, const char *value, char *err, size_t errlen)
{
	char why[1024];

	if (!strcmp(name, "tunnel")) {
		o->tunnel = 1;
		return 1;
	}
	if (!strcmp(name, "remote-connect-file")) {
		o->remote_connect_file = 1;
		return 1;
	}
	if (strcmp(name, "hosts") && strcmp(name, "hostfile") && strcmp(name, "ssh-opt") &&
	    strcmp(name, "tunnel-port") && strcmp(name, "remote-agent"))
		return 0;
	if (!value || !*value) {
		pd_seterr(err, errlen, "--%s needs a value", name);
		return -EINVAL;
	}
	if (!strcmp(name, "hosts")) {
		for (const char *p = value;;) {
			size_t n = strcspn(p, ",");
			pd_ssh_host h;
			if (pd_ssh_host_parse(p, n, &h, why, sizeof(why)) < 0) {
				pd_seterr(err, errlen, "ssh host '%.*s': %s", (int)n, p, why);
				return -EINVAL;
			}
			if (add_host(o, &h) < 0) {
				pd_seterr(err, errlen, "out of memory");
				return -EINVAL;
			}
			if (!p[n])
				break;
			p += n + 1;
		}
	} else if (!strcmp(name, "hostfile")) {
		if (pd_hostfile_load(value, o, why, sizeof(why)) < 0) {
			pd_seterr(err, errlen, "--hostfile: %s", why);
			return -EINVAL;
		}
	} else if (!strcmp(name, "ssh-opt")) {
		if (o->nopts == PD_SSH_MAX_OPTS) {
			pd_seterr(err, errlen, "too many --ssh-opt (%d at most)", PD_SSH_MAX_OPTS);
			return -EINVAL;
		}
		if (strpbrk(value, "\n\r")) {
			pd_seterr(err, errlen, "--ssh-opt '%s' holds a line break", value);
			return -EINVAL;
		}
		o->ssh_opts[o->nopts++] = value;
	} else if (!strcmp(name, "tunnel-port")) {
		char *e;
		unsigned long v = strtoul(value, &e, 10);
		if (*e || v == 0 || v > 65535 || value[0] == '-') {
			pd_seterr(err, errlen, "--tunnel-port '%s': expected a port from 1 to 65535",
				  value);
			return -EINVAL;
		}
		o->tunnel_port = (unsigned)v;
	} else {
		if (value[0] == '-' || strpbrk(value, "\n\r")) {
			pd_seterr(err, errlen, "--remote-agent '%s': expected a program path or name",
				  value);
			return -EINVAL;
		}
		o->remote_agent = value;
	}
	return 1;
}

int pd_ssh_opt(pd_ssh_opts *o, const char *name, const char *value)
{
	char err[1200];
	int rv = pd_ssh_opt_err(o, name, value, err, sizeof(err));

	if (rv < 0)
		pd_err("%s", err);
	return rv;
}

void pd_ssh_opts_free(pd_ssh_opts *o)
{
	free(o->hosts);
	o->hosts = NULL;
	o->nhosts = o->cap = 0;
}

/* ---- the command line ---- */

int pd_ssh_forward(unsigned rport, const char *target, unsigned cport, char *out, size_t len)
{
	int v6 = strchr(target, ':') != NULL;
	int n = snprintf(out, len, "127.0.0.1:%u:%s%s%s:%u", rport, v6 ? "[" : "", target,
			 v6 ? "]" : "", cport);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pd_ssh_allocated_port(const char *line, unsigned *port)
{
	static const char pre[] = "Allocated port ";
	unsigned long v;
	char *end;

	if (strncmp(line, pre, sizeof(pre) - 1) != 0)
		return 0;
	line += sizeof(pre) - 1;
	if (*line < '1' || *line > '9')
		return 0;
	v = strtoul(line, &end, 10);
	if (v > 65535 || strncmp(end, " for remote forward to ", 23) != 0)
		return 0;
	*port = (unsigned)v;
	return 1;
}

static int app(pd_buf *b, const char *s)
{
	return pd_buf_append(b, s, strlen(s));
}

/* The agent's command line (lib/agent_cmd.h): the program as a bare word
 * when nothing in it is special (a leading ~/ left for the remote shell
 * to expand), `--connect CONNECT` (written as it is: "-" or the script's
 * "$f"), then ` --mode ssh --slots K [-v] [--coproc 'COMMAND']`, COMMAND
 * always single-quoted, so the remote shell hands it on byte for byte. */
static int agent_line(const pd_ssh_opts *o, const pd_ssh_host *h, const char *agent,
		      const char *connect, int exit_on_eof, pd_buf *out)
{
	pd_agent_cmd c = {0};

	c.program = agent;
	c.connect = connect;
	c.exit_on_eof = exit_on_eof;
	c.mode = "ssh";
	c.slots = h->slots ? h->slots : o->slots ? o->slots : 1;
	c.verbose = o->verbose;
	c.coproc = o->coproc;
	return pd_agent_cmd_shell(&c, PD_AGENT_SH_WORDS | PD_AGENT_SH_CONNECT_RAW, out);
}

/* "remote-SESSION.INDEX.conn"; the session name is [A-Za-z0-9_.-]
 * already, anything else becomes '_' to be sure. */
static int conn_file_name(const char *session, size_t index, pd_buf *out)
{
	char tail[32];
	int rv = app(out, "remote-");

	for (size_t i = 0; session[i]; i++) {
		char c = session[i];
		if (!isalnum((unsigned char)c) && !strchr("_.-", c))
			c = '_';
		rv |= pd_buf_append(out, &c, 1);
	}
	snprintf(tail, sizeof(tail), ".%zu.conn", index);
	return rv | app(out, tail);
}

int pd_ssh_remote_cmd(const pd_ssh_opts *o, const pd_ssh_host *h, const char *session,
		      size_t index, pd_buf *out)
{
	const char *agent = o->remote_agent ? o->remote_agent : "parade-agent";
	int rv = 0;

	if (!o->remote_connect_file) {
		rv |= app(out, "exec ");
		rv |= agent_line(o, h, agent, "-", 0, out);
		return rv < 0 ? -ENOMEM : 0;
	}
	/* ~/.parade must be this user's alone (as lib/private.h has it):
	 * whoever else could write there could swap the file for a link and
	 * have the secret written where they like, or read it. The file's
	 * name is cleared first, so a link left there is never written
	 * through. */
	rv |= app(out, "umask 077 && d=~/.parade && { [ -d \"$d\" ] || mkdir \"$d\"; } || exit 2; "
		       "if [ ! -O \"$d\" ]; then echo \"parade-agent: $d belongs to another "
		       "user: parade keeps its files only in folders of its own\" >&2; exit 2; "
		       "fi; case $(ls -ld \"$d/\") in ?????w*|????????w*) echo \"parade-agent: "
		       "$d is writable by group or others, so they could replace what parade "
		       "keeps there: run chmod 700 $d\" >&2; exit 2;; esac; f=\"$d\"/");
	rv |= conn_file_name(session, index, out);
	rv |= app(out, " && rm -f \"$f\" && while IFS= read -r l && [ \"$l\" != end ]; do "
		       "printf '%s\\n' \"$l\"; done > \"$f\" && { ");
	rv |= agent_line(o, h, agent, "\"$f\"", 1, out);
	rv |= app(out, "; r=$?; rm -f \"$f\"; exit $r; }");
	return rv < 0 ? -ENOMEM : 0;
}

void pd_ssh_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

char **pd_ssh_argv(const char *ssh, const pd_ssh_opts *o, const pd_ssh_host *h,
		   const char *forward, const char *remote_cmd)
{
	static const char *const defaults[] = {"BatchMode=yes", "ConnectTimeout=10",
					       "ServerAliveInterval=5", "ServerAliveCountMax=3"};
	size_t max = 24 + 2 * o->nopts, k = 0; /* 19 words besides the options */
	char **v = calloc(max, sizeof(char *)), tmp[400];
	int fail = 0;

#define ADD(s) (k + 1 < max ? (v[k] = strdup(s), fail |= !v[k++]) : (fail = 1))
	if (!v)
		return NULL;
	ADD(ssh);
	/* ssh keeps the first value it sees of each option: the user's go
	 * first so that they win over the defaults */
	for (size_t i = 0; i < o->nopts; i++) {
		ADD("-o");
		ADD(o->ssh_opts[i]);
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		ADD("-o");
		ADD(defaults[i]);
	}
	if (h->port) {
		snprintf(tmp, sizeof(tmp), "%u", h->port);
		ADD("-p");
		ADD(tmp);
	}
	if (forward) {
		ADD("-o");
		ADD("ExitOnForwardFailure=yes");
		/* "Allocated port N" (a -R 0 forward) is an INFO line */
		ADD("-o");
		ADD("LogLevel=INFO");
		ADD("-R");
		ADD(forward);
	}
	snprintf(tmp, sizeof(tmp), "%s%s%s", h->user, h->user[0] ? "@" : "", h->host);
	ADD(tmp);
	ADD("--");
	ADD(remote_cmd);
#undef ADD
	if (fail) {
		pd_ssh_argv_free(v);
		return NULL;
	}
	return v;
}

int pd_ssh_classify(int st, const char *text, unsigned rport, char *why, size_t whylen)
{
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;

	if (code == 0) {
		snprintf(why, whylen, "the agent left");
		return PD_SSH_LEFT;
	}
	if (strstr(text, "parade: cannot run ssh")) {
		snprintf(why, whylen, "cannot run the ssh program");
		return PD_SSH_GIVE_UP;
	}
	if (code == 255 || code < 0) {
		if (strstr(text, "Permission denied") || strstr(text, "Too many authentication")) {
			snprintf(why, whylen, "authentication refused");
			return PD_SSH_GIVE_UP;
		}
		if (strstr(text, "Host key verification failed") ||
		    strstr(text, "IDENTIFICATION HAS CHANGED") ||
		    strstr(text, "host key is known for")) {
			snprintf(why, whylen, "host key verification failed");
			return PD_SSH_GIVE_UP;
		}
		if (strstr(text, "Could not resolve hostname")) {
			snprintf(why, whylen, "unknown host");
			return PD_SSH_GIVE_UP;
		}
		if (strstr(text, "remote port forwarding failed") && rport) {
			snprintf(why, whylen, "the tunnel's remote port %u is taken on that host "
				 "(choose another with --tunnel-port, or leave it out)", rport);
			return PD_SSH_GIVE_UP;
		}
		if (strstr(text, "remote port forwarding failed")) {
			snprintf(why, whylen, "the host's sshd refused the tunnel (remote "
				 "forwarding not allowed there? see AllowTcpForwarding)");
			return PD_SSH_GIVE_UP;
		}
		if (code < 0)
			snprintf(why, whylen, "ssh ended by signal %d", WTERMSIG(st));
		else if (!*text)
			/* what ssh reports, silently, for a remote command killed by a signal */
			snprintf(why, whylen, "the session ended (the agent there was killed?)");
		else
			snprintf(why, whylen, "ssh failed");
		return PD_SSH_RETRY;
	}
	switch (code) {
	case 127:
		snprintf(why, whylen, "the agent program was not found there (see --remote-agent)");
		return PD_SSH_GIVE_UP;
	case 126:
		snprintf(why, whylen, "the agent program cannot be executed there");
		return PD_SSH_GIVE_UP;
	case 3:
		snprintf(why, whylen, "the controller refused the agent (wrong secret or protocol "
			 "version)");
		return PD_SSH_GIVE_UP;
	case 2:
		snprintf(why, whylen, "the agent reported a usage error (too old for --connect -?)");
		return PD_SSH_GIVE_UP;
	case 1:
		snprintf(why, whylen, "the agent could not reach the controller");
		return PD_SSH_RETRY;
	default:
		snprintf(why, whylen, "the session ended");
		return PD_SSH_RETRY;
	}
}
