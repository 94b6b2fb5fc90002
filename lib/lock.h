/* lock.h - one controller per session: an flock(2) on SESSION/lock.
 *
 * The holder writes "pid=P host=H started=UNIX_S" into the file so that a
 * refused controller, `parade status` and `parade wait` can name it. The
 * kernel drops the lock when the holder dies, even by SIGKILL, so a
 * crashed controller never blocks a restart.
 */
#ifndef PD_LOCK_H
#define PD_LOCK_H

#include <stddef.h>

/* Takes the lock of the session folder held by dfd (dir is its path, for
 * messages) for this process: dfd/lock, never through a symbolic link.
 * *fd must stay open for as long as the lock is held (close it, or exit,
 * to release).
 * -EBUSY when another process holds it: err then names the holder, e.g.
 * "session s-abc is already served by pid 123 on host n1 (since ...)".
 * Other failures: -errno with err. */
int pd_lock_take(int dfd, const char *dir, const char *name, int *fd, char *err, size_t errlen);

/* 1 if some process holds the lock of dir (holder gets its line, "" if it
 * wrote none yet), 0 if nobody does, -errno if it cannot be checked. */
int pd_lock_held(const char *dir, char *holder, size_t holderlen);

/* Blocks until nobody holds the lock of dir (returns at once if nobody
 * does). 0, or -errno (e.g. -EINTR on a signal). */
int pd_lock_wait(const char *dir);

#endif
