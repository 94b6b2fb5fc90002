/* session_conn.c - session.h's connection files (write, read, load by
 * session name or path) and secret files; split from session.c, which
 * keeps the session folders. */
#include "private.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pd_connfile_write(const char *path, const pd_connfile *cf, char *err, size_t errlen)
{
	char tmp[4200], hex[2 * PD_SECRET_LEN + 1];
	FILE *f;
	int fd, rv = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "cannot write %s: path too long", path);
		return -ENAMETOOLONG;
	}
	/* a stale temporary (or a link planted there) goes; a new file is made */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", tmp, strerror(-rv));
		return rv;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		rv = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-rv));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	pd_hex(cf->secret, PD_SECRET_LEN, hex);
	fprintf(f,
		"# parade connection file: it holds the session secret, keep it private\n"
		"version=%u\nsession=%s\nendpoint=%s\n",
		cf->version, cf->session, cf->endpoint);
	if (cf->local[0])
		fprintf(f, "local=%s\n", cf->local);
	fprintf(f, "psk_identity=%s\nsecret=%s\n", cf->identity[0] ? cf->identity : PD_PSK_IDENTITY,
		hex);
	memset(hex, 0, sizeof(hex));
	if (fflush(f) != 0 || fsync(fd) != 0)
		rv = -errno;
	if (fclose(f) != 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -errno;
	if (rv < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rv));
		unlink(tmp);
	}
	return rv;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

