#include "session.h"
#include "private.h"
#include "session_rt.h"

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

static int path_done(int n, char *out, size_t outlen)
{
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = 0;
		return -ENAMETOOLONG;
	}
	return 0;
}

int pd_session_path(char *out, size_t outlen, const char *dir, const char *file)
{
	return path_done(snprintf(out, outlen, "%s/%s", dir, file), out, outlen);
}

int pd_session_url(char *out, size_t outlen, const char *dir, const char *file)
{
	return path_done(snprintf(out, outlen, "ipc://%s/%s", dir, file), out, outlen);
}

int pd_session_sbatch_path(char *out, size_t outlen, const char *dir, unsigned n)
{
	if (n == 0)
		return path_done(snprintf(out, outlen, "%s/agents.sbatch", dir), out, outlen);
	return path_done(snprintf(out, outlen, "%s/agents-%u.sbatch", dir, n), out, outlen);
}

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

/* A folder parade keeps sessions in must be this user's alone: nobody
 * else may rename, replace or plant anything in it (the rule and its
 * messages: lib/private.h, shared with the Slurm plugin). */
static int check_private(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int verdict;

	if (fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot check %s: %s", path, strerror(e));
		return -e;
	}
	verdict = pd_private_judge(&st, geteuid());
	if (verdict == PD_PRIVATE_OK)
		return 0;
	pd_private_message(verdict, path, st.st_uid, st.st_mode, err, errlen);
	return verdict == PD_PRIVATE_NOTDIR ? -ENOTDIR : -EPERM;
}

/* Opens the folder name in the folder pfd (path names it in messages),
 * creating it 0700 first when create is set. A symbolic link is never
 * followed: -ELOOP. With check, the folder must pass check_private.
 * 0 and *fd, or -errno with err. */
static int open_sub(int pfd, const char *name, const char *path, int create, int check, int *fd,
		    char *err, size_t errlen)
{
	struct stat st;
	int f, rv;

	*fd = -1;
	if (create && mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) {
		rv = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(-rv));
		return rv;
	}
	f = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		rv = -errno;
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			pd_private_message(PD_PRIVATE_LINK, path, st.st_uid, st.st_mode, err,
					   errlen);
			return -ELOOP;
		}
		if (rv == -ENOTDIR)
			snprintf(err, errlen, "%s exists and is not a folder", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rv));
		return rv;
	}
	if (check && (rv = check_private(f, path, err, errlen)) < 0) {
		close(f);
		return rv;
	}
	*fd = f;
	return 0;
}

/* The home folder's path (PARADE_HOME, or ~/.parade). */
static int home_path(char *out, size_t outlen, char *err, size_t errlen)
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
		n = snprintf(out, outlen, "%s/" PD_HOME_DEFAULT, home);
	}
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "parade home path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The home folder, created 0700 if missing and checked; the home itself
 * may be a link the user made (~/.parade -> /scratch/...): what it leads
 * to is checked. 0 and *fd, or -errno with err. */
static int home_open(char *path, size_t len, int *fd, char *err, size_t errlen)
{
	int rv = home_path(path, len, err, errlen), f;

	*fd = -1;
	if (rv < 0)
		return rv;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rv = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(-rv));
		return rv;
	}
	f = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f < 0) {
		rv = -errno;
		if (rv == -ENOTDIR)
			snprintf(err, errlen, "%s exists and is not a folder", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rv));
		return rv;
	}
	if ((rv = check_private(f, path, err, errlen)) < 0) {
		close(f);
		return rv;
	}
	*fd = f;
	return 0;
}

/* The sessions folder (created if missing, checked): *fd and its path. */
static int sessions_open(char *sessions, size_t len, int *fd, char *err, size_t errlen);

int pd_ses_open_sub(int pfd, const char *name, const char *path, int create, int check, int *fd,
		    char *err, size_t errlen)
{
	return open_sub(pfd, name, path, create, check, fd, err, errlen);
}

int pd_ses_sessions_open(char *sessions, size_t len, int *fd, char *err, size_t errlen)
{
	return sessions_open(sessions, len, fd, err, errlen);
}

static int sessions_open(char *sessions, size_t len, int *fd, char *err, size_t errlen)
{
	char home[4096];
	int hfd, rv;

	*fd = -1;
	rv = home_open(home, sizeof(home), &hfd, err, errlen);
	if (rv < 0)
		return rv;
	if ((size_t)snprintf(sessions, len, "%s/sessions", home) >= len) {
		snprintf(err, errlen, "parade home path too long");
		close(hfd);
		return -ENAMETOOLONG;
	}
	rv = open_sub(hfd, PD_SESSIONS_DIR, sessions, 1, 1, fd, err, errlen);
	close(hfd);
	return rv;
}

