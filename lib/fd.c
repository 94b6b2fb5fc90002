/* fd.c - descriptor plumbing (see fd.h). */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd.h"

void pd_close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	/* sysconf is not on the async-signal-safe list, but glibc's reads a
	 * limit with getrlimit, which is a plain system call */
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > (1L << 20))
		max = 1L << 20;
	for (int fd = lowfd; fd < max; fd++)
		close(fd);
}

int pd_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}
