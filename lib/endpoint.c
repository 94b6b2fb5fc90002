#include "endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SCHEMES "use tls+tcp://, tcp:// or ipc://"

static int fail(char *err, size_t errlen, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *url, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err && errlen) {
		n = snprintf(err, errlen, "endpoint '%s': ", url);
		if (n >= 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static int parse_ipc(const char *url, const char *path, pd_endpoint *ep, char *err,
		     size_t errlen)
{
	size_t len = strlen(path);

	if (path[0] != '/')
		return fail(err, errlen, url, "ipc path must be absolute");
	if (len >= sizeof(ep->path))
		return fail(err, errlen, url, "path too long (%zu max)", sizeof(ep->path) - 1);
	memcpy(ep->path, path, len + 1);
	return 0;
}

static int check_v6(const char *url, const char *h, size_t len, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;
	const char *zone = memchr(h, '%', len);
	size_t alen = zone ? (size_t)(zone - h) : len;
	size_t i;

	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, h, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, &a) != 1)
		goto bad;
	/* a scope id ("fe80::1%eth0") is needed to use link-local addresses */
	if (zone) {
		if (zone + 1 == h + len)
			goto bad;
		for (i = zone + 1 - h; i < len; i++)
			if (!is_host_char(h[i]))
				goto bad;
	}
	return 0;
bad:
	return fail(err, errlen, url, "invalid IPv6 address '%.*s'", (int)len, h);
}

static int check_name(const char *url, const char *h, size_t len, char *err, size_t errlen)
{
	char addr[INET_ADDRSTRLEN + 1];
	struct in_addr a;
	int numeric = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (h[i] == ':')
			return fail(err, errlen, url,
				    "IPv6 address must be in brackets, e.g. tcp://[::1]:PORT");
		if (!is_host_char(h[i]))
			return fail(err, errlen, url, "invalid character '%c' in host '%.*s'",
				    h[i], (int)len, h);
		if (!(h[i] >= '0' && h[i] <= '9') && h[i] != '.')
			numeric = 0;
	}
	/* names are never all digits and dots: this must be a dotted quad */
	if (numeric) {
		if (len >= sizeof(addr))
			goto bad;
		memcpy(addr, h, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET, addr, &a) != 1)
			goto bad;
	}
	return 0;
bad:
	return fail(err, errlen, url, "invalid IPv4 address '%.*s'", (int)len, h);
}

static int parse_port(const char *url, const char *p, unsigned *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	if (!*p)
		return fail(err, errlen, url, "missing port (HOST:PORT)");
	for (i = 0; p[i]; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(err, errlen, url, "port '%s' is not a number", p);
		if (v <= 65535)
			v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > 65535)
		return fail(err, errlen, url, "port '%s' out of range (0-65535)", p);
	*port = (unsigned)v;
	return 0;
}

static int parse_tcp(const char *url, const char *hp, pd_endpoint *ep, char *err,
		     size_t errlen)
{
	const char *host, *port;
	size_t hlen;
	int rv;

	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');

		if (!end)
			return fail(err, errlen, url, "missing ']' after IPv6 address");
		host = hp + 1;
		hlen = end - host;
		if (hlen == 0)
			return fail(err, errlen, url, "missing host");
		if (end[1] != ':')
			return fail(err, errlen, url, "missing port (HOST:PORT)");
		port = end + 2;
		rv = check_v6(url, host, hlen, err, errlen);
	} else {
		const char *colon = strrchr(hp, ':');

		host = hp;
		if (!colon) {
			hlen = strlen(hp);
			port = hp + hlen;
		} else {
			hlen = colon - hp;
			port = colon + 1;
		}
		if (hlen == 0)
			return fail(err, errlen, url, "missing host");
		rv = check_name(url, host, hlen, err, errlen);
	}
	if (rv < 0)
		return rv;
	if (hlen >= sizeof(ep->host))
		return fail(err, errlen, url, "host too long (%zu max)", sizeof(ep->host) - 1);
	rv = parse_port(url, port, &ep->port, err, errlen);
	if (rv < 0)
		return rv;
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = '\0';
	return 0;
}

int pd_endpoint_parse(const char *url, pd_endpoint *ep, char *err, size_t errlen)
{
	const char *sep = strstr(url, "://");
	const char *rest;
	size_t slen;

	memset(ep, 0, sizeof(*ep));
	if (!sep)
		return fail(err, errlen, url, "missing scheme (" SCHEMES ")");
	slen = sep - url;
	rest = sep + 3;
	if (slen == 7 && strncasecmp(url, "tls+tcp", 7) == 0) {
		ep->kind = PD_EP_TLS_TCP;
		return parse_tcp(url, rest, ep, err, errlen);
	}
	if (slen == 3 && strncasecmp(url, "tcp", 3) == 0) {
		ep->kind = PD_EP_TCP;
		return parse_tcp(url, rest, ep, err, errlen);
	}
	if (slen == 3 && strncasecmp(url, "ipc", 3) == 0) {
		ep->kind = PD_EP_IPC;
		return parse_ipc(url, rest, ep, err, errlen);
	}
	return fail(err, errlen, url, "unknown scheme '%.*s' (" SCHEMES ")", (int)slen, url);
}

int pd_endpoint_format(const pd_endpoint *ep, char *out, size_t outlen)
{
	const char *scheme = ep->kind == PD_EP_TLS_TCP ? "tls+tcp" : "tcp";

	if (ep->kind == PD_EP_IPC)
		return snprintf(out, outlen, "ipc://%s", ep->path);
	if (strchr(ep->host, ':'))
		return snprintf(out, outlen, "%s://[%s]:%u", scheme, ep->host, ep->port);
	return snprintf(out, outlen, "%s://%s:%u", scheme, ep->host, ep->port);
}