int pd_home_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	char sessions[4200];
	int hfd, sfd, rv = home_open(out, outlen, &hfd, err, errlen);

	if (rv < 0)
		return rv;
	/* callers read sessions/NAME/connection: the sessions folder must be
	 * as private as the home, if there is one yet */
	snprintf(sessions, sizeof(sessions), "%s/sessions", out);
	rv = open_sub(hfd, PD_SESSIONS_DIR, sessions, 0, 1, &sfd, err, errlen);
	close(hfd);
	if (rv == -ENOENT)
		return 0;
	if (rv == 0)
		close(sfd);
	return rv;
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

static int check_name(const char *name, char *err, size_t errlen)
{
	if (name_ok(name))
		return 0;
	snprintf(err, errlen,
		 "invalid session name '%s' (use 1-64 of A-Z a-z 0-9 _ . -, not starting with '.')",
		 name);
	return -EINVAL;
}

/* Opens session name's folder in the sessions folder sfd: dir gets its
 * path; with create it is made first; it must pass check_private (this
 * user's, not writable by group or others: control.sock and connection
 * are trusted for what they are because nobody else can put them there). */
static int session_at(int sfd, const char *sessions, const char *name, int create, char *dir,
		      size_t dirlen, int *dfd, char *err, size_t errlen)
{
	*dfd = -1;
	if ((size_t)snprintf(dir, dirlen, "%s/%s", sessions, name) >= dirlen) {
		snprintf(err, errlen, "session path too long");
		return -ENAMETOOLONG;
	}
	return open_sub(sfd, name, dir, create, 1, dfd, err, errlen);
}

/* Hands fd to *out, or closes it when out is NULL. */
static void give_fd(int fd, int *out)
{
	if (out)
		*out = fd;
	else if (fd >= 0)
		close(fd);
}

/* The session folder NAME, made first when create: its path in dir, its
 * descriptor handed to *dfd (closed when dfd is NULL). With resolve, a
 * runtime folder the home's folder points at (session_rt.c) is the one
 * found; host gets the pointer's host ("" without one; may be NULL). */
static int session_get(const char *name, int create, int resolve, char *dir, size_t dirlen,
		       int *dfd, char *host, size_t hostlen, char *err, size_t errlen)
{
	char sessions[4200];
	int sfd = -1, fd = -1, rv;

	if (dfd)
		*dfd = -1;
	if (host && hostlen)
		host[0] = 0;
	rv = check_name(name, err, errlen);
	if (rv == 0)
		rv = sessions_open(sessions, sizeof(sessions), &sfd, err, errlen);
	if (rv == 0) {
		rv = session_at(sfd, sessions, name, create, dir, dirlen, &fd, err, errlen);
		if (rv == -ENOENT && !create)
			snprintf(err, errlen, "no session named '%s' in %s ('parade status' lists them)",
				 name, sessions);
	}
	if (rv == 0 && resolve && (rv = pd_srt_resolve(name, dir, dirlen, &fd, host, hostlen, err,
						       errlen)) < 0) {
		close(fd);
		fd = -1;
	}
	if (sfd >= 0)
		close(sfd);
	give_fd(fd, dfd);
	return rv;
}

int pd_session_open(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		    size_t errlen)
{
	return session_get(name, 1, 1, dir, dirlen, dfd, NULL, 0, err, errlen);
}

int pd_session_find_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		       size_t errlen)
{
	return session_get(name, 0, 1, dir, dirlen, dfd, NULL, 0, err, errlen);
}

int pd_session_find(const char *name, char *dir, size_t dirlen, char *err, size_t errlen)
{
	return pd_session_find_at(name, dir, dirlen, NULL, err, errlen);
}

int pd_session_home_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		       size_t errlen)
{
	return session_get(name, 0, 0, dir, dirlen, dfd, NULL, 0, err, errlen);
}

