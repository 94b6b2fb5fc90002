/* run_listen.c - the session's listeners: its connection file (a new
 * secret, or on resume the session's own), the local agents' socket, and
 * the TCP listener for agents on other machines (--listen, or the one a
 * launcher needs). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "ctl.h"
#include "log.h"
#include "net.h"
#include "private.h"
#include "session.h"

/* Copies src into dst[len]; 0, or -ENAMETOOLONG when it does not fit. */
static int copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Binds a listener for url. A wildcard host (0.0.0.0, ::) is
 * advertised as this host's name; port 0 takes a free port from
 * PARADE_PORT_RANGE=LO-HI when set. The advertised URL goes to cf. */
static int listen_tcp(ctl *r, const char *url, pd_connfile *cf, pd_tls **tls, char *err,
		      size_t errlen)
{
	const char *range = getenv("PARADE_PORT_RANGE");
	unsigned lo = 0, hi = 0, start = 0;
	pd_endpoint ep, bound;
	char adv[600];
	int rv = -EINVAL, wildcard;

	if (pd_endpoint_parse(url, &ep, err, errlen) < 0)
		return -EINVAL;
	if (ep.kind == PD_EP_TCP && !r->o->insecure) {
		snprintf(err, errlen,
			 "--listen %s is plain TCP without TLS: add --insecure to allow it, or use "
			 "tls+tcp://",
			 url);
		return -EINVAL;
	}
	if (ep.kind == PD_EP_IPC && !r->o->insecure) {
		snprintf(err, errlen,
			 "--listen %s has no authentication: add --insecure to allow it (local "
			 "agents already have a socket in the session folder)",
			 url);
		return -EINVAL;
	}
	wildcard = !strcmp(ep.host, "0.0.0.0") || !strcmp(ep.host, "::");
	if (ep.kind == PD_EP_TLS_TCP && !*tls &&
	    (pd_tls_global_init() < 0 ||
	     pd_tls_new_psk(1, PD_PSK_IDENTITY, cf->secret, sizeof(cf->secret), tls, err, errlen) <
		     0))
		return -EINVAL;
	if (ep.port == 0 && range && sscanf(range, "%u-%u", &lo, &hi) == 2 && lo > 0 &&
	    lo <= hi && hi < 65536) {
		uint8_t rnd[2];
		pd_random(rnd, sizeof(rnd));
		start = ((unsigned)rnd[0] << 8 | rnd[1]) % (hi - lo + 1);
		for (unsigned i = 0; i <= hi - lo && rv < 0; i++) {
			ep.port = lo + (start + i) % (hi - lo + 1);
			rv = pd_server_listen(r->srv, &ep, ep.kind == PD_EP_TLS_TCP ? *tls : NULL,
					      &bound, err, errlen);
		}
	} else {
		rv = pd_server_listen(r->srv, &ep, ep.kind == PD_EP_TLS_TCP ? *tls : NULL, &bound,
				      err, errlen);
	}
	if (rv < 0)
		return rv;
	if (wildcard) {
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		snprintf(bound.host, sizeof(bound.host), "%s", host);
	}
	pd_endpoint_format(&bound, adv, sizeof(adv));
	if (copy_str(cf->endpoint, sizeof(cf->endpoint), adv) < 0) {
		snprintf(err, errlen, "listen URL too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* --secret-file FILE: 64 hex digits (whitespace around them allowed) in a
 * regular file of this user's that group and others can neither read nor
 * write, opened as parade-agent opens a connection file (a link or folder
 * another user could swap is refused). 0, or -errno with err. */
static int read_secret_file(const char *path, uint8_t *secret, char *err, size_t errlen)
{
	char buf[256], *s;
	struct stat st;
	ssize_t n;
	int fd = -1, rv = -EINVAL;

	rv = pd_private_file_open(path, &fd, err, errlen);
	if (rv == -EPERM || rv == -ELOOP) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, " (--secret-file)");
		return rv;
	}
	if (rv < 0) {
		snprintf(err, errlen, "--secret-file %s: %s", path, strerror(-rv));
		return rv;
	}
	rv = -EINVAL;
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		snprintf(err, errlen,
			 "--secret-file %s: readable by group or others (mode %04o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		rv = -EACCES;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	s = buf + strspn(buf, " \t\r\n");
	n = (ssize_t)strcspn(s, " \t\r\n");
	if (s[n + strspn(s + n, " \t\r\n")] != '\0' ||
	    pd_unhex(s, (size_t)n, secret, PD_SECRET_LEN) < 0) {
		snprintf(err, errlen, "--secret-file %s: expected %d hex digits", path,
			 2 * PD_SECRET_LEN);
		goto out;
	}
	rv = 0;
out:
	memset(buf, 0, sizeof(buf));
	close(fd);
	return rv;
}

/* The connection file: a new secret, the one of --secret-file, or (resume)
 * the session's own, so that agents still alive can join again. */
int ctl_listen(ctl *c, pd_connfile *cf, const char *listen_url, pd_tls **tls, char *err,
	       size_t errlen)
{
	char sockpath[4200], old_ep[512] = "";
	pd_endpoint ep, bound;
	pd_connfile old;

	pd_session_path(c->ses.connpath, sizeof(c->ses.connpath), c->ses.dir, PD_SF_CONNECTION);
	if (c->ses.given_secret) {
		/* a Slurm step's: its agents got it from the plugin */
	} else if (c->o->mode == PD_MODE_RESUME &&
	    pd_connfile_read(c->ses.connpath, &old, err, errlen) == 0) {
		memcpy(cf->secret, old.secret, sizeof(cf->secret));
		if (strncmp(old.endpoint, "ipc://", 6))
			snprintf(old_ep, sizeof(old_ep), "%s", old.endpoint);
		memset(&old, 0, sizeof(old));
	} else if (!c->o->secret_file && pd_random(cf->secret, sizeof(cf->secret)) < 0) {
		snprintf(err, errlen, "cannot make a session secret");
		return -EIO;
	}
	/* the file's secret wins, on resume too: its agents hold that one */
	if (c->o->secret_file && read_secret_file(c->o->secret_file, cf->secret, err, errlen) < 0)
		return -EINVAL;
	pd_session_url(sockpath, sizeof(sockpath), c->ses.dir, PD_SF_AGENTS_SOCK);
	if (pd_endpoint_parse(sockpath, &ep, err, errlen) < 0 ||
	    pd_server_listen(c->srv, &ep, NULL, &bound, err, errlen) < 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (set PARADE_HOME to a shorter path?)");
		return -EINVAL;
	}
	cf->version = PD_PROTO_VERSION;
	snprintf(cf->session, sizeof(cf->session), "%s", c->ses.name);
	snprintf(cf->identity, sizeof(cf->identity), "%s", PD_PSK_IDENTITY);
	if (copy_str(cf->local, sizeof(cf->local), sockpath) < 0 ||
	    copy_str(cf->endpoint, sizeof(cf->endpoint), sockpath) < 0) {
		snprintf(err, errlen, "session path too long: %.900s", c->ses.dir);
		return -ENAMETOOLONG;
	}
	/* a restarted controller takes its old port back when it is free, on
	 * the address it was asked for (the advertised name may resolve to a
	 * loopback address here) */
	if (old_ep[0] && listen_url) {
		pd_endpoint want, was;
		char url[600], e2[256];
		if (pd_endpoint_parse(listen_url, &want, e2, sizeof(e2)) == 0 &&
		    pd_endpoint_parse(old_ep, &was, e2, sizeof(e2)) == 0 && want.kind == was.kind &&
		    want.port == 0) {
			want.port = was.port;
			if (pd_endpoint_format(&want, url, sizeof(url)) == 0 &&
			    listen_tcp(c, url, cf, tls, e2, sizeof(e2)) == 0)
				listen_url = NULL;
			else
				pd_info("the session's old port %u is taken, so it listens on a new "
					"one: agents that joined with the connection file read it "
					"again and follow; others need the new file",
					was.port);
		}
	}
	if (listen_url && listen_tcp(c, listen_url, cf, tls, err, errlen) < 0)
		return -EINVAL;
	if (c->ses.given_secret)
		return 0; /* the secret stays off the disk */
	return pd_connfile_write(c->ses.connpath, cf, err, errlen);
}
