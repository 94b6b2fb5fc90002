/* session_rt.c - a session's runtime folder when PARADE_HOME is on a
 * network file system (lib/homefs.h): made with the session, found through
 * the pointer in the home's session folder, taken over by resume, removed
 * with the session. */
#include "homefs.h"
#include "lock.h"
#include "private.h"
#include "session.h"
#include "session_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The runtime folder p names, which must be this user's alone. 0 and *fd;
 * -ENOENT when it is gone; -errno with err. */
static int open_runtime(const pd_rtptr *p, int *fd, char *err, size_t errlen)
{
	struct stat st;
	int f, v = PD_PRIVATE_OK;

	*fd = -1;
	f = open(p->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		int e = errno;
		if (e != ENOENT)
			snprintf(err, errlen, "cannot open the session's runtime folder %s: %s",
				 p->dir, strerror(e));
		return -e;
	}
	if (fstat(f, &st) < 0 || (v = pd_private_judge(&st, geteuid())) != PD_PRIVATE_OK) {
		if (fstat(f, &st) == 0)
			pd_private_message(v, p->dir, st.st_uid, st.st_mode, err, errlen);
		else
			snprintf(err, errlen, "cannot check %s: %s", p->dir, strerror(errno));
		close(f);
		return -EPERM;
	}
	*fd = f;
	return 0;
}

/* 1 if the descriptors a and b hold the same folder. */
static int fstat_same(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* pd_srt_resolve; own_lock: the caller holds the home's lock itself. */
static int resolve(const char *name, char *dir, size_t dirlen, int *fd, char *host,
		   size_t hostlen, int own_lock, char *err, size_t errlen)
{
	char me[256];
	pd_rtptr p;
	time_t age = 0;
	int rfd, rv;

	if (host && hostlen)
		host[0] = 0;
	rv = pd_rtptr_read(*fd, &p, &age, err, errlen);
	if (rv == -ENOENT)
		return 0;
	if (rv < 0)
		return rv;
	if (host)
		snprintf(host, hostlen, "%s", p.host);
	pd_host_name(me, sizeof(me));
	if (!strcmp(p.host, me)) {
		rv = open_runtime(&p, &rfd, err, errlen);
		if (rv == -ENOENT) /* gone with a reboot, say: the durable copy is the session */
			return 0;
		if (rv < 0)
			return rv;
		if (strlen(p.dir) >= dirlen) {
			close(rfd);
			snprintf(err, errlen, "session path too long");
			return -ENAMETOOLONG;
		}
		close(*fd);
		*fd = rfd;
		snprintf(dir, dirlen, "%s", p.dir);
		return 0;
	}
	/* another host's: its controller holds the home's lock (where the file
	 * system carries locks across hosts) and touches the pointer */
	if ((!own_lock && pd_lock_held(dir, NULL, 0) == 1) || age < PD_RUNTIME_STALE_S) {
		snprintf(err, errlen,
			 "session %s runs on host %s (its controller and live files are there, in "
			 "%s): run this command on %s",
			 name, p.host, p.dir, p.host);
		return -EREMOTE;
	}
	return 0;
}

int pd_srt_resolve(const char *name, char *dir, size_t dirlen, int *fd, char *host,
		   size_t hostlen, char *err, size_t errlen)
{
	return resolve(name, dir, dirlen, fd, host, hostlen, 0, err, errlen);
}

/* Makes a runtime folder for session name (BASE/NAME-XXXXXX), writes the
 * pointer into the home folder *fd and hands the runtime folder in *fd
 * and dir. 0 or -errno with err (*fd and dir unchanged). */
static int make_runtime(const char *name, char *dir, size_t dirlen, int *fd, char *err,
			size_t errlen)
{
	char base[4096], leaf[128];
	pd_rtptr p;
	int bfd = -1, rfd = -1, rv;

	memset(&p, 0, sizeof(p));
	if ((rv = pd_runtime_base(base, sizeof(base), &bfd, err, errlen)) < 0)
		return rv;
	for (int tries = 0;; tries++) {
		uint8_t r[6];
		pd_random(r, sizeof(r));
		snprintf(leaf, sizeof(leaf), "%s-", name);
		for (int i = 0; i < 6; i++)
			leaf[strlen(name) + 1 + i] = (char)('a' + r[i] % 26);
		leaf[strlen(name) + 7] = 0;
		if ((size_t)snprintf(p.dir, sizeof(p.dir), "%s/%s", base, leaf) >= sizeof(p.dir) ||
		    strlen(p.dir) >= dirlen) {
			snprintf(err, errlen, "runtime folder path too long");
			rv = -ENAMETOOLONG;
			goto out;
		}
		if (mkdirat(bfd, leaf, 0700) == 0)
			break;
		rv = -errno;
		if (rv != -EEXIST || tries > 20) {
			snprintf(err, errlen, "cannot create %s: %s", p.dir, strerror(-rv));
			goto out;
		}
	}
	if ((rv = pd_ses_open_sub(bfd, leaf, p.dir, 0, 1, &rfd, err, errlen)) < 0)
		goto gone;
	pd_host_name(p.host, sizeof(p.host));
	if ((rv = pd_rtptr_write(*fd, &p, err, errlen)) < 0)
		goto gone;
	close(*fd);
	*fd = rfd;
	rfd = -1;
	snprintf(dir, dirlen, "%s", p.dir);
	goto out;
gone:
	unlinkat(bfd, leaf, AT_REMOVEDIR);
out:
	if (rfd >= 0)
		close(rfd);
	close(bfd);
	return rv;
}

int pd_srt_create(const char *name, char *dir, size_t dirlen, int *fd, char *err, size_t errlen)
{
	char what[128];
	int rv = pd_homefs_network(*fd, what, sizeof(what), err, errlen);

	if (rv <= 0)
		return rv;
	return make_runtime(name, dir, dirlen, fd, err, errlen);
}

int pd_session_copy_file(int sfd, int dfd, const char *name, char *err, size_t errlen)
{
	char tmp[160], buf[65536];
	int in, out = -1, rv = 0;
	ssize_t n;

	in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.copy", name);
	unlinkat(dfd, tmp, 0);
	out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		rv = -errno;
	while (rv == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 || write(out, buf, (size_t)n) != n)
			rv = errno ? -errno : -EIO;
	}
	if (rv == 0 && fsync(out) < 0)
		rv = -errno;
	if (out >= 0 && close(out) < 0 && rv == 0)
		rv = -errno;
	close(in);
	if (rv == 0 && renameat(dfd, tmp, dfd, name) < 0)
		rv = -errno;
	if (rv < 0) {
		unlinkat(dfd, tmp, 0);
		snprintf(err, errlen, "cannot copy the session's %s: %s", name, strerror(-rv));
	}
	return rv;
}

