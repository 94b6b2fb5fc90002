/* private.h - the rule for what parade reads a session from: a folder
 * (PARADE_HOME, its sessions/ folder, a session folder) owned by the user
 * and not writable by group or others, and a connection file that is the
 * user's.
 *
 * Dependency-free (libc only): compiled into libparade and into the Slurm
 * SPANK plugin, whose slurmstepd side judges folders in a forked child
 * where only system calls are safe: pd_private_judge allocates nothing and
 * takes no lock. lib/session.c applies the same rule to the folders it
 * opens.
 */
#ifndef PD_PRIVATE_H
#define PD_PRIVATE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

enum pd_private_verdict {
	PD_PRIVATE_OK = 0,
	PD_PRIVATE_NOTDIR,   /* not a folder */
	PD_PRIVATE_OWNER,    /* owned by another user */
	PD_PRIVATE_WRITABLE, /* writable by group or others */
	PD_PRIVATE_LINK      /* a symbolic link where none may be followed */
};

/* Judges a folder's fstat() for the user uid: PD_PRIVATE_OK, _NOTDIR,
 * _OWNER or _WRITABLE (in that order of precedence). Async-signal-safe. */
int pd_private_judge(const struct stat *st, uid_t uid);

/* The message for a verdict about path: what is wrong, with the owner
 * ("uid 1001 (bob)") or mode, and the way out (chmod 700, another
 * PARADE_HOME, removing the link). owner and mode are the folder's. */
void pd_private_message(int verdict, const char *path, uid_t owner, mode_t mode, char *err,
			size_t errlen);

/* The rule for a connection file: -EPERM with err naming path, its mode
 * and "chmod 600" when st (the file's fstat) is writable by group or
 * others (they could point its readers at a controller of theirs), else 0.
 * Readable by others is not judged here (lib/session_conn.c warns of it). */
int pd_private_file_mode(const struct stat *st, const char *path, char *err, size_t errlen);

/* Checks the connection file open at fd (path names it in err): a regular
 * file, owned by the effective user, not writable by group or others
 * (pd_private_file_mode). 0, or -EPERM (or -errno of fstat) with err. */
int pd_private_file_check(int fd, const char *path, char *err, size_t errlen);

/* Opens a connection file given by the user (parade-agent --connect) for
 * reading, refusing one another user could have planted or swapped: the
 * file must pass pd_private_file_check; if path is a
 * symbolic link, the link too must be the user's; the folder that holds
 * it (as named in path) must not be writable by group or others unless
 * it has the sticky bit (as /tmp). On success *fd (close-on-exec) is the
 * caller's and the file it reads is the one checked. 0, or -EPERM,
 * -ELOOP or -errno with err naming the file or folder. */
int pd_private_file_open(const char *path, int *fd, char *err, size_t errlen);

#endif
