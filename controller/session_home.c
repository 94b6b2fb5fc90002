/* session_home.c - ctl.h's ctl_home_*: a controller whose session folder
 * is a runtime folder on this host because PARADE_HOME is on a network
 * file system (lib/homefs.h, docs/sessions.md): the home's lock, the
 * heartbeat, the journal's durable copy in the home, and leaving the
 * host when the session ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "homefs.h"
#include "lock.h"
#include "log.h"
#include "session.h"

/* Copies the journal into the home (when it changed): 0 (or 1: nothing
 * new), -errno logged once a run of failures. */
static int copy_journal(ctl *c)
{
	static int warned;
	char path[4200], err[1024];
	int rv;

	if (!c->res.jn || pd_session_path(path, sizeof(path), c->ses.home_dir, PD_SF_JOURNAL) < 0)
		return -ENAMETOOLONG;
	rv = pd_journal_copy(c->res.jn, path, &c->ses.home_stamp, err, sizeof(err));
	if (rv < 0 && !warned)
		pd_warn("cannot copy the journal into PARADE_HOME: %s (tried again every %d s; "
			"the live journal on this host is whole)",
			err, PD_RUNTIME_BEAT_S);
	warned = rv < 0;
	return rv;
}

static void beat(pd_loop *l, void *arg)
{
	ctl *c = arg;
	struct timespec t0, t1;
	uint64_t ms;

	(void)l;
	pd_rtptr_touch(c->ses.home_fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the controller's own commit first (it counts what became durable);
	 * a journal that takes no writes is not copied until it does */
	if (c->res.jn && !c->res.journal_failed)
		ctl_commit(c);
	if (c->res.jn && !c->res.journal_failed)
		copy_journal(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* a big journal's copy stops the loop while it runs: at most 1/20 of
	 * the time goes to it */
	ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (uint64_t)(t1.tv_nsec / 1000000) -
	     (uint64_t)(t0.tv_nsec / 1000000);
	pd_timer_start(c->ses.home_timer,
		       20 * ms > PD_RUNTIME_BEAT_S * 1000 ? 20 * ms : PD_RUNTIME_BEAT_S * 1000);
}

int ctl_home_attach(ctl *c)
{
	char err[1024];
	struct stat h, r;
	int fd = -1;

	c->ses.home_stamp = -1;
	if (pd_session_home_at(c->ses.name, c->ses.home_dir, sizeof(c->ses.home_dir), &fd, err,
			       sizeof(err)) < 0) {
		pd_err("%s", err);
		return -1;
	}
	if (fstat(fd, &h) < 0 || fstat(c->ses.dir_fd, &r) < 0 ||
	    (h.st_dev == r.st_dev && h.st_ino == r.st_ino)) {
		close(fd); /* the session folder is the home's: a local home */
		c->ses.home_dir[0] = 0;
		return 0;
	}
	c->ses.home_fd = fd;
	if (pd_lock_take(fd, c->ses.home_dir, c->ses.name, &c->ses.home_lock_fd, err,
			 sizeof(err)) < 0) {
		pd_err("%s", err);
		return -1;
	}
	/* worth a line for a session that outlives the command (a run's
	 * goes with it) */
	pd_log(c->o->mode == PD_MODE_RUN && !c->o->keep_session ? PD_LOG_DEBUG : PD_LOG_INFO,
	       "PARADE_HOME is on a network file system: session %s lives in %s on this host; "
	       "%s keeps a pointer to it and a copy of its journal",
	       c->ses.name, c->ses.dir, c->ses.home_dir);
	if (!(c->ses.home_timer = pd_timer_new(c->loop, beat, c))) {
		pd_err("out of memory");
		return -1;
	}
	pd_timer_start(c->ses.home_timer, PD_RUNTIME_BEAT_S * 1000);
	return 0;
}

void ctl_home_final(ctl *c)
{
	if (c->ses.home_fd < 0)
		return;
	pd_timer_stop(c->ses.home_timer);
	/* the home's lock goes first: a file held open cannot be removed from
	 * NFS or sshfs (it becomes .nfsXXXX or .fuse_hiddenXXXX, and the
	 * session's folder with it cannot); the runtime folder's lock still
	 * holds the session, and the pointer is fresh */
	if (c->ses.home_lock_fd >= 0)
		close(c->ses.home_lock_fd);
	c->ses.home_lock_fd = -1;
	/* the run is over (its server gone): the copy commits what the last
	 * commit left, if anything */
	if (c->res.jn && !c->res.journal_failed && copy_journal(c) >= 0)
		c->ses.home_copied = 1;
}

void ctl_home_end(ctl *c)
{
	char err[1024];
	struct stat st;

	pd_timer_free(c->ses.home_timer);
	c->ses.home_timer = NULL;
	if (c->ses.home_fd < 0)
		return;
	/* kept (not removed with the session) and whole in the home: the
	 * session leaves this host; else the runtime folder stays the
	 * session's (the pointer finds it) */
	if (c->ses.home_copied && fstat(c->ses.home_fd, &st) == 0 && st.st_nlink > 0 &&
	    c->ses.dir_fd >= 0) {
		pd_session_copy_file(c->ses.dir_fd, c->ses.home_fd, PD_SF_LOG, err, sizeof(err));
		if (pd_session_runtime_end(c->ses.dir_fd, c->ses.dir, c->ses.home_fd, err,
					   sizeof(err)) < 0)
			pd_warn("%s", err);
	}
	if (c->ses.home_lock_fd >= 0)
		close(c->ses.home_lock_fd);
	close(c->ses.home_fd);
	c->ses.home_fd = c->ses.home_lock_fd = -1;
}
