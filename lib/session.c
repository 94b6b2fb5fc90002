#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int pd_random(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void pd_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pd_unhex(const char *s, size_t slen, uint8_t *p, size_t n)
{
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int mkdir_private(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
		return -e;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a folder", path);
		return -ENOTDIR;
	}
	return 0;
}

int pd_home_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *h = getenv("PARADE_HOME");
	int n;

	if (h && *h) {
		n = snprintf(out, outlen, "%s", h);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home) {
			snprintf(err, errlen, "cannot find a home folder: set PARADE_HOME");
			return -ENOENT;
		}
		n = snprintf(out, outlen, "%s/.parade", home);
	}
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "parade home path too long");
		return -ENAMETOOLONG;
	}
	return mkdir_private(out, err, errlen);
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* The sessions folder (created if missing) after checking name. */
static int sessions_dir(const char *name, char *sessions, size_t len, char *err, size_t errlen)
{
	char home[4096];
	int rv = pd_home_dir(home, sizeof(home), err, errlen);

	if (rv < 0)
		return rv;
	if ((size_t)snprintf(sessions, len, "%s/sessions", home) >= len) {
		snprintf(err, errlen, "parade home path too long");
		return -ENAMETOOLONG;
	}
	rv = mkdir_private(sessions, err, errlen);
	if (rv < 0)
		return rv;
	if (name && !name_ok(name)) {
		snprintf(err, errlen,
			 "invalid session name '%s' (use 1-64 of A-Z a-z 0-9 _ . -, not starting "
			 "with '.')",
			 name);
		return -EINVAL;
	}
	return 0;
}

/* dir = the folder of session name (checked), sessions = their parent. */
static int session_path(const char *name, char *sessions, size_t slen, char *dir, size_t dirlen,
			char *err, size_t errlen)
{
	int rv = sessions_dir(name, sessions, slen, err, errlen);

	if (rv < 0)
		return rv;
	if ((size_t)snprintf(dir, dirlen, "%s/%s", sessions, name) >= dirlen) {
		snprintf(err, errlen, "session path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

int pd_session_open(const char *name, char *dir, size_t dirlen, char *err, size_t errlen)
{
	char sessions[4200];
	struct stat st;
	int rv = session_path(name, sessions, sizeof(sessions), dir, dirlen, err, errlen);

	if (rv < 0)
		return rv;
	rv = mkdir_private(dir, err, errlen);
	if (rv < 0)
		return rv;
	if (stat(dir, &st) < 0 || st.st_uid != getuid()) {
		snprintf(err, errlen, "session folder %s is not owned by this user", dir);
		return -EPERM;
	}
	return 0;
}

int pd_session_find(const char *name, char *dir, size_t dirlen, char *err, size_t errlen)
{
	char sessions[4200];
	struct stat st;
	int rv = session_path(name, sessions, sizeof(sessions), dir, dirlen, err, errlen);

	if (rv < 0)
		return rv;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "no session named '%s' in %s ('parade status' lists them)", name,
			 sessions);
		return -ENOENT;
	}
	if (st.st_uid != getuid()) {
		snprintf(err, errlen, "session folder %s is not owned by this user", dir);
		return -EPERM;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pd_session_list(int (*cb)(void *arg, const char *name, const char *dir), void *arg, char *err,
		    size_t errlen)
{
	char sessions[4200], dir[4400];
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int rv = sessions_dir(NULL, sessions, sizeof(sessions), err, errlen);

	if (rv < 0)
		return rv;
	if (!(d = opendir(sessions))) {
		rv = -errno;
		snprintf(err, errlen, "cannot read %s: %s", sessions, strerror(errno));
		return rv;
	}
	while ((e = readdir(d))) {
		if (!name_ok(e->d_name))
			continue;
		if (n == cap) {
			char **t = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*t));
			if (!t) {
				rv = -ENOMEM;
				goto out;
			}
			names = t;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rv = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && rv == 0; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", sessions, names[i]);
		rv = cb(arg, names[i], dir);
	}
out:
	if (rv == -ENOMEM)
		snprintf(err, errlen, "out of memory listing sessions");
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rv;
}

int pd_session_create(const char *name, char *dir, size_t dirlen, char *name_out, size_t namelen,
		      char *err, size_t errlen)
{
	char sessions[4200], gen[16];
	int rv, tries = 0;

	rv = sessions_dir(name, sessions, sizeof(sessions), err, errlen);
	if (rv < 0)
		return rv;
	for (;;) {
		const char *nm = name;
		int n;
		if (!nm) {
			uint8_t r[6];
			pd_random(r, sizeof(r));
			strcpy(gen, "s-");
			for (int i = 0; i < 6; i++)
				gen[2 + i] = (char)('a' + r[i] % 26);
			gen[8] = 0;
			nm = gen;
		}
		n = snprintf(dir, dirlen, "%s/%s", sessions, nm);
		if (n < 0 || (size_t)n >= dirlen) {
			snprintf(err, errlen, "session path too long");
			return -ENAMETOOLONG;
		}
		if (mkdir(dir, 0700) == 0) {
			snprintf(name_out, namelen, "%s", nm);
			return 0;
		}
		if (errno != EEXIST || name || ++tries > 20) {
			int e = errno;
			if (e == EEXIST)
				snprintf(err, errlen, "session '%s' already exists (%s)", nm, dir);
			else
				snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
			return -e;
		}
	}
}

int pd_session_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

int pd_connfile_write(const char *path, const pd_connfile *cf, char *err, size_t errlen)
{
	char tmp[4200], hex[2 * PD_SECRET_LEN + 1];
	FILE *f;
	int fd, rv = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
	FILE *f = fopen(path, "re");
	char line[1024];
	int lineno = 0, have_secret = 0, rv = -EINVAL;
	struct stat st;

	memset(cf, 0, sizeof(*cf));
	if (!f) {
		int e = errno;
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
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
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
