/* homefs.h - PARADE_HOME on a network file system (NFS, Lustre, GPFS,
 * CIFS, CephFS, BeeGFS, sshfs ...): what is one, and where a session's
 * host-bound files go then (docs/sessions.md).
 *
 * SQLite's WAL mode shares memory between the readers of a journal (its
 * -shm file): every reader must be on the writer's host; a Unix socket is
 * reached only from the host that bound it. So on a network home a
 * session's live files (connection file with the secret, lock, journal,
 * control and agents sockets, log) live in a runtime folder on the
 * controller's host, and the home's session folder keeps a pointer to it
 * (the file PD_SF_RUNTIME of lib/session.h: host and folder) and a durable copy of the
 * journal (PD_SF_JOURNAL, rollback mode, replaced whole by rename), from
 * which any host reads a session whose controller ended and resumes one
 * whose host went away. On a local home nothing of this happens.
 *
 * The pure parts (classification, the setting, mountinfo lines, the
 * pointer's text) take no system call; the others say so.
 */
#ifndef PD_HOMEFS_H
#define PD_HOMEFS_H

#include <stddef.h>
#include <time.h>

#include "session.h"

/* The user's setting: PARADE_HOME_FS=auto|local|network (unset or empty:
 * auto, which asks the file system). */
enum { PD_HOMEFS_AUTO = 0, PD_HOMEFS_LOCAL, PD_HOMEFS_NETWORK };
#define PD_HOMEFS_ENV "PARADE_HOME_FS"

/* How often a controller copies its journal into the home (when it
 * changed) and shows it is alive (touches the pointer): seconds. A pointer
 * older than PD_RUNTIME_STALE_S, with the home's lock free, belongs to a
 * controller that is gone. */
#define PD_RUNTIME_BEAT_S 10
#define PD_RUNTIME_STALE_S 35

/* Pure. The name of the network file system with statfs magic f_type
 * ("nfs", "lustre", "gpfs", ...), or NULL for a local one. FUSE is
 * network only by its subtype: fstype is the mount's type from
 * /proc/self/mountinfo ("fuse.sshfs"), NULL if unknown; a FUSE mount of
 * unknown or local subtype counts as local. */
const char *pd_fs_network_name(unsigned long magic, const char *fstype);

/* Pure. Parses the setting: NULL or "" is auto. 0 and *mode, or -EINVAL. */
int pd_homefs_setting_parse(const char *s, int *mode);

/* Pure. One line of /proc/self/mountinfo: 1 and type (the file system
 * type, e.g. "fuse.sshfs", "nfs4") when its device is major:minor, 0 when
 * it is another device, -EINVAL when the line does not parse. */
int pd_mountinfo_type(const char *line, unsigned major, unsigned minor, char *type,
		      size_t typelen);

/* Is the folder open at fd on a network file system? Follows the setting
 * (env PARADE_HOME_FS) first; auto asks statfs and, for FUSE, the mount
 * table. 1 (what gets the file system's name or "PARADE_HOME_FS=network"),
 * 0 (local), or -EINVAL (a bad setting) / -errno with err. */
int pd_homefs_network(int fd, char *what, size_t whatlen, char *err, size_t errlen);

/* The folder this user's runtime folders go in, made if missing:
 * $XDG_RUNTIME_DIR/parade, else /tmp/parade-UID. It must be a folder of
 * this user (never a link), not writable by group or others
 * (lib/private.h), and it is made 0700. 0 with path and *fd (the caller's
 * to close), or -errno with err. */
int pd_runtime_base(char *path, size_t pathlen, int *fd, char *err, size_t errlen);

/* The pointer: where a session's live files are. */
typedef struct pd_rtptr {
	char host[256]; /* the controller's host name (gethostname) */
	char dir[4096]; /* its runtime folder there */
} pd_rtptr;

/* Pure. Parses the pointer's text ("host=H" and "dir=/abs/path" lines,
 * '#' comments). 0, or -EINVAL with err (src names the file). */
int pd_rtptr_parse(const char *text, const char *src, pd_rtptr *p, char *err, size_t errlen);
/* Writes dfd/PD_SF_RUNTIME (0600, through a temporary and rename, never
 * through a link). 0 or -errno with err. */
int pd_rtptr_write(int dfd, const pd_rtptr *p, char *err, size_t errlen);
/* Reads dfd/PD_SF_RUNTIME (never through a link). *age_s gets the
 * seconds since it was last written or touched (may be NULL). 0; -ENOENT
 * when there is none (err untouched); -EINVAL or -errno with err. */
int pd_rtptr_read(int dfd, pd_rtptr *p, time_t *age_s, char *err, size_t errlen);
/* Touches dfd/PD_SF_RUNTIME (the controller's heartbeat). 0 or -errno. */
int pd_rtptr_touch(int dfd);

/* This host's name (gethostname; "localhost" if it has none). */
void pd_host_name(char *out, size_t outlen);

#endif
