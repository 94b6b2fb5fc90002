/* session.h - session folders, connection files and the session secret.
 *
 * A session lives in $PARADE_HOME/sessions/NAME/ (default ~/.parade);
 * folders are 0700, files 0600 (see below for the checks on the folders). The connection file ("connection") is
 * "key=value" lines ('#' starts a comment):
 *   version=1                      protocol version
 *   session=NAME
 *   endpoint=tls+tcp://HOST:PORT   where remote agents dial (or ipc://)
 *   local=ipc:///.../agents.sock   where agents on this host dial (optional)
 *   psk_identity=parade            TLS PSK identity
 *   secret=<64 hex digits>         the 256-bit TLS PSK key
 */
#ifndef PD_SESSION_H
#define PD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define PD_PSK_IDENTITY "parade"
#define PD_SECRET_LEN 32

typedef struct pd_connfile {
	unsigned version;
	char session[128];
	char endpoint[512];
	char local[512];
	char identity[64];
	uint8_t secret[PD_SECRET_LEN];
} pd_connfile;

/* The home's layout: ~/.parade unless PARADE_HOME says otherwise, and the
 * sessions' folder in it. */
#define PD_HOME_DEFAULT ".parade" /* under $HOME */
#define PD_SESSIONS_DIR "sessions"

/* The files of a session folder. Their names are spelled here and nowhere
 * else: code names a file by these constants and builds its path with
 * pd_session_path (or opens it with openat(dfd, PD_SF_..., ...) through a
 * held folder). */
#define PD_SF_CONNECTION "connection"     /* the connection file (above) */
#define PD_SF_JOURNAL "journal.db"        /* the SQLite journal (lib/journal.h) */
#define PD_SF_LOG "controller.log"        /* a detached controller's log */
#define PD_SF_AGENTS_SOCK "agents.sock"   /* where local agents dial (ipc://) */
#define PD_SF_CONTROL_SOCK "control.sock" /* the control socket (docs/control.md) */
#define PD_SF_LOCK "lock"                 /* one controller per session (lib/lock.h) */
#define PD_SF_SRUN_LOG "srun-"            /* srun-JOBID.log: the output of the step of a
					   * Slurm job's agents (controller/launch_slurm.h) */
#define PD_SF_RUNTIME "runtime"           /* where it lives on a network home (lib/homefs.h) */

/* out = "DIR/FILE" (file: one of PD_SF_*). 0, or -ENAMETOOLONG (out is
 * then "" when outlen > 0). */
int pd_session_path(char *out, size_t outlen, const char *dir, const char *file);
/* out = "ipc://DIR/FILE", the URL of a socket in the folder. 0 or
 * -ENAMETOOLONG as pd_session_path. */
int pd_session_url(char *out, size_t outlen, const char *dir, const char *file);
/* out = the path of the n-th sbatch script a session in DIR writes:
 * "DIR/agents.sbatch" for n 0, else "DIR/agents-N.sbatch". 0 or
 * -ENAMETOOLONG as pd_session_path. */
int pd_session_sbatch_path(char *out, size_t outlen, const char *dir, unsigned n);

/* Folders in PARADE_HOME must be this user's alone. The home (made 0700
 * if missing; it may itself be a link the user made) and its sessions/
 * folder must be folders owned by the effective user and not writable by
 * group or others; otherwise calls fail with -EPERM and err naming the
 * folder, its owner or mode and the way out (chmod 700, or another
 * PARADE_HOME). Inside the home no symbolic link is ever followed: a
 * session folder that is a link fails with -ELOOP ("... is a symbolic
 * link"), and folders are made, opened and removed through held folder
 * descriptors (mkdirat, openat with O_NOFOLLOW, unlinkat). */

/* The parade home folder, checked (and its sessions/ folder, if there is
 * one). 0 or -errno + err. */
int pd_home_dir(char *out, size_t outlen, char *err, size_t errlen);
/* Creates the folder of a new session (0700). name NULL generates one ("s-"
 * and 6 random letters); a given name must be [A-Za-z0-9_.-]{1,64}, not
 * starting with '.', and unused. dir gets the path, name_out the name and,
 * when dfd is not NULL, *dfd a descriptor of the folder (O_DIRECTORY,
 * close-on-exec) that the caller owns and closes; -1 on failure.
 * 0, -EEXIST, -EINVAL, -EPERM or -errno, with err. */
int pd_session_create(const char *name, char *dir, size_t dirlen, char *name_out, size_t namelen,
		      int *dfd, char *err, size_t errlen);
/* Opens the folder of a named session that may already exist (made by the
 * Slurm plugin for a step, say): creates it 0700 if missing; an existing one
 * must be a folder (not a link) owned by this user. dfd as for
 * pd_session_create. 0, -EINVAL, -EPERM, -ELOOP or -errno. */
int pd_session_open(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		    size_t errlen);
/* Finds an existing session (never creates one). -ENOENT with err
 * "no session named NAME in HOME/sessions" when there is none, -ELOOP when
 * its folder is a link, -EPERM when it is not this user's. dfd as for
 * pd_session_create (NULL: none wanted). */
int pd_session_find_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		       size_t errlen);
/* pd_session_find_at without the descriptor. */
int pd_session_find(const char *name, char *dir, size_t dirlen, char *err, size_t errlen);

