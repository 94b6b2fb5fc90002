/* session.h - session folders, connection files and the session secret.
 *
 * A session lives in $PARADE_HOME/sessions/NAME/ (default ~/.parade);
 * folders are 0700, files 0600. The connection file ("connection") is
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

/* The parade home folder, created 0700 if missing. 0 or -errno + err. */
int pd_home_dir(char *out, size_t outlen, char *err, size_t errlen);
/* Creates the folder of a new session. name NULL generates one ("s-" and
 * 6 random letters); a given name must be [A-Za-z0-9_.-]{1,64} and unused.
 * dir gets the path, name_out the name. 0, -EEXIST, -EINVAL or -errno. */
int pd_session_create(const char *name, char *dir, size_t dirlen, char *name_out, size_t namelen,
		      char *err, size_t errlen);
/* Opens the folder of a named session that may already exist (made by the
 * Slurm plugin for a step, say): creates it 0700 if missing; an existing one
 * must be a folder owned by this user. 0, -EINVAL, -EPERM or -errno. */
int pd_session_open(const char *name, char *dir, size_t dirlen, char *err, size_t errlen);
/* Finds an existing session (never creates one). -ENOENT with err
 * "no session named NAME in HOME/sessions" when there is none. */
int pd_session_find(const char *name, char *dir, size_t dirlen, char *err, size_t errlen);
/* Calls cb for every session folder, in name order. 0, or cb's non-zero
 * return, or -errno with err. */
int pd_session_list(int (*cb)(void *arg, const char *name, const char *dir), void *arg, char *err,
		    size_t errlen);
/* Removes a session folder and its files (not recursive beyond one level). */
int pd_session_remove(const char *dir);

/* Writes the file 0600 (via a temporary file and rename). 0 or -errno. */
int pd_connfile_write(const char *path, const pd_connfile *cf, char *err, size_t errlen);
/* Reads and validates one; err names the path, line and problem. Warns
 * through err (returning -EPERM) if the file is readable by others. */
int pd_connfile_read(const char *path, pd_connfile *cf, char *err, size_t errlen);

/* Fills n random bytes (getrandom). 0 or -errno. */
int pd_random(uint8_t *p, size_t n);
/* Reads a secret file holding 64 hex digits (whitespace around allowed). */
int pd_secret_read(const char *path, uint8_t secret[PD_SECRET_LEN], char *err, size_t errlen);
/* Lower-case hex of p[0,n) into out (2n+1 bytes). */
void pd_hex(const uint8_t *p, size_t n, char *out);
/* Parses exactly 2n hex digits into p. 0 or -EINVAL. */
int pd_unhex(const char *s, size_t slen, uint8_t *p, size_t n);

#endif
