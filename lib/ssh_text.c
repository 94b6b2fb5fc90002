/* ssh_text.c - the connection text sent down ssh's stdin: written by the
 * ssh launcher (pd_ssh_conn_text), read by parade-agent --connect -
 * (pd_conntext_parse, pd_conntext_read). See ssh.h. */
#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

#define TEXT_LINE_MAX 1024

static int app(pd_buf *b, const char *s)
{
	return pd_buf_append(b, s, strlen(s));
}

int pd_ssh_conn_text(const pd_connfile *cf, const char *endpoint, pd_buf *out)
{
	char hex[2 * PD_SECRET_LEN + 1], head[1400];
	int n, rv;

	n = snprintf(head, sizeof(head), "version=%u\nsession=%s\nendpoint=%s\npsk_identity=%s\n",
		     cf->version, cf->session, endpoint,
		     cf->identity[0] ? cf->identity : PD_PSK_IDENTITY);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	/* room for it all first: no realloc leaves a copy of the secret behind */
	if (pd_buf_reserve(out, (size_t)n + sizeof(hex) + 16) < 0)
		return -ENOMEM;
	pd_hex(cf->secret, PD_SECRET_LEN, hex);
	rv = pd_buf_append(out, head, (size_t)n);
	rv |= app(out, "secret=");
	rv |= app(out, hex);
	rv |= app(out, "\nend\n");
	memset(hex, 0, sizeof(hex));
	return rv < 0 ? -ENOMEM : 0;
}

/* ---- the connection text, read by the agent ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_field(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (n >= len)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* One key=value line (NUL-terminated, modifiable) into cf. */
static int text_line(char *line, unsigned lineno, pd_connfile *cf, int *have_secret, char *err,
		     size_t errlen)
{
	char *k = trim(line), *v, *eq;
	int toolong = 0;

	if (!*k || *k == '#')
		return 0;
	eq = strchr(k, '=');
	if (!eq) {
		snprintf(err, errlen, "line %u: expected key=value", lineno);
		return -EINVAL;
	}
	*eq = 0;
	k = trim(k);
	v = trim(eq + 1);
	if (!strcmp(k, "version")) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (!*v || *end || n == 0 || n > 1000 || *v == '-') {
			snprintf(err, errlen, "line %u: bad version '%s'", lineno, v);
			return -EINVAL;
		}
		cf->version = (unsigned)n;
	} else if (!strcmp(k, "session")) {
		toolong = set_field(cf->session, sizeof(cf->session), v);
	} else if (!strcmp(k, "endpoint")) {
		toolong = set_field(cf->endpoint, sizeof(cf->endpoint), v);
	} else if (!strcmp(k, "local")) {
		toolong = set_field(cf->local, sizeof(cf->local), v);
	} else if (!strcmp(k, "psk_identity")) {
		toolong = set_field(cf->identity, sizeof(cf->identity), v);
	} else if (!strcmp(k, "secret")) {
		if (pd_unhex(v, strlen(v), cf->secret, PD_SECRET_LEN) < 0) {
			snprintf(err, errlen, "line %u: secret must be %d hex digits", lineno,
				 2 * PD_SECRET_LEN);
			return -EINVAL;
		}
		*have_secret = 1;
	} else {
		snprintf(err, errlen, "line %u: unknown key '%.64s'", lineno, k);
		return -EINVAL;
	}
	if (toolong) {
		snprintf(err, errlen, "line %u: value of '%s' too long", lineno, k);
		return -EINVAL;
	}
	return 0;
}

int pd_conntext_parse(const char *text, size_t len, pd_connfile *cf, size_t *used, char *err,
		      size_t errlen)
{
	char line[TEXT_LINE_MAX + 1];
	const char *p = text, *end = text + len;
	unsigned lineno = 0;
	int have_secret = 0, rv = -EAGAIN;

	memset(cf, 0, sizeof(*cf));
	*used = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (n > TEXT_LINE_MAX) {
			snprintf(err, errlen, "line %u: line too long", lineno);
			rv = -EINVAL;
			break;
		}
		if (!nl)
			break; /* an incomplete line: wait for the rest */
		memcpy(line, p, n);
		line[n] = 0;
		p = nl + 1;
		if (!strcmp(trim(line), "end")) {
			if (!cf->version || !cf->endpoint[0] || !have_secret) {
				snprintf(err, errlen, "line %u: 'end' before %s", lineno,
					 !cf->version ? "version" : !cf->endpoint[0] ? "endpoint"
										      : "secret");
				rv = -EINVAL;
				break;
			}
			if (!cf->identity[0])
				snprintf(cf->identity, sizeof(cf->identity), "%s", PD_PSK_IDENTITY);
			*used = (size_t)(p - text);
			rv = 0;
			break;
		}
		if ((rv = text_line(line, lineno, cf, &have_secret, err, errlen)) < 0)
			break;
		rv = -EAGAIN;
	}
	memset(line, 0, sizeof(line));
	if (rv == -EAGAIN)
		snprintf(err, errlen, "the connection text ended without its 'end' line");
	if (rv < 0)
		memset(cf->secret, 0, sizeof(cf->secret));
	return rv;
}

int pd_conntext_read(int fd, uint64_t timeout_ms, pd_connfile *cf, char *err, size_t errlen)
{
	char *buf = malloc(PD_CONNTEXT_MAX), why[512];
	size_t len = 0, used;
	uint64_t deadline = pd_now_us() / 1000 + timeout_ms;
	int rv = -EAGAIN;

	memset(cf, 0, sizeof(*cf));
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (rv == -EAGAIN) {
		struct pollfd pfd = {fd, POLLIN, 0};
		uint64_t now = pd_now_us() / 1000;
		ssize_t n;
		int pr;

		if (len == PD_CONNTEXT_MAX) {
			snprintf(err, errlen, "stdin: connection text over %d bytes", PD_CONNTEXT_MAX);
			rv = -EINVAL;
			break;
		}
		pr = now >= deadline ? 0 : poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			snprintf(err, errlen, "stdin: no connection text after %llu s",
				 (unsigned long long)(timeout_ms / 1000));
			rv = -ETIMEDOUT;
			break;
		}
		n = pr < 0 ? -1 : read(fd, buf + len, 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "stdin: %s", strerror(errno));
			rv = -EIO;
			break;
		}
		if (n == 0) {
			rv = pd_conntext_parse(buf, len, cf, &used, why, sizeof(why));
			if (rv == -EAGAIN) {
				snprintf(err, errlen, "stdin: closed before the connection text's "
					 "'end' line");
				rv = -EINVAL;
			} else if (rv < 0) {
				snprintf(err, errlen, "stdin: connection text: %s", why);
			}
			break;
		}
		len++;
		if (buf[len - 1] != '\n')
			continue;
		rv = pd_conntext_parse(buf, len, cf, &used, why, sizeof(why));
		if (rv < 0 && rv != -EAGAIN)
			snprintf(err, errlen, "stdin: connection text: %s", why);
	}
	memset(buf, 0, len);
	free(buf);
	if (rv < 0)
		memset(cf->secret, 0, sizeof(cf->secret));
	return rv;
}
