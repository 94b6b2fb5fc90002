/* private.c - see private.h. libc only: also compiled into the SPANK
 * plugin. */
#include "private.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pd_private_judge(const struct stat *st, uid_t uid)
{
	if (!S_ISDIR(st->st_mode))
		return PD_PRIVATE_NOTDIR;
	if (st->st_uid != uid)
		return PD_PRIVATE_OWNER;
	if (st->st_mode & 022)
		return PD_PRIVATE_WRITABLE;
	return PD_PRIVATE_OK;
}

/* "uid 1000 (alice)", or "uid 1000" when the name cannot be found. */
static void owner_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *pwp = NULL;
	char buf[2048];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp && pw.pw_name)
		snprintf(out, len, "uid %lu (%s)", (unsigned long)uid, pw.pw_name);
	else
		snprintf(out, len, "uid %lu", (unsigned long)uid);
}

void pd_private_message(int verdict, const char *path, uid_t owner, mode_t mode, char *err,
			size_t errlen)
{
	char who[300];

	switch (verdict) {
	case PD_PRIVATE_NOTDIR:
		snprintf(err, errlen, "%s exists and is not a folder", path);
		break;
	case PD_PRIVATE_OWNER:
		owner_name(owner, who, sizeof(who));
		snprintf(err, errlen,
			 "%s belongs to %s, not to this user: parade keeps its sessions only in "
			 "folders of its own; choose another PARADE_HOME",
			 path, who);
		break;
	case PD_PRIVATE_WRITABLE:
		snprintf(err, errlen,
			 "%s is writable by group or others (mode %04o), so they could replace "
			 "what parade keeps there: run chmod 700 %s, or choose another PARADE_HOME",
			 path, (unsigned)(mode & 07777), path);
		break;
	case PD_PRIVATE_LINK:
		snprintf(err, errlen,
			 "%s is a symbolic link: parade never follows links inside PARADE_HOME; "
			 "remove it",
			 path);
		break;
	default:
		snprintf(err, errlen, "%s is fine", path);
		break;
	}
}

/* The folder part of path ("." for a bare name, "/" for "/x"). */
static int folder_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return snprintf(out, len, ".") < (int)len ? 0 : -ENAMETOOLONG;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(out, path, n);
	out[n] = 0;
	return 0;
}

int pd_private_file_mode(const struct stat *st, const char *path, char *err, size_t errlen)
{
	if (!(st->st_mode & 022))
		return 0;
	snprintf(err, errlen,
		 "connection file %s is writable by group or others (mode %04o), so they could "
		 "send its users to a controller of theirs: run chmod 600 %s",
		 path, (unsigned)(st->st_mode & 07777), path);
	return -EPERM;
}

int pd_private_file_check(int fd, const char *path, char *err, size_t errlen)
{
	char who[300];
	struct stat st;
	int rv;

	if (fstat(fd, &st) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot check connection file %s: %s", path, strerror(-rv));
		return rv;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "connection file %s is not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		owner_name(st.st_uid, who, sizeof(who));
		snprintf(err, errlen,
			 "connection file %s belongs to %s, not to this user: another user could "
			 "send the agents that read it to a controller of theirs; use a file of "
			 "your own",
			 path, who);
		return -EPERM;
	}
	return pd_private_file_mode(&st, path, err, errlen);
}

int pd_private_file_open(const char *path, int *fd, char *err, size_t errlen)
{
	uid_t me = geteuid();
	char folder[4096], who[300];
	struct stat st;
	int f = -1, rv;

	*fd = -1;
	if ((rv = folder_of(path, folder, sizeof(folder))) < 0) {
		snprintf(err, errlen, "%s: path too long", path);
		return rv;
	}
	if (stat(folder, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 022) &&
	    !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen,
			 "%s, the folder of connection file %s, is writable by group or others "
			 "(mode %04o), so they could swap the file: run chmod 700 %s, or keep "
			 "the file in a folder of your own",
			 folder, path, (unsigned)(st.st_mode & 07777), folder);
		return -EPERM;
	}
	/* O_NONBLOCK: a FIFO planted at path must not hang the open */
	f = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f < 0 && (errno == ELOOP || errno == EMLINK)) {
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != me) {
			owner_name(st.st_uid, who, sizeof(who));
			snprintf(err, errlen,
				 "connection file %s is a symbolic link owned by %s, not by this "
				 "user: it is not followed; name the file itself",
				 path, who);
			return -ELOOP;
		}
		f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	}
	if (f < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot read connection file %s: %s", path, strerror(-rv));
		return rv;
	}
	if ((rv = pd_private_file_check(f, path, err, errlen)) < 0)
		goto fail;
	if (fcntl(f, F_SETFL, 0) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot read connection file %s: %s", path, strerror(-rv));
		goto fail;
	}
	*fd = f;
	return 0;
fail:
	close(f);
	return rv;
}
