/* session_rt.h - private to lib/session.c and lib/session_rt.c: what the
 * runtime arrangement (lib/homefs.h) borrows from the session folders'
 * code, and the hooks session.c calls. */
#ifndef PD_SESSION_RT_H
#define PD_SESSION_RT_H

#include <stddef.h>

/* session.c: opens folder name in pfd (path names it), creating it 0700
 * first with create; never through a link (-ELOOP); with check it must be
 * this user's, not writable by group or others. 0 and *fd, or -errno
 * with err. */
int pd_ses_open_sub(int pfd, const char *name, const char *path, int create, int check, int *fd,
		    char *err, size_t errlen);
/* session.c: the sessions folder (made if missing, checked): *fd and its
 * path. 0 or -errno with err. */
int pd_ses_sessions_open(char *sessions, size_t len, int *fd, char *err, size_t errlen);
/* session.c: unlinks every entry of the folder dfd (not subfolders). 0 or
 * -errno with err (what names the folder). */
int pd_ses_empty(int dfd, const char *what, char *err, size_t errlen);

/* session_rt.c. The home session folder *fd (path dir) of session name:
 * when it points at a runtime folder, *fd and dir become that folder's
 * if it is on this host and still there; when it is on another host
 * whose controller holds it, -EREMOTE with err saying where to run the
 * command; else (no pointer, a runtime folder gone, a controller gone)
 * they stay the home's. host (may be NULL) gets the pointer's host, ""
 * without one. 0 or -errno with err (*fd still the caller's). */
int pd_srt_resolve(const char *name, char *dir, size_t dirlen, int *fd, char *host,
		   size_t hostlen, char *err, size_t errlen);
/* session_rt.c. A new session's home folder *fd (path dir) just made: on
 * a network home, makes its runtime folder, writes the pointer and hands
 * the runtime folder in *fd and dir (the home's closed); on a local one
 * does nothing. 0 or -errno with err. */
int pd_srt_create(const char *name, char *dir, size_t dirlen, int *fd, char *err,
		  size_t errlen);
/* session_rt.c. For pd_session_remove: the held folder dfd is not
 * sessions/NAME (sfd holds sessions/): if it is the runtime folder that
 * NAME's pointer names, empties and removes sessions/NAME and the runtime
 * folder: 0 (or -errno with err); 1 if it is not. */
int pd_srt_remove(int dfd, int sfd, const char *sessions, const char *name, char *err,
		  size_t errlen);

#endif
