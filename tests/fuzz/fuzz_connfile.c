/* fuzz_connfile.c - connection files and secret files (pd_connfile_read,
 * pd_secret_read from lib/session_conn.c): an agent reads them from disk,
 * often after they were copied between machines.
 *
 * The input is put in a memfd (mode 0600, nothing on disk) and read
 * through /proc/self/fd/N. Checks: a file that reads has a version, an
 * endpoint and an identity, each field a C string within its array; it
 * written back (pd_connfile_write, into a private folder under $TMPDIR,
 * which scripts/fuzz.sh points into build-fuzz/) reads as the same fields
 * and secret. A file that does not read has its secret zeroed and an error
 * that names the path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "session.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[4096];

static void cleanup(void)
{
	if (dir[0])
		rmdir(dir);
}

static const char *tmp_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/fuzz_connfile.XXXXXX", base && *base ? base : "/tmp");
		FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
		atexit(cleanup);
	}
	return dir;
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void check_written(const pd_connfile *cf)
{
	pd_connfile back;
	char path[4200], err[512];

	snprintf(path, sizeof(path), "%s/connection", tmp_dir());
	FUZZ_CHECK(pd_connfile_write(path, cf, err, sizeof(err)) == 0, "write");
	if (pd_connfile_read(path, &back, err, sizeof(err)) != 0)
		fprintf(stderr, "re-read: %s\n", err);
	unlink(path);
	FUZZ_CHECK(back.version == cf->version && !strcmp(back.session, cf->session) &&
			   !strcmp(back.endpoint, cf->endpoint) && !strcmp(back.local, cf->local) &&
			   !strcmp(back.identity, cf->identity) &&
			   !memcmp(back.secret, cf->secret, PD_SECRET_LEN),
		   "a written connection file reads back the same");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	pd_connfile cf;
	uint8_t secret[PD_SECRET_LEN];
	int fd, rv;

	fd = memfd_create("connection", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && fchmod(fd, 0600) == 0, "memfd");
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "memfd write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	err[0] = 0;
	rv = pd_connfile_read(path, &cf, err, sizeof(err));
	if (rv < 0) {
		FUZZ_CHECK(rv == -EINVAL, "a bad connection file is -EINVAL");
		FUZZ_CHECK(all_zero(cf.secret, PD_SECRET_LEN), "no secret is left on an error");
		FUZZ_CHECK(strstr(err, path) != NULL, "the error names the file");
	} else {
		FUZZ_CHECK(cf.version >= 1 && cf.endpoint[0] && cf.identity[0], "required fields");
		FUZZ_CHECK(memchr(cf.session, 0, sizeof(cf.session)) &&
				   memchr(cf.endpoint, 0, sizeof(cf.endpoint)) &&
				   memchr(cf.local, 0, sizeof(cf.local)) &&
				   memchr(cf.identity, 0, sizeof(cf.identity)),
			   "fields are C strings");
		check_written(&cf);
	}

	err[0] = 0;
	rv = pd_secret_read(path, secret, err, sizeof(err));
	FUZZ_CHECK(rv == 0 || (rv == -EINVAL && strstr(err, path)), "secret file");
	close(fd);
	return 0;
}