int pd_session_resume_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
			 size_t errlen)
{
	char what[128];
	pd_rtptr p;
	int hfd = -1, fd = -1, lfd = -1, rv, network;

	*dfd = -1;
	if ((rv = pd_session_home_at(name, dir, dirlen, &hfd, err, errlen)) < 0)
		return rv;
	/* under the home's lock: two hosts taking a session over at once see
	 * each other's (fresh) pointer; the controller takes the lock again */
	if ((rv = pd_lock_take(hfd, dir, name, &lfd, err, errlen)) < 0)
		goto out;
	if ((fd = dup(hfd)) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot resume session %s: %s", name, strerror(-rv));
		goto out;
	}
	if ((rv = resolve(name, dir, dirlen, &fd, NULL, 0, 1, err, errlen)) < 0)
		goto out;
	if (!fstat_same(fd, hfd)) /* its runtime folder, on this host */
		goto out;
	/* the home's folder: on a network home the session moves to a runtime
	 * folder here, with the copy of its journal */
	network = pd_rtptr_read(hfd, &p, NULL, err, errlen) == 0;
	if (!network && (network = pd_homefs_network(hfd, what, sizeof(what), err, errlen)) < 0) {
		rv = network;
		goto out;
	}
	if (!network)
		goto out;
	if ((rv = make_runtime(name, dir, dirlen, &fd, err, errlen)) < 0)
		goto out;
	rv = pd_session_copy_file(hfd, fd, PD_SF_JOURNAL, err, errlen);
	if (rv == -ENOENT)
		rv = 0;
out:
	if (lfd >= 0)
		close(lfd);
	close(hfd);
	if (rv < 0 && fd >= 0)
		close(fd);
	else if (rv == 0)
		*dfd = fd;
	return rv;
}

int pd_srt_remove(int dfd, int sfd, const char *sessions, const char *name, char *err,
		  size_t errlen)
{
	char hdir[4400], e2[256];
	struct stat held, rt;
	pd_rtptr p;
	int hfd = -1, rv = 1;

	snprintf(hdir, sizeof(hdir), "%s/%s", sessions, name);
	if (pd_ses_open_sub(sfd, name, hdir, 0, 1, &hfd, e2, sizeof(e2)) < 0)
		return 1;
	if (pd_rtptr_read(hfd, &p, NULL, e2, sizeof(e2)) < 0 || fstat(dfd, &held) < 0 ||
	    lstat(p.dir, &rt) < 0 || !S_ISDIR(rt.st_mode) || rt.st_dev != held.st_dev ||
	    rt.st_ino != held.st_ino)
		goto out;
	if ((rv = pd_ses_empty(hfd, hdir, err, errlen)) < 0)
		goto out;
	if (rmdir(p.dir) < 0 && errno != ENOENT) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", p.dir, strerror(-rv));
	} else if (unlinkat(sfd, name, AT_REMOVEDIR) < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", hdir, strerror(-rv));
	}
out:
	close(hfd);
	return rv;
}

int pd_session_runtime_end(int rfd, const char *rdir, int hfd, char *err, size_t errlen)
{
	int rv;

	/* the pointer first: whoever looks the session up from now on (a
	 * waiter that saw the lock go with the runtime folder's files) gets
	 * the home's folder, whose copy is already whole */
	if (unlinkat(hfd, PD_SF_RUNTIME, 0) < 0 && errno != ENOENT) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove the session's pointer file: %s", strerror(-rv));
		return rv;
	}
	if ((rv = pd_ses_empty(rfd, rdir, err, errlen)) < 0)
		return rv;
	if (rmdir(rdir) < 0 && errno != ENOENT) {
		rv = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", rdir, strerror(-rv));
	}
	return rv;
}