int pd_session_locate(const char *name, char *dir, size_t dirlen, char *host, size_t hostlen,
		      char *err, size_t errlen)
{
	return session_get(name, 0, 1, dir, dirlen, NULL, host, hostlen, err, errlen);
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
	struct stat st;
	DIR *d = NULL;
	int sfd = -1, dfd, rv = sessions_open(sessions, sizeof(sessions), &sfd, err, errlen);

	if (rv < 0)
		return rv;
	if ((dfd = dup(sfd)) < 0 || !(d = fdopendir(dfd))) {
		rv = -errno;
		snprintf(err, errlen, "cannot read %s: %s", sessions, strerror(-rv));
		if (dfd >= 0)
			close(dfd);
		close(sfd);
		return rv;
	}
	while ((e = readdir(d))) {
		/* a link is never a session: it is not followed, nor listed */
		if (!name_ok(e->d_name) || fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
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
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && rv == 0; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", sessions, names[i]);
		rv = cb(arg, names[i], dir);
	}
out:
	if (rv == -ENOMEM)
		snprintf(err, errlen, "out of memory listing sessions");
	closedir(d);
	close(sfd);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rv;
}

int pd_session_create(const char *name, char *dir, size_t dirlen, char *name_out, size_t namelen,
		      int *dfd, char *err, size_t errlen)
{
	char sessions[4200], gen[16];
	int rv, tries = 0, sfd = -1, fd = -1;

	if (dfd)
		*dfd = -1;
	if (name && (rv = check_name(name, err, errlen)) < 0)
		return rv;
	rv = sessions_open(sessions, sizeof(sessions), &sfd, err, errlen);
	if (rv < 0)
		return rv;
	for (;;) {
		const char *nm = name;
		if (!nm) {
			uint8_t r[6];
			pd_random(r, sizeof(r));
			strcpy(gen, "s-");
			for (int i = 0; i < 6; i++)
				gen[2 + i] = (char)('a' + r[i] % 26);
			gen[8] = 0;
			nm = gen;
		}
		if ((size_t)snprintf(dir, dirlen, "%s/%s", sessions, nm) >= dirlen) {
			snprintf(err, errlen, "session path too long");
			rv = -ENAMETOOLONG;
			break;
		}
		if (mkdirat(sfd, nm, 0700) == 0) {
			snprintf(name_out, namelen, "%s", nm);
			/* ours alone: made just now in a folder nobody else may write */
			rv = session_at(sfd, sessions, nm, 0, dir, dirlen, &fd, err, errlen);
			/* on a network home its live files go to this host */
			if (rv == 0 && (rv = pd_srt_create(nm, dir, dirlen, &fd, err, errlen)) < 0) {
				close(fd);
				fd = -1;
				unlinkat(sfd, nm, AT_REMOVEDIR);
			}
			break;
		}
		rv = -errno;
		if (rv != -EEXIST || name || ++tries > 20) {
			if (rv == -EEXIST)
				snprintf(err, errlen, "session '%s' already exists (%s)", nm, dir);
			else
				snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rv));
			break;
		}
	}
	close(sfd);
	give_fd(fd, dfd);
	return rv;
}

int pd_ses_empty(int dfd, const char *what, char *err, size_t errlen)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd, rv = 0;

	/* unlinkat removes a link itself, never what it points to */
	if ((fd = dup(dfd)) < 0 || !(d = fdopendir(fd))) {
		rv = -errno;
		snprintf(err, errlen, "cannot read %s: %s", what, strerror(-rv));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT && rv == 0) {
			rv = -errno;
			snprintf(err, errlen, "cannot remove %s in %s: %s", e->d_name, what,
				 strerror(-rv));
		}
	}
	closedir(d);
	return rv;
}

int pd_session_remove(int dfd, const char *name, char *err, size_t errlen)
{
	char sessions[4200], what[200];
	struct stat held, now;
	int sfd = -1, rv = 0;

	/* empty the folder we hold, wherever it is now */
	snprintf(what, sizeof(what), "the folder of session %s", name);
	if ((rv = pd_ses_empty(dfd, what, err, errlen)) < 0)
		return rv;
	/* then its name, only if the name still is that folder */
	rv = sessions_open(sessions, sizeof(sessions), &sfd, err, errlen);
	if (rv < 0)
		return rv;
	if (fstat(dfd, &held) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot check the folder of session %s: %s", name,
			 strerror(-rv));
	} else if (fstatat(sfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0) {
		rv = errno == ENOENT ? 0 : -errno;
		if (rv < 0)
			snprintf(err, errlen, "cannot check %s/%s: %s", sessions, name,
				 strerror(-rv));
	} else if ((!S_ISDIR(now.st_mode) || now.st_dev != held.st_dev ||
		    now.st_ino != held.st_ino) &&
		   (rv = pd_srt_remove(dfd, sfd, sessions, name, err, errlen)) != 1) {
		/* it was the runtime folder sessions/NAME points at: both gone */
	} else if (rv == 1) {
		rv = -ESTALE;
		snprintf(err, errlen,
			 "%s/%s is no longer the folder of session %s (it was moved or replaced, by "
			 "a link perhaps): its files were removed, the name is left alone",
			 sessions, name, name);
	} else if (unlinkat(sfd, name, AT_REMOVEDIR) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove %s/%s: %s", sessions, name, strerror(-rv));
	}
	close(sfd);
	return rv;
}
