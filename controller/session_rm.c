/* session_rm.c - `parade rm NAME...`: removes sessions that no controller
 * serves (finished, stopped, or dead), journal and logs included. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "lock.h"
#include "log.h"
#include "session.h"

static const char rm_usage[] =
	"usage: parade rm NAME...\n"
	"\n"
	"Removes each named session: its folder in $PARADE_HOME/sessions with the\n"
	"journal (every result it kept), the logs and the connection file. A\n"
	"session whose controller still runs is refused; stop it first (parade\n"
	"stop NAME). Exit status 0 when every session was removed, 1 when one\n"
	"was not (the others are still removed), 2 on a usage error.\n";

/* Holds the session's lock while removing, so that no `parade resume` or
 * `serve --name` starts on it half way; the folder is opened once, never
 * through a link, and removed through that descriptor. 0 or -errno
 * (logged). */
static int remove_one(const char *name)
{
	char dir[4096], err[1024];
	int dfd = -1, fd = -1, rv;

	rv = pd_session_find_at(name, dir, sizeof(dir), &dfd, err, sizeof(err));
	if (rv < 0) {
		pd_err("%s", err);
		return rv;
	}
	rv = pd_lock_take(dfd, dir, name, &fd, err, sizeof(err));
	if (rv == -EBUSY) {
		pd_err("%s: stop it first (parade stop %s)", err, name);
		goto out;
	}
	if (rv == 0 && (rv = pd_session_remove(dfd, name, err, sizeof(err))) == -ENOTEMPTY) {
		/* on NFS (or sshfs) the lock file held open stays as a hidden
		 * file until it is closed: once more without it */
		close(fd);
		fd = -1;
		rv = pd_session_remove(dfd, name, err, sizeof(err));
	}
	if (rv < 0)
		pd_err("%s", err);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rv;
}

int pd_rm_main(int argc, char **argv)
{
	int failed = 0;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(rm_usage, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(rm_usage, stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			pd_err("unknown option %s", argv[i]);
			fputs(rm_usage, stderr);
			return 2;
		}
	}
	for (int i = 1; i < argc; i++)
		failed |= remove_one(argv[i]) < 0;
	return failed ? 1 : 0;
}