/* PARADE_HOME on a network file system (lib/homefs.h, docs/sessions.md):
 * pd_session_create then makes the session's folder in a runtime folder
 * on this host ($XDG_RUNTIME_DIR/parade or /tmp/parade-UID) and leaves in
 * sessions/NAME a pointer to it (PD_SF_RUNTIME), the home's lock and the
 * durable copy of the journal. pd_session_open, _find_at and _find hand
 * out the runtime folder when it is on this host and still there, the
 * home's folder when there is none (the controller ended, or its host's
 * folder is gone), and fail with -EREMOTE and err "session NAME runs on
 * host H ...: run this command on H" while a controller on another host
 * holds it. pd_session_remove of a runtime folder removes sessions/NAME
 * with it. On a local home none of this happens. */

/* The home's own folder of a session (sessions/NAME), never a runtime
 * folder: as pd_session_find_at. */
int pd_session_home_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
		       size_t errlen);
/* pd_session_find, and host gets the host of its runtime folder ("" if it
 * has none): with -EREMOTE, the host it runs on. */
int pd_session_locate(const char *name, char *dir, size_t dirlen, char *host, size_t hostlen,
		      char *err, size_t errlen);
/* pd_session_find_at for a controller that takes the session up again
 * (resume): on a network home a session with no runtime folder on this
 * host gets a new one, with the home's durable copy of the journal copied
 * into it, and the pointer moves here. All of it under the home's lock,
 * let go before it returns (the controller takes it again): -EBUSY with
 * err naming the holder when a controller holds it, -EREMOTE while
 * another host's does. *dfd as for pd_session_find_at (never NULL). */
int pd_session_resume_at(const char *name, char *dir, size_t dirlen, int *dfd, char *err,
			 size_t errlen);
/* The end of a runtime folder whose session stays (the controller ended
 * and its journal is copied into the home): removes the pointer in the
 * home's folder hfd first (lookups go to the home from then on), then
 * empties and removes the folder rdir held by rfd (still the caller's to
 * close). 0 or -errno with err. */
int pd_session_runtime_end(int rfd, const char *rdir, int hfd, char *err, size_t errlen);
/* Copies the file name (one of PD_SF_*) from the folder sfd into the
 * folder dfd: a new file 0600, written as NAME.copy, synced and renamed
 * over NAME; never through a link. 0, -ENOENT when there is none (err
 * untouched), or -errno with err. */
int pd_session_copy_file(int sfd, int dfd, const char *name, char *err, size_t errlen);
/* Calls cb for every session folder, in name order (links and other
 * non-folders are skipped, never followed). 0, or cb's non-zero return, or
 * -errno with err. */
int pd_session_list(int (*cb)(void *arg, const char *name, const char *dir), void *arg, char *err,
		    size_t errlen);
/* Removes the session folder held by dfd (from pd_session_create/open/
 * find_at; still the caller's to close): unlinks every entry in it (a link
 * itself, never its target; subfolders are not removed), then removes the
 * name sessions/NAME only if it still is that folder. -ESTALE with err when
 * the name was moved or replaced (by a link, say): the name is left alone.
 * 0 or -errno with err. */
int pd_session_remove(int dfd, const char *name, char *err, size_t errlen);

/* Writes the file 0600 (via a new temporary file PATH.tmp, made with
 * O_EXCL|O_NOFOLLOW after removing a stale one, and rename: a link at
 * either name is replaced, never written through). 0 or -errno. */
int pd_connfile_write(const char *path, const pd_connfile *cf, char *err, size_t errlen);
/* Reads and validates one; err names the path, line and problem. Warns
 * through err (returning -EPERM) if the file is readable by others;
 * refuses one writable by group or others (-EACCES, secret zeroed). A file
 * the user names belongs to pd_connfile_load, which checks it first. */
int pd_connfile_read(const char *path, pd_connfile *cf, char *err, size_t errlen);
/* pd_connfile_read of the file open at fd (read from where fd stands; fd
 * stays the caller's, open); path only names it in messages. */
int pd_connfile_read_fd(int fd, const char *path, pd_connfile *cf, char *err, size_t errlen);

/* Reads a connection file that a command is given, with the checks of
 * lib/private.h: by session name when session is not NULL (the name is
 * checked, the session found as pd_session_find_at does, and its
 * "connection" opened through the held folder, never through a link), else
 * the file at path (pd_private_file_open: a link only if the user's, not
 * in a folder others can write). The file must be a regular file of this
 * user, not writable by group or others. used (may be NULL) gets the path
 * read. 0; -EPERM: read, cf filled, err a warning (readable by others);
 * -EACCES (refused: the file, or a folder of the session), -ELOOP (a
 * link), -EINVAL (bad name or content), -ENOENT or -errno with err: cf
 * zeroed. */
int pd_connfile_load(const char *path, const char *session, char *used, size_t usedlen,
		     pd_connfile *cf, char *err, size_t errlen);

/* Fills n random bytes (getrandom). 0 or -errno. */
int pd_random(uint8_t *p, size_t n);
/* Reads a secret file holding 64 hex digits (whitespace around allowed). */
int pd_secret_read(const char *path, uint8_t secret[PD_SECRET_LEN], char *err, size_t errlen);
/* Lower-case hex of p[0,n) into out (2n+1 bytes). */
void pd_hex(const uint8_t *p, size_t n, char *out);
/* Parses exactly 2n hex digits into p. 0 or -EINVAL. */
int pd_unhex(const char *s, size_t slen, uint8_t *p, size_t n);

#endif
