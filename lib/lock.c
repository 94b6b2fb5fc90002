#include "lock.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static int lock_path(const char *dir, char *path, size_t len)
{
	return pd_session_path(path, len, dir, PD_SF_LOCK);
}

/* The holder's line, without its newline. */
static void read_holder(int fd, char *out, size_t len)
{
	ssize_t n = pread(fd, out, len - 1, 0);

	if (n < 0)
		n = 0;
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
}

/* "pid=123 host=n1 started=1700000000" -> "pid 123 on host n1 (since ...)" */
static void describe(const char *line, char *out, size_t len)
{
	unsigned long pid = 0;
	char host[256] = "?";
	long long started = 0;

	if (sscanf(line, "pid=%lu host=%255s started=%lld", &pid, host, &started) == 3) {
		char when[64] = "?";
		time_t t = (time_t)started;
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(out, len, "pid %lu on host %s (since %s)", pid, host, when);
	} else {
		snprintf(out, len, "another process (it has not said which yet)");
	}
}

int pd_lock_take(int dfd, const char *dir, const char *name, int *fd, char *err, size_t errlen)
{
	char path[4200], line[400], host[256] = "localhost", who[600];
	int f, rv;

	*fd = -1;
	if (lock_path(dir, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "session path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	f = openat(dfd, PD_SF_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(errno),
			 rv == -ELOOP ? " (a symbolic link: parade does not follow it)" : "");
		return rv;
	}
	/* a reader's brief shared lock (pd_lock_held) must not refuse us */
	for (int i = 0; (rv = flock(f, LOCK_EX | LOCK_NB)) < 0 && errno == EWOULDBLOCK && i < 5; i++)
		usleep(20000);
	if (rv < 0) {
		rv = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rv == -EBUSY) {
			read_holder(f, line, sizeof(line));
			describe(line, who, sizeof(who));
			snprintf(err, errlen, "session %s is already served by %s", name, who);
		} else {
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(-rv));
		}
		close(f);
		return rv;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(line, sizeof(line), "pid=%ld host=%s started=%lld\n", (long)getpid(), host,
		 (long long)time(NULL));
	if (ftruncate(f, 0) < 0 || pwrite(f, line, strlen(line), 0) != (ssize_t)strlen(line)) {
		rv = -errno;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(f);
		return rv;
	}
	*fd = f;
	return 0;
}

int pd_lock_held(const char *dir, char *holder, size_t holderlen)
{
	char path[4200];
	int f, rv;

	if (holderlen)
		holder[0] = 0;
	if (lock_path(dir, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return errno == ENOENT ? 0 : -errno;
	/* a shared lock is granted only when no controller holds the exclusive one */
	if (flock(f, LOCK_SH | LOCK_NB) == 0) {
		rv = 0;
	} else if (errno == EWOULDBLOCK) {
		rv = 1;
		if (holderlen) {
			char line[400];
			read_holder(f, line, sizeof(line));
			describe(line, holder, holderlen);
		}
	} else {
		rv = -errno;
	}
	close(f);
	return rv;
}

int pd_lock_wait(const char *dir)
{
	char path[4200];
	int f, rv = 0;

	if (lock_path(dir, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(f, LOCK_SH) < 0)
		rv = -errno;
	close(f);
	return rv;
}
