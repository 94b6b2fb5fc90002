/* detach.c - a controller that leaves its caller behind (submit,
 * resume): see ctl_detach in ctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "session.h"
#include "spawn.h"

void ctl_detach(const ctl *c, int *ready_fd)
{
	char path[4200], buf[4096];
	struct stat st;
	off_t from = 0;
	int p[2], status = 0, fd;
	pid_t pid;
	ssize_t n;

	pd_session_path(path, sizeof(path), c->ses.dir, PD_SF_LOG);
	/* the log is opened in the held folder, never through a link */
	if (fstatat(c->ses.dir_fd, PD_SF_LOG, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			pd_err("%s is not a regular file (a symbolic link?): parade does not write "
			       "through it; remove it",
			       path);
			exit(2);
		}
		from = st.st_size;
	}
	fflush(NULL);
	/* the one fork outside lib/spawn: the child is this controller going
	 * on in the background, not a program to exec */
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		pd_err("cannot start the controller: %s", strerror(errno));
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		fd = openat(c->ses.dir_fd, PD_SF_LOG,
		            O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			pd_err("cannot write %s: %s", path, strerror(errno));
			_exit(2);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		*ready_fd = p[1];
		return;
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	if (n >= 2 && !memcmp(buf, "ok", 2)) {
		if (c->o->mode == PD_MODE_SUBMIT)
			printf("%s\n", c->ses.name);
		exit(0);
	}
	pd_reap(pid, &status, NULL, 0);
	/* the child's reasons went to the log: show them here */
	fd = openat(c->ses.dir_fd, PD_SF_LOG, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && lseek(fd, from, SEEK_SET) == from)
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, stderr);
	if (fd >= 0)
		close(fd);
	/* a new session that never came up is of no use to anyone */
	if (c->o->mode == PD_MODE_SUBMIT &&
	    pd_session_remove(c->ses.dir_fd, c->ses.name, buf, sizeof(buf)) < 0)
		pd_warn("%s", buf);
	exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 2);
}

void ctl_detached_ready(int *ready_fd)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, "ok\n", 3) < 0)
		pd_warn("the command that started this controller is gone");
	close(*ready_fd);
	*ready_fd = -1;
}