static int set_field(char *dst, size_t dstlen, const char *v)
{
	if (strlen(v) >= dstlen)
		return -EINVAL;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int pd_connfile_read(const char *path, pd_connfile *cf, char *err, size_t errlen)
{
	return pd_connfile_read_fd(-1, path, cf, err, errlen);
}

int pd_connfile_read_fd(int fd, const char *path, pd_connfile *cf, char *err, size_t errlen)
{
	int nfd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	FILE *f = nfd >= 0 ? fdopen(nfd, "r") : NULL;
	char line[1024];
	int lineno = 0, have_secret = 0, rv = -EINVAL;
	struct stat st;

	memset(cf, 0, sizeof(*cf));
	if (!f) {
		int e = errno;
		if (nfd >= 0)
			close(nfd);
		snprintf(err, errlen, "cannot read connection file %s: %s", path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *eq;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s: line %d: line too long", path, lineno);
			goto out;
		}
		k = trim(line);
		if (!*k || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s: line %d: expected key=value", path, lineno);
			goto out;
		}
		*eq = 0;
		k = trim(k);
		v = trim(eq + 1);
		if (!strcmp(k, "version")) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (!*v || *end || n == 0 || n > 1000) {
				snprintf(err, errlen, "%s: line %d: bad version '%s'", path, lineno, v);
				goto out;
			}
			cf->version = (unsigned)n;
		} else if (!strcmp(k, "session")) {
			if (set_field(cf->session, sizeof(cf->session), v) < 0)
				goto toolong;
		} else if (!strcmp(k, "endpoint")) {
			if (set_field(cf->endpoint, sizeof(cf->endpoint), v) < 0)
				goto toolong;
		} else if (!strcmp(k, "local")) {
			if (set_field(cf->local, sizeof(cf->local), v) < 0)
				goto toolong;
		} else if (!strcmp(k, "psk_identity")) {
			if (set_field(cf->identity, sizeof(cf->identity), v) < 0)
				goto toolong;
		} else if (!strcmp(k, "secret")) {
			if (pd_unhex(v, strlen(v), cf->secret, PD_SECRET_LEN) < 0) {
				snprintf(err, errlen, "%s: line %d: secret must be %d hex digits", path,
					 lineno, 2 * PD_SECRET_LEN);
				goto out;
			}
			have_secret = 1;
		} else {
			snprintf(err, errlen, "%s: line %d: unknown key '%s'", path, lineno, k);
			goto out;
		}
		continue;
toolong:
		snprintf(err, errlen, "%s: line %d: value of '%s' too long", path, lineno, k);
		goto out;
	}
	if (!cf->version || !cf->endpoint[0] || !have_secret) {
		snprintf(err, errlen, "%s: missing %s", path,
			 !cf->version ? "version" : !cf->endpoint[0] ? "endpoint" : "secret");
		goto out;
	}
	if (!cf->identity[0])
		snprintf(cf->identity, sizeof(cf->identity), "%s", PD_PSK_IDENTITY);
	rv = 0;
	if (fstat(fileno(f), &st) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot check connection file %s: %s", path, strerror(-rv));
	} else if (pd_private_file_mode(&st, path, err, errlen) < 0) {
		rv = -EACCES; /* refused: -EPERM is the warning below */
	} else if (st.st_mode & 077) {
		snprintf(err, errlen, "%s is readable by others (mode %03o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 0777));
		rv = -EPERM;
	}
out:
	memset(line, 0, sizeof(line));
	fclose(f);
	if (rv < 0 && rv != -EPERM)
		memset(cf->secret, 0, sizeof(cf->secret));
	return rv;
}

/* The connection file of session name, opened through its held folder
 * (found by pd_session_find_at) without following a link; p gets its
 * path. 0 and *fd, or -errno with err. */
static int session_connfile_open(const char *name, char *p, size_t plen, int *fd, char *err,
				 size_t errlen)
{
	char dir[4400];
	int dfd = -1, f, rv;

	*fd = -1;
	rv = pd_session_find_at(name, dir, sizeof(dir), &dfd, err, errlen);
	if (rv < 0)
		return rv;
	if (pd_session_path(p, plen, dir, PD_SF_CONNECTION) < 0) {
		snprintf(err, errlen, "session path too long");
		rv = -ENAMETOOLONG;
		goto out;
	}
	/* O_NONBLOCK: a FIFO in its place must not hang the open */
	f = openat(dfd, PD_SF_CONNECTION, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		rv = -errno;
		if (rv == -ELOOP || rv == -EMLINK) {
			rv = -ELOOP;
			snprintf(err, errlen,
				 "connection file %s is a symbolic link: parade never follows links "
				 "inside PARADE_HOME; remove it",
				 p);
		} else {
			snprintf(err, errlen, "cannot read connection file %s: %s", p,
				 strerror(-rv));
		}
		goto out;
	}
	if ((rv = pd_private_file_check(f, p, err, errlen)) < 0 ||
	    (fcntl(f, F_SETFL, 0) < 0 && (rv = -errno) < 0)) {
		if (rv != -EPERM)
			snprintf(err, errlen, "cannot read connection file %s: %s", p,
				 strerror(-rv));
		close(f);
		goto out;
	}
	*fd = f;
out:
	close(dfd);
	return rv;
}

int pd_connfile_load(const char *path, const char *session, char *used, size_t usedlen,
		     pd_connfile *cf, char *err, size_t errlen)
{
	char p[4600];
	int fd = -1, rv;

	memset(cf, 0, sizeof(*cf));
	if (used && usedlen)
		used[0] = 0;
	if (session) {
		rv = session_connfile_open(session, p, sizeof(p), &fd, err, errlen);
	} else {
		snprintf(p, sizeof(p), "%s", path);
		rv = pd_private_file_open(path, &fd, err, errlen);
	}
	if (rv == -EPERM) /* refused; -EPERM from a read is only a warning */
		return -EACCES;
	if (rv < 0)
		return rv;
	if (used)
		snprintf(used, usedlen, "%s", p);
	rv = pd_connfile_read_fd(fd, p, cf, err, errlen);
	close(fd);
	return rv;
}

int pd_secret_read(const char *path, uint8_t secret[PD_SECRET_LEN], char *err, size_t errlen)
{
	char buf[256];
	FILE *f = fopen(path, "re");
	size_t n;
	char *s;

	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot read secret file %s: %s", path, strerror(e));
		return -e;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	s = trim(buf);
	if (pd_unhex(s, strlen(s), secret, PD_SECRET_LEN) < 0) {
		snprintf(err, errlen, "%s: expected %d hex digits", path, 2 * PD_SECRET_LEN);
		memset(buf, 0, sizeof(buf));
		return -EINVAL;
	}
	memset(buf, 0, sizeof(buf));
	return 0;
}

